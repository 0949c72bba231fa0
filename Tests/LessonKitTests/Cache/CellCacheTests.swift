import Foundation
import LessonTestSupport
import LoRA
import Testing

@testable import LessonKit

/// Cached blocks: a hit gives the run an uncached run gives, bit for bit; a change to
/// what a block depends on is a miss; what a hit could not restore is refused; and grading
/// never reads a cache.
@Suite("Cached blocks", .serialized)
struct CellCacheTests {
  /// A folder for one test: the lesson, its data, the cache home and the folder of runs.
  struct Workspace {
    let folder: URL
    var cacheHome: URL { folder.appendingPathComponent("cache-home") }
    /// Where a block counts its runs: one empty folder each, outside the lesson's folder.
    /// The cache keeps and refuses files, not folders, so this is the one side effect a hit
    /// neither replays nor minds.
    var runs: URL { URL(fileURLWithPath: folder.path + "-runs") }
    /// A file outside the lesson's folder, for a block to write through the library.
    var outside: URL { URL(fileURLWithPath: folder.path + "-outside.safetensors") }
    var lesson: URL { folder.appendingPathComponent("fit.md") }
    var cells: URL { cacheHome.appendingPathComponent("lessons/cells") }

    init() throws {
      folder = FileManager.default.temporaryDirectory.appendingPathComponent("cells-\(UUID())")
      try FileManager.default.createDirectory(
        at: folder.appendingPathComponent("data"), withIntermediateDirectories: true)
      try "1 2 3 4".write(
        to: folder.appendingPathComponent("data/targets.txt"), atomically: true, encoding: .utf8)
      try FileManager.default.createDirectory(at: runs, withIntermediateDirectories: true)
      try CellCacheTests.fitLesson.write(to: lesson, atomically: true, encoding: .utf8)
    }

    /// Runs `lessons run fit.md --json` with this cache home; returns the exit status and
    /// the document.
    func run(
      _ extra: [String] = [], file: String = "fit.md", environment: [String: String] = [:]
    ) throws -> (Int32, String) {
      let result = try lessons(
        ["run", file, "--json"] + extra, in: folder,
        environment: [
          "XDG_CACHE_HOME": cacheHome.path, "CACHE_TEST_RUNS": runs.path,
          "CACHE_TEST_OUTSIDE": outside.path,
        ].merging(environment) { _, new in new })
      return (result.status, result.stdout)
    }

    /// How many times the block really ran: it makes a folder in `runs` each time.
    var computations: Int {
      ((try? FileManager.default.contentsOfDirectory(atPath: runs.path)) ?? []).count
    }

    func edit(_ old: String, _ new: String) throws {
      let text = try String(contentsOf: lesson, encoding: .utf8)
      #expect(text.contains(old))
      try text.replacingOccurrences(of: old, with: new).write(
        to: lesson, atomically: true, encoding: .utf8)
    }
  }

  /// A small lesson with the parts a cached block depends on: an earlier cell, a data file,
  /// the global generator, a module and an optimizer it restores, and a later cell that
  /// reads them.
  static let fitLesson = """
    # A cached fit

    ```swift
    Random.seed(3)
    let layer = Linear(3, 1)
    let optimizer = SGD(layer.parameters, learningRate: 0.05, momentum: 0.9)
    let steps = 30
    ```

    The fit.

    ```swift
    let runs = ProcessInfo.processInfo.environment["CACHE_TEST_RUNS"]
    let losses = try cached("fit", layer, optimizer) {
      if let runs {
        try FileManager.default.createDirectory(atPath: runs + "/\\(UUID())", withIntermediateDirectories: true)
      }
      let text = try String(contentsOfFile: "data/targets.txt", encoding: .utf8)
      let target = Tensor(shape: [4, 1], scalars: text.split(separator: " ").map { Float($0)! })
      let inputs = Tensor.randn([4, 3])
      var losses: [Float] = []
      for _ in progress(0..<steps, label: "fit") {
        let loss = layer(inputs).mseLoss(target)
        optimizer.zeroGrad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
      }
      print("loss \\(losses.first!) -> \\(losses.last!)")
      check(losses.last! < losses.first!, "the loss fell")
      table([["first", "\\(losses.first!)"]], headers: ["step", "loss"])
      return losses
    }
    ```

    ```swift
    print(layer.weight.scalars, layer.weight.grad!.scalars)
    optimizer.step()
    print(layer.weight.scalars)
    print(Tensor.randn([3]).scalars, losses.count)
    ```
    """

