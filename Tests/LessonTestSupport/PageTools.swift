import Foundation

/// The first Chromium on `PATH`.
public let chromiumPath: String? = {
  let folders = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":")
  for name in ["chromium-headless-shell", "chromium", "google-chrome", "chrome"] {
    for folder in folders where FileManager.default.isExecutableFile(atPath: "\(folder)/\(name)") {
      return "\(folder)/\(name)"
    }
  }
  return nil
}()
/// Whether a missing tool fails the tests that need it rather than skipping them.
public let pageToolsRequired =
  ProcessInfo.processInfo.environment["LESSONS_REQUIRE_PAGE_TOOLS"] == "1"
