import SwiftParser
import SwiftSyntax

/// Why a student's exercise cell may not be compiled into the key's program, found in its
/// syntax tree: anything by which it could change what the key's other cells mean, rather
/// than what they compute.
///
/// An exercise cell may not:
/// - fail to parse on its own (an unclosed brace or comment would swallow the cells after
///   it);
/// - declare, at the top level, a name that the lesson's other cells use and that the key's
///   own version of the exercise does not declare (`func check`, `let numbers`, `enum LoRA`),
///   which would shadow the library's or the lesson's meaning of it;
/// - extend a type it does not declare itself, or declare an operator (`extension Float
///   { static func == ... }` would change every later comparison);
/// - import a module, use an underscored attribute (`@_silgen_name`, `@_cdecl`,
///   `@_dynamicReplacement`) or a `#sourceLocation`, or name the runtime's internal
///   `_lesson...` entry points;
/// - silence Swift's check of unsafe code: an `unsafe` expression, `@unsafe` or `@safe`.
///
/// - Parameters:
///   - source: the exercise cell's code.
///   - protectedNames: names the lesson's other cells use.
///   - ownNames: names the key's stub and solution of this exercise declare at the top level.
/// - Returns: one sentence per problem, empty when the cell may be graded.
public func screenExercise(_ source: String, protectedNames: Set<String>, ownNames: Set<String>)
  -> [String]
{
  let tree = Parser.parse(source: source)
  if tree.hasError {
    return [
      "it does not parse on its own (an unclosed brace, bracket, string or comment?); "
        + "an exercise cell must be complete code"
    ]
  }
  var problems: [String] = []
  let declared = TopLevelDeclaration.all(in: tree)
  let declaredTypes = Set(declared.filter(\.isType).map(\.name))
  for declaration in declared {
    if let extended = declaration.extendedType {
      if !declaredTypes.contains(extended) {
        problems.append(
          "it extends `\(extended)`, which it does not declare: an exercise may not change "
            + "what the lesson's other cells see")
      }
    } else if declaration.isOperator {
      problems.append("it declares the operator `\(declaration.name)`")
    } else if (protectedNames.contains(declaration.name) && !ownNames.contains(declaration.name))
      || alwaysProtected.contains(declaration.name)
    {
      problems.append(
        "it declares `\(declaration.name)`, a name the lesson's other cells use; rename it")
    }
  }
  let visitor = ForbiddenSyntax(viewMode: .sourceAccurate)
  visitor.walk(tree)
  problems += visitor.problems
  var seen = Set<String>()
  return problems.filter { seen.insert($0).inserted }
}

/// Module names: a declaration named like one would hide the module from qualified names.
private let alwaysProtected: Set<String> = [
  "LessonRuntime", "LessonEvents", "LoRA", "Foundation", "Swift", "Glibc", "Darwin", "Dispatch",
  "Lesson",
]

/// The names a cell's code declares and uses, from one parse.
public struct CellNames: Sendable {
  /// Declared at the top level (extensions excluded): visible to every later cell.
  public var declared: Set<String>
  /// Referred to: identifiers in expressions and types.
  public var referenced: Set<String>
  /// Bound below the top level only: parameters, closure parameters, local constants and
  /// loop variables.
  public var boundLocally: Set<String>

  /// The names that `source` declares, refers to and binds locally.
  public init(_ source: String) {
    let tree = Parser.parse(source: source)
    let found = NameCollector.collect(tree)
    let declarations = TopLevelDeclaration.all(in: tree)
    declared = Set(declarations.filter { $0.extendedType == nil }.map(\.name))
    referenced = Set(found.references.map(\.name))
    boundLocally = found.patternBindings.union(found.parameters)
      .subtracting(declarations.map(\.name))
  }
}

/// Constructs no exercise needs and a forger would.
private final class ForbiddenSyntax: SyntaxVisitor {
  var problems: [String] = []

  override func visit(_ node: ImportDeclSyntax) -> SyntaxVisitorContinueKind {
    problems.append(
      "it imports `\(node.path.trimmedDescription)`: exercises use what the lesson imports")
    return .skipChildren
  }

  override func visit(_ node: AttributeSyntax) -> SyntaxVisitorContinueKind {
    let name = node.attributeName.trimmedDescription
    if name.hasPrefix("_") {
      problems.append("it uses `@\(name)`, which reaches code by its symbol name")
    } else if name == "unsafe" || name == "safe" {
      problems.append(
        "it uses `@\(name)`, which silences Swift's check of unsafe code; exercises need none")
    }
    return .visitChildren
  }

  override func visit(_ node: UnsafeExprSyntax) -> SyntaxVisitorContinueKind {
    problems.append(
      "it marks an expression `unsafe`, which silences Swift's check of unsafe code; exercises "
        + "need none")
    return .visitChildren
  }

  override func visit(_ node: PoundSourceLocationSyntax) -> SyntaxVisitorContinueKind {
    problems.append("it uses `#sourceLocation`, which would misplace the grader's line numbers")
    return .skipChildren
  }

  override func visit(_ node: TokenSyntax) -> SyntaxVisitorContinueKind {
    guard case .identifier(let name) = node.tokenKind else { return .visitChildren }
    if name.hasPrefix("_lesson") {
      problems.append("it names `\(name)`, an entry point of the lesson runtime")
    } else if ["dlsym", "dlvsym", "dlopen"].contains(name) {
      problems.append("it calls `\(name)`, which reaches code by its symbol name")
    }
    return .visitChildren
  }
}
