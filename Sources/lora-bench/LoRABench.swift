import ArgumentParser
import Foundation
import LoRA

/// Measures the library's speed and prints Markdown tables, with PyTorch's figures from the
/// reference scripts beside ours when a Python with PyTorch is given.
@main
struct LoRABench: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "lora-bench",
    subcommands: [Tables.self, GPTStep.self, GPT2Step.self],
    defaultSubcommand: Tables.self)
}

/// The benchmark tables.
struct Tables: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "tables",
    abstract: "Benchmark the LoRA library: matrix products, element-wise ops, the toy fit.",
    discussion: """
      Build in release for meaningful figures: swift run -c release lora-bench
      With --python, the PyTorch reference (shared/reference/toy_fit.py) runs in the same
      session and its figure is printed beside ours.
      """)

  @Option(
    help: """
      Sections to run: matmul, elementwise, toy, gpt, gpt2, runner, rerun, scaling, grading \
      (default: all but scaling, which compiles a 10,000-cell lesson, and grading, which grades a class \
      of --class-size submissions; each takes several minutes).
      """)
  var only: [Section] = Section.allCases.filter { $0 != .scaling && $0 != .grading }

  @Option(help: "A Python with PyTorch installed, to run the reference scripts.")
  var python: String?

  @Option(help: "The folder holding the reference scripts.")
  var reference = "../shared/reference"

  @Option(help: "Threads for the PyTorch reference.")
  var threads = 2

  @Option(
    help: """
      Processes per GPT configuration, ours and PyTorch's taken in turn; the table shows the \
      median of their figures and, for times, the fastest in brackets.
      """)
  var repeats = 3

  @Option(help: "The course's folder, for the rerun section.") var lessons = "Lessons"
  @Option(help: "Submissions in the grading section's class.") var classSize = 200
  @Option(help: "Lesson sizes, in cells and in formulas, for the scaling section.")
  var sizes: [Int] = [10, 100, 1_000, 10_000]

  enum Section: String, CaseIterable, ExpressibleByArgument {
    case matmul, elementwise, toy, gpt, gpt2, runner, rerun, scaling, grading
  }

  func run() throws {
    #if DEBUG
      print("warning: this is a debug build; use `swift run -c release lora-bench`\n")
    #endif
    Random.seed(0)
    if only.contains(.matmul) {
      print("## Matrix products (square N × N, float32)\n")
      print(benchmarkMatmul(sizes: [64, 128, 256, 512, 1024]).render() + "\n")
    }
    if only.contains(.elementwise) {
      print("## Element-wise operations and reductions\n")
      print(MachineReport.current().paragraph + "\n")
      print(benchmarkElementwise().render() + "\n")
    }
    if only.contains(.toy) {
      print("## The y = Wx + 5 toy fit (100 Adam steps, rank-4 LoRA on a frozen 100×100)\n")
      let ours = benchmarkToyFit()
      var speedUp: String?
      var table = MarkdownTable("implementation", "median ms / 100 steps", "final loss")
      table.add(
        "LoRA (this library)", fixed(ours.milliseconds, 2), String(format: "%.6f", ours.finalLoss))
      if let python {
        switch runProcess(
          python, [reference + "/toy_fit.py", "--threads", "\(threads)", "--runs", "11"])
        {
        case .success(let output):
          let milliseconds = number(after: "median wall time of 100 steps:", in: output)
          let loss = number(after: "final     loss", in: output)
          table.add(
            "PyTorch \(threads) threads (toy_fit.py)", milliseconds.map { fixed($0, 2) } ?? "?",
            loss.map { String(format: "%.6f", $0) } ?? "?")
          if let milliseconds {
            speedUp = "Speed-up over PyTorch: \(fixed(milliseconds / ours.milliseconds))×"

          }
        case .failure(let error):
          print("PyTorch reference skipped: \(error)\n")
        }
      }
      print(table.render() + "\n")
      if let speedUp { print(speedUp + "\n") }
    }
    if only.contains(.gpt) {
      print("## GPT training step (forward, cross-entropy, backward, AdamW) and generation\n")
      let limit = MachineLimit.measure()
      print(limit.summary + "\n")
      for table in benchmarkGPT(
        python: python, reference: reference, threads: threads, repeats: repeats, limit: limit)
      {
        print(table.render() + "\n")
      }
    }
    if only.contains(.gpt2) {
      print("## GPT-2 (transformers' shapes, random weights): LoRA and full steps, generation\n")
      let limit = MachineLimit.measure()
      print(limit.summary + "\n")
      for table in benchmarkGPT2(
        python: python, reference: reference, threads: threads, repeats: repeats, limit: limit)
      {
        print(table.render() + "\n")
      }
    }
    if only.contains(.runner) {
      print("## The lesson runner\n")
      print(benchmarkRunner().render() + "\n")
    }
    if only.contains(.rerun) {
      print("## Editing the last cell of a fine-tuning lesson and running it again\n")
      let names = ["03-gpt-lora-finetune.md", "04-merge-and-switch.md"]
      print(benchmarkCachedRerun(lessons: lessons, names: names).render() + "\n")
    }
    if only.contains(.grading) {
      print("## Grading a class (whole `lessons grade DIR` commands)\n")
      print(benchmarkGrading(size: classSize).render() + "\n")
    }
    if only.contains(.scaling) {
      print("## How the runner scales with a lesson's size (seconds per whole command)\n")
      for table in benchmarkScaling(sizes: sizes) { print(table.render() + "\n") }
    }
  }
}