  /// The run's JSON document without its timings.
  static func withoutTimings(_ document: String) throws -> String {
    func strip(_ value: Any) -> Any {
      if let object = value as? [String: Any] {
        return object.filter { $0.key != "seconds" }.mapValues(strip)
      }
      if let array = value as? [Any] { return array.map(strip) }
      return value
    }
    let object = strip(try JSONSerialization.jsonObject(with: Data(document.utf8)))
    return String(
      decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]),
      as: UTF8.self)
  }

  /// The progress events' timings, which a hit replays as recorded.
  static func progressSeconds(_ document: String) throws -> [Double] {
    let object = try JSONSerialization.jsonObject(with: Data(document.utf8)) as! [String: Any]
    return (object["cells"] as! [[String: Any]]).flatMap { cell in
      (cell["events"] as! [[String: Any]]).compactMap { event in
        event["kind"] as? String == "progress" ? event["seconds"] as? Double : nil
      }
    }
  }

  @Test("a hit gives the uncached run's every output and number")
  func hitMatchesUncached() throws {
    let work = try Workspace()
    let (status, uncached) = try work.run(["--no-cache"])
    #expect(status == 0, "\(uncached)")
    #expect(!FileManager.default.fileExists(atPath: work.cells.path), "--no-cache wrote a cache")
    let (_, miss) = try work.run()
    let (_, hit) = try work.run()
    #expect(work.computations == 2, "the uncached run and the miss compute; the hit does not")
    #expect(try Self.withoutTimings(miss) == Self.withoutTimings(uncached))
    #expect(try Self.withoutTimings(hit) == Self.withoutTimings(uncached))
    // The hit replays the recorded progress, timings and all.
    #expect(try Self.progressSeconds(hit) == Self.progressSeconds(miss))
  }

  @Test(
    "a course lesson re-run from the cache is its cold run, bit for bit",
    arguments: Repository.cachingLessons)
  func courseLesson(name: String) throws {
    let cacheHome = FileManager.default.temporaryDirectory.appendingPathComponent("home-\(UUID())")
    let copy = try Repository.copyOfLesson(name)
    defer {
      try? FileManager.default.removeItem(at: cacheHome)
      try? FileManager.default.removeItem(at: copy)
    }
    func run(_ extra: [String]) throws -> String {
      let result = try lessons(
        ["run", name, "--json", "--timeout", "600"] + extra, in: copy,
        environment: Repository.recordingKernels.merging(["XDG_CACHE_HOME": cacheHome.path]) {
          $1
        })
      #expect(result.status == 0, "\(name): \(result.stdout.suffix(2000))\n\(result.stderr)")
      return result.stdout
    }
    // The cold run (every block computed and recorded) is also the course's "lesson runs
    // cleanly, and prints what its file records" for this lesson: its outputs are the ones
    // the lesson records, which an uncached run printed. (Runs without a cache are the
    // grader's: `CourseTests` grades every lesson's key.)
    let miss = try run(["--write"])
    let stale = try Repository.staleOutputs(name, rewrittenIn: copy)
    #expect(stale == nil, "\(stale ?? "")")
    let hit = try run([])
    #expect(try Self.withoutTimings(hit) == Self.withoutTimings(miss))
    #expect(try Self.progressSeconds(hit) == Self.progressSeconds(miss), "the hit recomputed")
  }

  @Test("an edit before the block, or in it, is a miss; after it, or in the prose, a hit")
  func invalidationByCode() throws {
    let work = try Workspace()
    _ = try work.run()
    #expect(work.computations == 1)
    try work.edit("print(Tensor.randn([3]).scalars, losses.count)", "print(losses.count)")
    _ = try work.run()
    #expect(work.computations == 1, "a later cell's edit must not recompute the block")
    try work.edit("The fit.", "The fit, with a longer sentence\nover two lines.")
    let (_, moved) = try work.run()
    #expect(work.computations == 1, "prose is not code")
    // The replayed check points at the block's line as it stands now.
    let checkLine = try lineNumber(of: "check(losses.last!", in: work.lesson)
    #expect(
      moved.contains("\"line\" : \(checkLine)"), "the check is at line \(checkLine):\n\(moved)")
    try work.edit("let steps = 30", "let steps = 31")
    _ = try work.run()
    #expect(work.computations == 2, "an earlier cell changed")
    try work.edit("label: \"fit\"", "label: \"fitting\"")
    _ = try work.run()
    #expect(work.computations == 3, "the block itself changed")
  }

  @Test("an edited data file is a miss")
  func invalidationByData() throws {
    let work = try Workspace()
    let (_, first) = try work.run()
    _ = try work.run()
    #expect(work.computations == 1)
    try "1 2 3 5".write(
      to: work.folder.appendingPathComponent("data/targets.txt"), atomically: true,
      encoding: .utf8)
    let (_, second) = try work.run()
    #expect(work.computations == 2)
    #expect(try Self.withoutTimings(first) != Self.withoutTimings(second))
  }

  @Test("a rebuilt library is a miss")
  func invalidationByLibrary() throws {
    // A copy of the runner with its library (and the module maps of its C targets) and the
    // helper that checks cached blocks: `lessons` finds them beside itself.
    let build = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    let work = try Workspace()
    let copy = work.folder.appendingPathComponent("build")
    try FileManager.default.createDirectory(at: copy, withIntermediateDirectories: true)
    for item in [
      "lessons", "lessons-syntax", supportLibraryName, "libLessonWriteHook.so", "Modules",
      "CKernels.build", "CProcessControl.build",
    ] {
      try FileManager.default.copyItem(
        at: build.appendingPathComponent(item), to: copy.appendingPathComponent(item))
    }
    func run() throws {
      let process = Process()
      process.executableURL = copy.appendingPathComponent("lessons")
      process.arguments = ["run", "fit.md", "--json"]
      process.currentDirectoryURL = work.folder
      process.environment = ProcessInfo.processInfo.environment.merging([
        "XDG_CACHE_HOME": work.cacheHome.path, "CACHE_TEST_RUNS": work.runs.path,
      ]) { _, new in new }
      process.standardOutput = FileHandle.nullDevice
      try process.run()
      process.waitUntilExit()
      #expect(process.terminationStatus == 0)
    }
    try run()
    try run()
    #expect(work.computations == 1)
    let library = copy.appendingPathComponent(supportLibraryName)
    // A library touched but the same is the same library: a hit.
    try FileManager.default.setAttributes(
      [.modificationDate: Date().addingTimeInterval(60)], ofItemAtPath: library.path)
    try run()
    #expect(work.computations == 1, "the same library's contents must not miss")
    // A rebuild that keeps the file's size and date is a miss: the key is its contents.
    // (The last byte is in the section headers, which the loader does not read.)
    let date = try FileManager.default.attributesOfItem(atPath: library.path)[.modificationDate]
    var bytes = try Data(contentsOf: library)
    bytes[bytes.count - 1] ^= 0xFF
    try bytes.write(to: library)
    try FileManager.default.setAttributes([.modificationDate: date!], ofItemAtPath: library.path)
    try run()
    #expect(work.computations == 2, "a changed library must miss")
  }

  @Test("a damaged cache entry is recomputed, never trusted")
  func damagedEntry() throws {
    let work = try Workspace()
    let (_, first) = try work.run()
    for entry in try FileManager.default.contentsOfDirectory(atPath: work.cells.path) {
      let state = work.cells.appendingPathComponent(entry).appendingPathComponent(
        "state.safetensors")
      let bytes = try Data(contentsOf: state)
      try bytes.prefix(bytes.count / 2).write(to: state)
    }
    let (status, second) = try work.run()
    #expect(status == 0)
    #expect(work.computations == 2)
    #expect(try Self.withoutTimings(first) == Self.withoutTimings(second))
  }

  @Test(
    "a block that uses an outer var does not compile; one that changes an unlisted module stops")
  func unrestorableState() throws {
    let work = try Workspace()
    try work.edit("let steps = 30", "var steps = 30")
    let (status, document) = try work.run()
    #expect(status == 2)
    let loopLine = try lineNumber(of: "progress(0..<steps", in: work.lesson)
    #expect(document.contains("fit.md:\(loopLine):25: error"), "\(document)")
    #expect(document.contains("uses `steps`, a var declared outside the block"))

    try work.edit("var steps = 30", "let steps = 30\nlet other = Linear(2, 2)")
    try work.edit(
      "    losses.append(loss.item())\n",
      "    losses.append(loss.item())\n    other.weight.copy(from: Tensor.zeros([2, 2]))\n")
    let (crashed, report) = try work.run()
    #expect(crashed == 2)
    #expect(
      report.contains("changed `other` (a Linear with 6 parameter values), which it does not list"),
      "\(report)")
  }

  @Test("a block that trains a tensor it does not list stops")
  func unlistedTensor() throws {
    let work = try Workspace()
    try """
    # Raw tensors

    ```swift
    let w = Tensor.randn([3], requiresGrad: true)
    let target = Tensor([1, 2, 3])
    let ok = try cached("listed", w) {
      (w - target).pow(2).sum().backward()
      return true
    }
    try cached("unlisted") {
      w.grad = nil
      (w * 2).sum().backward()
    }
    print(ok)
    ```
    """.write(to: work.lesson, atomically: true, encoding: .utf8)
    let (status, report) = try work.run()
    #expect(status == 2)
    #expect(
      report.contains("cached(\\\"unlisted\\\") changed `w` (a trainable tensor of shape [3]"),
      "\(report)")
    #expect(!report.contains("cached(\\\"listed\\\") changed"))
  }

  @Test("a block that changes a frozen tensor or an object it uses, unlisted, stops, naming it")
  func unlistedConstants() throws {
    let work = try Workspace()
    try """
    # Constants

    ```swift
    final class Tally { var count = 0 }
    let layer = Linear(2, 2)
    let frozen = Tensor([1, 2, 3])
    let tally = Tally()
    func bump() { tally.count += 1 }
    ```

    ```swift
    try cached("reads", layer) {
      print((frozen * 2).scalars, tally.count)
    }
    try cached("scales") {
      frozen.copy(from: frozen * 2)
    }
    ```
    """.write(to: work.lesson, atomically: true, encoding: .utf8)
    let (status, report) = try work.run()
    #expect(status == 2)
    #expect(
      report.contains(
        "cached(\\\"scales\\\") changed `frozen` (a tensor of shape [3] (its values or its "
          + "gradient)), which it does not list: pass it to cached"),
      "\(report)")
    #expect(!report.contains("cached(\\\"reads\\\") changed"))

    // Through a function, in an object that cannot be listed.
    try work.edit("frozen.copy(from: frozen * 2)", "bump()")
    let (bumped, bumpReport) = try work.run()
    #expect(bumped == 2)
    #expect(
      bumpReport.contains(
        "cached(\\\"scales\\\") changed `tally` (a Tally), which it does not list: a cache "
          + "hit could not restore it"),
      "\(bumpReport)")
  }

  @Test(
    "the files a block writes, by the library, Foundation or a child process, come back on a hit; one that removes a file or adds to one stops"
  )
  func writtenFiles() throws {
    let work = try Workspace()
    // Outside the lesson's folder: only the library's announcements and the write hook see them.
    let plain = URL(fileURLWithPath: work.folder.path + "-outside.txt")
    let child = URL(fileURLWithPath: work.folder.path + "-child.txt")
    let scratch = URL(fileURLWithPath: work.folder.path + "-scratch.txt")
    defer {
      for file in [work.outside, plain, child, scratch] {
        try? FileManager.default.removeItem(at: file)
      }
    }
    /// A path as the JSON document writes it.
    func json(_ file: URL) -> String { file.path.replacingOccurrences(of: "/", with: "\\/") }
    try """
    # Files

    ```swift
    let layer = Linear(2, 2)
    let outside = URL(fileURLWithPath: ProcessInfo.processInfo.environment["CACHE_TEST_OUTSIDE"]!)
    let runs = ProcessInfo.processInfo.environment["CACHE_TEST_RUNS"]!
    ```

    ```swift
    try cached("save", layer) {
      try FileManager.default.createDirectory(atPath: runs + "/\\(UUID())", withIntermediateDirectories: true)
      try FileManager.default.createDirectory(atPath: "out", withIntermediateDirectories: true)
      try "saved \\(layer.weight.shape)".write(toFile: "out/report.txt", atomically: true, encoding: .utf8)
      try Safetensors(tensors: ["w": layer.weight], metadata: [:]).write(to: outside)
      try "by Foundation".write(toFile: "\(plain.path)", atomically: false, encoding: .utf8)
      _ = system("echo by a child > '\(child.path)'")
    }
    print(try String(contentsOfFile: "out/report.txt", encoding: .utf8))
    print(try Safetensors(contentsOf: outside).tensors["w"]!.scalars == layer.weight.scalars)
    ```
    """.write(to: work.lesson, atomically: true, encoding: .utf8)
    try "keep".write(
      to: work.folder.appendingPathComponent("scratch.txt"), atomically: true, encoding: .utf8)
    try "keep".write(to: scratch, atomically: true, encoding: .utf8)
    let report = work.folder.appendingPathComponent("out/report.txt")
    let (status, first) = try work.run()
    #expect(status == 0, "\(first)")
    #expect(work.computations == 1)
    let weights = try Data(contentsOf: work.outside)
    // Gone before the next run, which is a hit: all come back as the block wrote them.
    for file in [report, work.outside, plain, child] {
      try FileManager.default.removeItem(at: file)
    }
    let (hit, second) = try work.run()
    #expect(hit == 0, "\(second)")
    #expect(work.computations == 1, "the block did not run again")
    #expect(try String(contentsOf: report, encoding: .utf8) == "saved [2, 2]")
    #expect(try Data(contentsOf: work.outside) == weights)
    #expect(try String(contentsOf: plain, encoding: .utf8) == "by Foundation")
    #expect(try String(contentsOf: child, encoding: .utf8) == "by a child\n")
    #expect(try Self.withoutTimings(first) == Self.withoutTimings(second))

    // More than a quarter of a 1 MiB cache: run, said, not cached.
    try work.edit(
      "metadata: [:]).write(to: outside)",
      "metadata: [:]).write(to: outside)\n  try Data(count: 300_000).write(to: URL(fileURLWithPath: \"out/big.bin\"))"
    )
    for round in 1...2 {
      let (big, document) = try work.run(environment: ["LESSONS_CELL_CACHE_MB": "1"])
      #expect(big == 0)
      #expect(work.computations == 1 + round)
      #expect(document.contains("is not cached: the files it writes ("), "\(document)")
      #expect(document.contains("big.bin"))
    }

    // What a hit could not redo, done by a child process outside the lesson's folder.
    try work.edit(
      "try cached(\"save\", layer) {",
      "try cached(\"save\", layer) {\n  _ = system(\"rm '\(scratch.path)'\")")
    let (removed, refusal) = try work.run()
    #expect(removed == 2)
    #expect(
      refusal.contains(
        "cached(\\\"save\\\") removed \(json(scratch)), which a cache hit could not remove again"),
      "\(refusal)")
    try work.edit("_ = system(\"rm ", "_ = system(\"echo more >> ")
    try "keep".write(to: scratch, atomically: true, encoding: .utf8)
    let (added, addition) = try work.run()
    #expect(added == 2)
    #expect(
      addition.contains(
        "cached(\\\"save\\\") added to \(json(scratch)) or changed it in place, which a cache hit could not do again"
      ), "\(addition)")
  }

  @Test("a block whose value holds NaN and infinities caches it")
  func nonFiniteValues() throws {
    let work = try Workspace()
    try """
    # A diverged loss

    ```swift
    let losses: [Float] = try cached("diverged") { [1, .infinity, -.infinity, .nan] }
    print(losses)
    ```
    """.write(to: work.lesson, atomically: true, encoding: .utf8)
    let (status, miss) = try work.run()
    let (_, hit) = try work.run()
    #expect(status == 0, "\(miss)")
    #expect(miss.contains("[1.0, inf, -inf, nan]"), "\(miss)")
    #expect(try Self.withoutTimings(hit) == Self.withoutTimings(miss))
    #expect(try FileManager.default.contentsOfDirectory(atPath: work.cells.path).count == 1)
  }

  @Test("grading ignores a cache, even one a submission wrote")
  func gradingIgnoresTheCache() throws {
    let work = try Workspace()
    let key = Self.fitLesson.replacingOccurrences(
      of: "print(Tensor.randn([3]).scalars, losses.count)",
      with: """
        print(losses.count)
        ```

        ```swift exercise id=count points=1
        let answer = 0
        ```

        ```swift solution for=count
        let answer = losses.count
        ```

        ```swift check for=count
        checkEqual(answer, 30, "one loss per step")
        """)
    try key.write(
      to: work.folder.appendingPathComponent("key.md"), atomically: true, encoding: .utf8)
    let submission = key.replacingOccurrences(
      of: "let answer = 0", with: "let answer = losses.count")
    try submission.write(to: work.lesson, atomically: true, encoding: .utf8)
    // The submission's own run fills the cache; then it poisons the entry: ten losses, and
    // the checksum made again, as anyone who reads the runtime's code can.
    _ = try work.run()
    for entry in try FileManager.default.contentsOfDirectory(atPath: work.cells.path) {
      let folder = work.cells.appendingPathComponent(entry)
      let file = folder.appendingPathComponent("entry.json")
      var object = try JSONSerialization.jsonObject(with: Data(contentsOf: file)) as! [String: Any]
      object["result"] = Data("[1,1,1,1,1,1,1,1,1,1]".utf8).base64EncodedString()
      let poisoned = try JSONSerialization.data(withJSONObject: object)
      try poisoned.write(to: file)
      var hash = StateHash()
      hash.add(poisoned)
      hash.add(try Data(contentsOf: folder.appendingPathComponent("state.safetensors")))
      try Data(hash.hex.utf8).write(to: folder.appendingPathComponent("checksum"))
    }
    let (poisonedStatus, poisoned) = try work.run()
    #expect(poisonedStatus == 1, "run reads the cache, so the check fails:\n\(poisoned)")
    let graded = try lessons(
      ["grade", "fit.md", "--key", "key.md", "--json"], in: work.folder,
      environment: [
        "XDG_CACHE_HOME": work.cacheHome.path, "CACHE_TEST_RUNS": work.runs.path,
        "LESSONS_CELL_CACHE": work.cells.path,
      ])
    // The grade's report (LessonGrading's `GradeReport`), read as JSON.
    let report = try #require(
      try JSONSerialization.jsonObject(with: Data(graded.stdout.utf8)) as? [String: Any])
    #expect(
      report["score"] as? Int != nil && report["score"] as? Int == report["maxScore"] as? Int,
      "\(graded.stdout)")
  }
}

/// The 1-based line of the first line of `file` that contains `text`.
private func lineNumber(of text: String, in file: URL) throws -> Int {
  let lines = try String(contentsOf: file, encoding: .utf8).components(separatedBy: "\n")
  return try #require(lines.firstIndex { $0.contains(text) }) + 1
}
