/// One message of the compiler, parsed once where the compiler runs (`build`), for every
/// reader: the terminal prints `text`, a page places it in the cell its line is in, the
/// grader blames the exercise that line belongs to (`Program.cell(containing:)`).
public struct Diagnostic: Sendable, Equatable, Codable {
  /// How serious it is, as the compiler says.
  public enum Severity: String, Sendable, Codable {
    case error, warning, note, remark
  }

  /// The file it points into: the lesson, since the program maps its lines there.
  public var file: String
  /// The 1-based line.
  public var line: Int
  /// The 1-based column.
  public var column: Int
  /// Error, warning, note or remark.
  public var severity: Severity
  /// What the compiler said.
  public var message: String

  /// `FILE:LINE:COL: SEVERITY: MESSAGE`, as compilers write it.
  public var text: String { "\(file):\(line):\(column): \(severity.rawValue): \(message)" }

  /// A diagnostic from its parts.
  public init(file: String, line: Int, column: Int, severity: Severity, message: String) {
    self.file = file
    self.line = line
    self.column = column
    self.severity = severity
    self.message = message
  }

  /// The `FILE:LINE:COL: SEVERITY: MESSAGE` lines of a compiler's output, in order; the
  /// source excerpts and carets between them are left out. A file name may hold colons:
  /// the line is read from its severity leftwards.
  public static func parse(_ output: String) -> [Diagnostic] {
    output.split(separator: "\n").compactMap { line -> Diagnostic? in
      for severity in [Severity.error, .warning, .note, .remark] {
        guard let marker = line.range(of: ": \(severity.rawValue): ") else { continue }
        let location = line[..<marker.lowerBound].split(
          separator: ":", omittingEmptySubsequences: false)
        guard location.count >= 3, let number = Int(location[location.count - 2]),
          let column = Int(location[location.count - 1])
        else { continue }
        return Diagnostic(
          file: location.dropLast(2).joined(separator: ":"), line: number, column: column,
          severity: severity, message: String(line[marker.upperBound...]))
      }
      return nil
    }
  }
}

extension Program {
  /// The program cell whose code holds `diagnostic`'s line: the last cell from its file
  /// that starts at or before it.
  public func cell(containing diagnostic: Diagnostic) -> ProgramCell? {
    cells.last { $0.file == diagnostic.file && $0.line <= diagnostic.line }
  }
}
