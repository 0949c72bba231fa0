/// A check of a program that the compiler does not make, run before it. The runner's is
/// `cachedBlockReview` (LessonSyntax), which reads the cells with swift-syntax.
public typealias ProgramCheck = @Sendable (Program) -> ProgramReview

/// What a check found in a program: problems, each a diagnostic at its `LESSON.md:LINE:COL`,
/// and code to add before it compiles.
public struct ProgramReview: Sendable, Equatable, Codable {
  /// The problems; any error stops the build.
  public var diagnostics: [Diagnostic]
  /// Code the program gains (`Program.inserting`), which changes no line of it.
  public var insertions: [SourceInsertion]

  /// A review from its parts.
  public init(diagnostics: [Diagnostic] = [], insertions: [SourceInsertion] = []) {
    self.diagnostics = diagnostics
    self.insertions = insertions
  }
}

/// Text to add to one cell's code at one place: on the line it is on, so that no line of the
/// lesson moves.
public struct SourceInsertion: Sendable, Equatable, Codable {
  /// The cell's index in `Program.cells`.
  public var cell: Int
  /// Where, in UTF-8 bytes from the start of the cell's code.
  public var offset: Int
  /// What.
  public var text: String

  /// An insertion from its parts.
  public init(cell: Int, offset: Int, text: String) {
    self.cell = cell
    self.offset = offset
    self.text = text
  }
}
