import Foundation

/// Reads, plans, compiles and runs the lesson at `path`, in the lesson's folder: the
/// pipeline of `lessons run` and `lessons export --html`.
///
/// - Parameters:
///   - limits: the run's limits; with `sandboxed`, its `cpuTime` and `fileSize` too.
///   - sandboxed: run inside the grader's sandbox, which sees only the lesson's data files.
///   - onProgress: called about ten times a second with the running progress bar.
///   - onStart: called with the lesson once it compiled, before it runs.
///   - onLive: called with what the program does, as it does it.
///   - isCancelled: once it says yes, the program does not start, or is stopped.
///   - cellCache: where the lesson's `cached` blocks keep what they did; used only with
///     `useCache` and outside the sandbox.
public func execute(
  lessonAt path: String, limits: RunLimits, sandboxed: Bool = false, useCache: Bool = true,
  cellCache: CellCache? = nil, onProgress: ((RuntimeEvent) -> Void)? = nil,
  onStart: ((Lesson) -> Void)? = nil,
  onLive: ((LiveItem) -> Void)? = nil, isCancelled: (() -> Bool)? = nil
) -> LessonOutcome {
  let lesson: Lesson
  let toolchain: Toolchain
  var limits = limits
  do {
    lesson = try readLesson(at: path)
    guard !lesson.executableCells.isEmpty else {
      throw LessonError(file: path, "has no swift cells to run")
    }
    toolchain = try Toolchain.locate()
    if sandboxed { limits = try limits.confined(to: lesson, toolchain: toolchain) }
  } catch {
    return .notRun("\(error)")
  }
  RunningProgram.forwardInterrupts()
  let outcome = buildAndRun(
    plan(lesson), of: lesson, toolchain: toolchain, cacheDirectory: toolchain.cacheDirectory,
    limits: limits,
    directory: URL(fileURLWithPath: path).deletingLastPathComponent().path, useCache: useCache,
    environment: useCache && !sandboxed
      ? cellCache?.environment(for: lesson, toolchain: toolchain) ?? [:] : [:],
    onProgress: onProgress, onStart: onStart, onLive: onLive, isCancelled: isCancelled)
  // A hand-out's crash after an unsolved exercise says which exercise to look at.
  if case .ran(let lesson, var result) = outcome,
    case .crashed(let cell, let reason) = result.status,
    let hint = unsolvedExerciseHint(lesson, result)
  {
    result.status = .crashed(cell: cell, reason: reason + "; " + hint)
    return .ran(lesson, result)
  }
  return outcome
}

/// Compiles `program` (made from `lesson`, or from a key and a submission), or finds it in
/// the build cache in `cacheDirectory`, and runs it in `directory`: the half of the
/// pipeline that `execute`, the grader's attempts and the key's own run share.
/// `environment` is added to the program's (outside a sandbox).
public func buildAndRun(
  _ program: Program, of lesson: Lesson, toolchain: Toolchain, cacheDirectory: String,
  limits: RunLimits,
  directory: String, useCache: Bool = true, environment: [String: String] = [:],
  onProgress: ((RuntimeEvent) -> Void)? = nil,
  onStart: ((Lesson) -> Void)? = nil, onLive: ((LiveItem) -> Void)? = nil,
  isCancelled: (() -> Bool)? = nil
) -> LessonOutcome {
  let executable: Executable
  do {
    executable = try build(
      program, toolchain: toolchain, cacheDirectory: cacheDirectory, useCache: useCache)
  } catch let error as BuildError {
    return .didNotCompile(lesson, error)
  } catch {
    return .notRun("\(error)")
  }
  if isCancelled?() == true { return .notRun("\(lesson.path): the run was cancelled") }
  onStart?(lesson)
  do {
    return .ran(
      lesson,
      try run(
        executable, program: program, limits: limits, directory: directory,
        environment: environment, onProgress: onProgress, onLive: onLive, isCancelled: isCancelled))
  } catch {
    return .ran(
      lesson,
      RunResult(
        status: .crashed(cell: nil, reason: "the program could not be started: \(error)"),
        cells: [], seconds: 0))
  }
}
