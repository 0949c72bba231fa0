import Foundation
import LessonKit

/// How far a lesson got: parse → plan → build → run.
enum Execution {
  /// It could not be read, built or started; `status` is the JSON report's.
  case failed(status: String, message: String)
  /// It did not compile.
  case didNotCompile(Lesson, diagnostics: String)
  /// It ran, to the end or not.
  case ran(Lesson, RunResult)
}

/// Reads, compiles and runs the lesson at `path`, in the lesson's folder, drawing a live
/// progress bar on standard error when `live`; inside a sandbox with `sandbox`'s limits
/// when it is given.
func execute(
  lessonAt path: String, limits: RunLimits, sandbox: SandboxOptions? = nil, useCache: Bool,
  live: Bool
) -> Execution {
  let parsed: Lesson
  do {
    parsed = try readLesson(at: path)
    guard !parsed.executableCells.isEmpty else {
      throw LessonError(file: path, "has no swift cells to run")
    }
  } catch {
    return .failed(status: "invalid", message: "\(error)")
  }
  let program = plan(parsed)
  let executable: Executable
  var limits = limits
  do {
    let toolchain = try Toolchain.locate()
    if let sandbox {
      limits = try sandbox.apply(to: limits, lesson: parsed, toolchain: toolchain)
    }
    executable = try build(
      program, toolchain: toolchain, cacheDirectory: toolchain.libraryDirectory + "/lesson-cache",
      useCache: useCache)
  } catch let error as BuildError {
    return .didNotCompile(parsed, diagnostics: error.diagnostics)
  } catch {
    return .failed(status: "invalid", message: "\(error)")
  }
  do {
    RunningProgram.forwardInterrupts()
    let result = try LessonKit.run(
      executable, program: program, limits: limits,
      directory: URL(fileURLWithPath: path).deletingLastPathComponent().path,
      onProgress: live ? { showLiveProgress($0) } : nil)
    if live { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    var explained = result
    if case .crashed(let cell, let reason) = result.status,
      let hint = unsolvedExerciseHint(parsed, result)
    {
      explained.status = .crashed(cell: cell, reason: reason + "; " + hint)
    }
    return .ran(parsed, explained)
  } catch {
    return .failed(status: "crashed", message: "\(error)")
  }
}

/// The exit code a finished or stopped run earns.
func lessonExit(of result: RunResult) -> LessonExit {
  switch result.status {
  case .finished: return result.checks.allSatisfy(\.passed) ? .success : .checkFailed
  case .crashed, .timedOut: return .couldNotRun
  }
}

/// Redraws a progress bar in place on standard error, with rate and time left.
func showLiveProgress(_ event: RuntimeEvent) {
  guard case .progress(let label, let done, let total, let seconds) = event else { return }
  var line = progressLine(label: label, done: done, total: total, seconds: seconds)
  if done > 0, total > done, seconds > 0 {
    line += String(format: " · ETA %.0f s", seconds / Double(done) * Double(total - done))
  }
  FileHandle.standardError.write(Data(("\r\u{1B}[K" + line).utf8))
}
