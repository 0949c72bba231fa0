import ArgumentParser
import Foundation
import LessonKit
import LessonsCLI
import LoRA

/// `lessons doctor`: what this machine gives the lessons, and what is missing, each with what
/// it is for. The first thing to run when something is slow or absent.
struct Doctor: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Show the CPU, the kernels and BLAS chosen for it, and the tools the lessons use.",
    discussion: """
      The CPU's model and vector extensions; the level of the library's own kernels (limit it \
      with LORA_ISA=avx512|avx2|baseline); the BLAS, its kernels and why they were chosen \
      (LORA_BLAS=openblas|blis|mkl picks another); a two-second matrix product; the Swift \
      toolchain; and Node.js, KaTeX, highlight.js, Chromium and bubblewrap.
      """)

  @Option(help: "Seconds for the matrix product figure (0 skips it).")
  var seconds: Double = 2

  func run() throws {
    let machine = MachineReport.current()
    var rows = machine.facts.map { [$0.label, $0.text] }
    if seconds > 0 {
      let rate = machine.blas.measureGFLOPS(n: 1024, seconds: seconds)
      rows.append([
        "sgemm",
        String(format: "%.0f GFLOP/s", rate)
          + " (1024 × 1024 × 1024 on \(machine.cores) cores, best of \(fixedSeconds(seconds)))",
      ])
    }
    rows += tools().map { [$0.name, $0.status] }
    let width = rows.map { $0[0].count }.max() ?? 0
    for row in rows {
      print(row[0].padding(toLength: width, withPad: " ", startingAt: 0) + "  " + row[1])
    }
  }

  private func fixedSeconds(_ value: Double) -> String {
    value == value.rounded() ? "\(Int(value)) s" : String(format: "%.1f s", value)
  }
}

/// One outside tool: where it is (or that it is missing) and what it is for.
struct Tool {
  var name: String
  var status: String
}

/// The toolchain and the programs the lessons call.
func tools() -> [Tool] {
  let environment = ProcessInfo.processInfo.environment
  let path = (environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":").map(String.init)
  func find(_ names: [String]) -> String? {
    names.lazy.flatMap { name in path.lazy.map { "\($0)/\(name)" } }
      .first { FileManager.default.isExecutableFile(atPath: $0) }
  }
  /// The first line `program --version` prints.
  func version(_ program: String) -> String {
    let output = (try? runTool(program, ["--version"]))?.output ?? ""
    return output.split(separator: "\n").first.map(String.init) ?? ""
  }
  var tools: [Tool] = []
  let swiftc = environment["SWIFTC"] ?? find(["swiftc"])
  tools.append(
    Tool(
      name: "Swift",
      status: swiftc.map { "\(version($0)) (compiles every lesson)" }
        ?? "missing: every lesson compiles with it (https://swift.org/install)"))
  let typesetter = Typesetter.locate()
  func module(_ name: String) -> String? {
    typesetter?.modulePaths.map { "\($0)/\(name)" }
      .first { FileManager.default.fileExists(atPath: $0) }
  }
  tools.append(
    Tool(
      name: "Node.js",
      status: typesetter.map { "\($0.node) \(version($0.node)) (runs KaTeX and highlight.js)" }
        ?? "missing: pages show TeX and plain code (apt-get install nodejs)"))
  tools.append(
    Tool(
      name: "KaTeX",
      status: module("katex").map { "\($0) (typesets formulas in exported pages)" }
        ?? "missing: exported pages show formulas as TeX (apt-get install katex)"))
  tools.append(
    Tool(
      name: "highlight.js",
      status: module("highlight.js").map { "\($0) (colours code in exported pages)" }
        ?? "missing: exported pages show plain code (apt-get install node-highlight.js)"))
  let chromium = find(["chromium-headless-shell", "chromium", "google-chrome"])
  tools.append(
    Tool(
      name: "Chromium",
      status: chromium.map { "\($0) (opens exported pages in the tests)" }
        ?? "missing: only the tests need it (apt-get install chromium-headless-shell)"))
  let bubblewrap: String
  do {
    bubblewrap = "\(try Sandbox.locateBubblewrap()) (the sandbox of `grade` and `run --sandbox`)"
  } catch {
    bubblewrap = "\(error)"
  }
  tools.append(Tool(name: "bubblewrap", status: bubblewrap))
  return tools
}
