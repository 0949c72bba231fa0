import SwiftSyntax

/// The names a piece of Swift refers to and the names it binds, from one walk of its tree:
/// what both the check of cached blocks and the grader's screen of exercise cells read.
final class NameCollector: SyntaxVisitor {
  /// A name used in an expression or a type.
  struct Reference {
    var name: String
    var node: Syntax
    /// `x` in `a.x`: a member, not a name of the scope.
    var isMember: Bool
    /// `T` in `let a: T`, rather than a name in an expression.
    var isType: Bool
  }

  private(set) var references: [Reference] = []
  /// Names bound by patterns: `let x`, `if let x`, `for x in`, `case let .some(x)`.
  private(set) var patternBindings = Set<String>()
  /// Parameters of functions and closures, `$0`-style shorthand excepted.
  private(set) var parameters = Set<String>()
  /// Functions declared inside what was walked.
  private(set) var functions = Set<String>()

  /// Walks `node` and returns what it found.
  static func collect(_ node: some SyntaxProtocol) -> NameCollector {
    let collector = NameCollector(viewMode: .sourceAccurate)
    collector.walk(node)
    return collector
  }

  override func visit(_ node: DeclReferenceExprSyntax) -> SyntaxVisitorContinueKind {
    let isMember = node.parent?.as(MemberAccessExprSyntax.self)?.declName == node
    references.append(
      Reference(name: node.baseName.text, node: Syntax(node), isMember: isMember, isType: false))
    return .visitChildren
  }
  override func visit(_ node: IdentifierTypeSyntax) -> SyntaxVisitorContinueKind {
    references.append(
      Reference(name: node.name.text, node: Syntax(node), isMember: false, isType: true))
    return .visitChildren
  }
  override func visit(_ node: IdentifierPatternSyntax) -> SyntaxVisitorContinueKind {
    patternBindings.insert(node.identifier.text)
    return .visitChildren
  }
  override func visit(_ node: ClosureShorthandParameterSyntax) -> SyntaxVisitorContinueKind {
    parameters.insert(node.name.text)
    return .visitChildren
  }
  override func visit(_ node: ClosureParameterSyntax) -> SyntaxVisitorContinueKind {
    parameters.insert((node.secondName ?? node.firstName).text)
    return .visitChildren
  }
  override func visit(_ node: FunctionParameterSyntax) -> SyntaxVisitorContinueKind {
    parameters.insert((node.secondName ?? node.firstName).text)
    return .visitChildren
  }
  override func visit(_ node: FunctionDeclSyntax) -> SyntaxVisitorContinueKind {
    functions.insert(node.name.text)
    return .visitChildren
  }
}

/// A declaration at the top level of a cell.
struct TopLevelDeclaration {
  var name: String
  var isType = false
  var isOperator = false
  /// For an extension: the type it extends (then `name` is that type too).
  var extendedType: String?

  /// The top-level declarations of `tree`, in order.
  static func all(in tree: SourceFileSyntax) -> [TopLevelDeclaration] {
    var result: [TopLevelDeclaration] = []
    for item in tree.statements {
      guard let declaration = item.item.as(DeclSyntax.self) else { continue }
      if let function = declaration.as(FunctionDeclSyntax.self) {
        let isOperator: Bool
        switch function.name.tokenKind {
        case .binaryOperator, .prefixOperator, .postfixOperator: isOperator = true
        default: isOperator = false
        }
        result.append(TopLevelDeclaration(name: function.name.text, isOperator: isOperator))
      } else if let variable = declaration.as(VariableDeclSyntax.self) {
        for binding in variable.bindings {
          result += boundNames(binding.pattern).map { TopLevelDeclaration(name: $0) }
        }
      } else if let type = declaration.asProtocol(NamedDeclSyntax.self) {
        result.append(TopLevelDeclaration(name: type.name.text, isType: true))
      } else if let extensionDecl = declaration.as(ExtensionDeclSyntax.self) {
        let extended = extensionDecl.extendedType.trimmedDescription
        result.append(TopLevelDeclaration(name: extended, extendedType: extended))
      } else if let operatorDecl = declaration.as(OperatorDeclSyntax.self) {
        result.append(TopLevelDeclaration(name: operatorDecl.name.text, isOperator: true))
      } else if declaration.is(PrecedenceGroupDeclSyntax.self) {
        result.append(TopLevelDeclaration(name: "precedencegroup", isOperator: true))
      }
    }
    return result
  }
}

/// The names a binding pattern declares: `x`, or each of `(a, b)`, in order.
func boundNames(_ pattern: PatternSyntax) -> [String] {
  if let identifier = pattern.as(IdentifierPatternSyntax.self) {
    return [identifier.identifier.text]
  }
  if let tuple = pattern.as(TuplePatternSyntax.self) {
    return tuple.elements.flatMap { boundNames($0.pattern) }
  }
  return []
}
