import ArgumentParser

/// The `lessons` command. Its subcommands (run, export, grade, list) arrive with the runner.
@main
struct Lessons: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Run, export and grade Markdown lessons on LoRA.",
    discussion: "The lesson runner is not built yet; try `swift run -c release toy-fit`.")

  func run() throws {
    print(Self.helpMessage())
  }
}
