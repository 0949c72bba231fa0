import Foundation

/// The code editor of the served page: CodeMirror 5 with its Swift mode, from Debian's
/// `libjs-codemirror` (which `Scripts/bootstrap --pages` installs), served by the page's
/// own server, so that editing needs no network. Without it the page edits in a plain text
/// area.
public enum EditorAssets {
  /// CodeMirror's folder, when it is installed.
  public static let folder: String? = [
    "/usr/share/javascript/codemirror", "/usr/local/share/javascript/codemirror",
  ].first { FileManager.default.fileExists(atPath: $0 + "/lib/codemirror.js") }

  /// The file the page asks for as `/assets/NAME`, with its content type; nil for any other
  /// name (nothing else of the disk is served).
  public static func file(named name: String) -> (path: String, type: String)? {
    guard let folder else { return nil }
    switch name {
    case "codemirror.js": return (folder + "/lib/codemirror.js", "text/javascript")
    case "codemirror.css": return (folder + "/lib/codemirror.css", "text/css")
    case "swift.js": return (folder + "/mode/swift/swift.js", "text/javascript")
    default: return nil
    }
  }

  /// What the page's `<head>` loads for the editor.
  static var headHTML: String {
    guard folder != nil else { return "" }
    return """
      <link rel="stylesheet" href="/assets/codemirror.css">
      <script src="/assets/codemirror.js"></script>
      <script src="/assets/swift.js"></script>

      """
  }
}
