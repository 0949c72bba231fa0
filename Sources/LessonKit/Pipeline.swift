import Foundation

/// The runner's pipeline, as `lessons run`, `watch`, `serve` and `export --html` use it:
/// read the lesson (`Parse/`), plan its program and compile it (`Compile/`), run it under
/// the supervisor (`Run/`, in `Sandbox/` when asked), and hand back a `LessonOutcome` for
/// the renderers (`Render/`). The grader (LessonGrading) uses the second half,
/// `Compiler.buildAndRun`, on programs of its own.
public struct LessonPipeline: Sendable {
  /// The run's limits; with `sandboxed`, its `cpuTime` and `fileSize` too.
  public var limits: RunLimits
  /// Run inside the grader's sandbox, which sees only the lesson's data files.
  public var sandboxed: Bool
  /// Where the lesson's `cached` blocks keep what they did; `nil` recomputes them and
  /// compiles afresh (`--no-cache`). Not used in the sandbox.
  public var cellCache: CellCache?
  /// Checked before the compiler: what it cannot see (`cachedBlockReview`).
  public var check: ProgramCheck?

  /// A pipeline with these limits.
  public init(
    limits: RunLimits, sandboxed: Bool = false, cellCache: CellCache? = nil,
    check: ProgramCheck? = nil
  ) {
    self.limits = limits
    self.sandboxed = sandboxed
    self.cellCache = cellCache
    self.check = check
  }

  /// Reads, plans, compiles and runs the lesson at `path`, in the lesson's folder.
  /// `observer` sees the run's events as they happen, from `.started` to `.stopped`.
  public func execute(
    lessonAt path: String, observer: RunObserver? = nil, cancellation: Cancellation? = nil
  ) -> LessonOutcome {
    let lesson: Lesson
    let compiler: Compiler
    var limits = limits
    do {
      lesson = try Lesson(contentsOf: path)
      guard !lesson.executableCells.isEmpty else {
        throw LessonError(file: path, "has no swift cells to run")
      }
      let toolchain = try Toolchain.locate()
      compiler = Compiler(toolchain: toolchain, check: check)
      if sandboxed { limits = try limits.confined(to: lesson, toolchain: toolchain) }
    } catch {
      return .notRun(LessonError(path, error))
    }
    RunningProgram.forwardInterrupts()
    let useCache = cellCache != nil
    let outcome = compiler.buildAndRun(
      Program(lesson), of: lesson, limits: limits,
      directory: URL(fileURLWithPath: path).deletingLastPathComponent().path, useCache: useCache,
      environment: sandboxed
        ? [:] : cellCache?.environment(for: lesson, toolchain: compiler.toolchain) ?? [:],
      observer: observer, cancellation: cancellation)
    // A hand-out's crash after an unsolved exercise says which exercise to look at.
    guard case .ran(let lesson, var result) = outcome else { return outcome }
    result.suspect = UnsolvedExercise(suspectedIn: lesson, result)
    return .ran(lesson, result)
  }
}

extension Compiler {
  /// Compiles `program` (made from `lesson`, or from a key and a submission), or finds it
  /// in the cache, and runs it in `directory`: the half of the pipeline that
  /// `LessonPipeline`, the grader's attempts and the key's own run share. `environment` is
  /// added to the program's (outside a sandbox). `observer` sees `.started(lesson)` once
  /// the program is built, then the run's events.
  public func buildAndRun(
    _ program: Program, of lesson: Lesson, limits: RunLimits, directory: String,
    useCache: Bool = true, environment: [String: String] = [:], observer: RunObserver? = nil,
    cancellation: Cancellation? = nil
  ) -> LessonOutcome {
    let executable: Executable
    do {
      executable = try build(program, useCache: useCache) { observer?(.compiling(lesson)) }
    } catch let error as BuildError {
      return .didNotCompile(lesson, error)
    } catch {
      return .notRun(LessonError(lesson.path, error))
    }
    if cancellation?.isCancelled == true {
      return .notRun(LessonError(file: lesson.path, "the run was cancelled"))
    }
    observer?(.started(lesson))
    var supervisor = Supervisor(limits: limits, directory: directory, environment: environment)
    supervisor.writeHook = toolchain.writeHook
    do {
      return .ran(
        lesson,
        try supervisor.run(
          executable, program: program, observer: observer, cancellation: cancellation))
    } catch {
      return .ran(
        lesson,
        RunResult(
          status: .stopped(cell: nil, cause: .couldNotStart("\(error)")), cells: [], seconds: 0))
    }
  }
}

extension LessonError {
  /// `error` as it is, when it is a `LessonError`; otherwise its words, at `file`.
  init(_ file: String, _ error: Error) {
    self = error as? LessonError ?? LessonError(file: file, "\(error)")
  }
}
