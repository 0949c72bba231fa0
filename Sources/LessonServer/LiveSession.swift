import Foundation
import LessonKit

/// The page as it stands and the open pages following it: the latest full page, and the
/// messages of the run in progress, replayed to a page that connects mid-run.
public final class LiveSession: @unchecked Sendable {
  private let lock = NSLock()
  // Served with the script, so that a page opened before the first run follows it.
  private var page = LivePage.servedHTML(
    HTMLPage(
      html:
        "<!DOCTYPE html><html><head></head><body><main>\n<p>Compiling…</p></main></body></html>",
      notes: []))
  private var history: [String] = []
  private var followers: [UUID: AsyncStream<String>.Continuation] = [:]

  /// A session whose page says it is compiling.
  public init() {}

  /// The page to serve now.
  public var pageHTML: String { lock.withLock { page } }

  /// A run starts: the page becomes the lesson's new text without outputs, with what it
  /// may edit.
  public func startRun(_ pending: HTMLPage, editing: LivePage.Editing? = nil) {
    let message = LivePage.pageMessage(pending, editing: editing)
    lock.withLock {
      page = LivePage.servedHTML(pending, editing: editing)
      history = []
    }
    broadcast(message)
  }

  /// The run is over: the page becomes the finished one.
  public func finishRun(
    _ finished: HTMLPage, exercises: [ExerciseStatus], editing: LivePage.Editing? = nil
  ) {
    let message = LivePage.pageMessage(finished, exercises: exercises, editing: editing)
    lock.withLock {
      page = LivePage.servedHTML(finished, exercises: exercises, editing: editing)
    }
    broadcast(message)
  }

  /// Sends `message` to every page, and keeps it for pages that connect later in the run.
  public func broadcast(_ message: String) {
    let targets = lock.withLock {
      history.append(message)
      return Array(followers.values)
    }
    for follower in targets { follower.yield(message) }
  }

  /// The messages for a newly opened page: the current run's so far, then what comes.
  public func subscribe() -> AsyncStream<String> {
    let id = UUID()
    let (stream, continuation) = AsyncStream<String>.makeStream(bufferingPolicy: .unbounded)
    continuation.onTermination = { [weak self] _ in
      self?.lock.withLock { _ = self?.followers.removeValue(forKey: id) }
    }
    lock.withLock {
      for message in history { continuation.yield(message) }
      followers[id] = continuation
    }
    return stream
  }
}
