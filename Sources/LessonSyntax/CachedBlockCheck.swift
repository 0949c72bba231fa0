import LessonKit
import SwiftParser
import SwiftSyntax

/// The compile-time half of `cached`'s promise never to restore a stale value.
///
/// - A block that uses a `var` declared outside it (directly, or through a function it
///   calls) could change it, and a cache hit would not. Each such use is an error at its
///   `LESSON.md:LINE:COL`, before the compiler runs.
/// - A top-level `let` that a block uses holds a value the block could still change inside
///   (a tensor's values, an object's properties). The review names each such constant to
///   the runtime, by a call added after its declaration on the same line, so that the
///   runtime's check of what a block changed can say which constant it was.
///
/// It reads each cell with swift-syntax: the top-level `var`s, `let`s and functions of the
/// cells so far, then the names each `cached { ... }` closure refers to and does not declare.
public func cachedBlockReview(_ program: Program) -> ProgramReview {
  var variables = Set<String>()
  var constants: [String: Constant] = [:]
  var functions: [String: FunctionDeclSyntax] = [:]
  var named = Set<String>()
  var review = ProgramReview()
  for (index, cell) in program.cells.enumerated() {
    let file = Parser.parse(source: cell.source)
    for item in file.statements {
      if let variable = item.item.as(VariableDeclSyntax.self) {
        if variable.bindingSpecifier.tokenKind == .keyword(.var) {
          variables.formUnion(variable.bindings.flatMap { boundNames($0.pattern) })
        } else {
          // A constant without a value yet (`let x: Int`, set later) cannot be named here.
          let end = variable.endPositionBeforeTrailingTrivia.utf8Offset
          for binding in variable.bindings where binding.initializer != nil {
            for name in boundNames(binding.pattern) {
              constants[name] = Constant(cell: index, end: end)
            }
          }
        }
      } else if let function = item.item.as(FunctionDeclSyntax.self) {
        functions[function.name.text] = function
      }
    }
    let converter = SourceLocationConverter(fileName: cell.file, tree: file)
    for call in CachedCalls.find(in: file) {
      var reported = Set<String>()
      for use in outerUses(of: call.closure, functions: functions) {
        if let constant = constants[use.name], named.insert(use.name).inserted {
          review.insertions.append(
            SourceInsertion(
              cell: constant.cell, offset: constant.end,
              text: "; _lessonNamed(\"\(use.name)\", \(use.name))"))
        }
        guard variables.contains(use.name), reported.insert(use.name).inserted else { continue }
        let location = use.node.startLocation(converter: converter)
        let path = use.through.map { " (through `\($0)`)" } ?? ""
        review.diagnostics.append(
          Diagnostic(
            file: cell.file, line: cell.line + location.line - 1, column: location.column,
            severity: .error,
            message:
              "cached(\(call.name)) uses `\(use.name)`\(path), a var declared outside the "
              + "block, which a cache hit could not restore; declare it inside the block, or "
              + "return its value from the block"))
      }
    }
  }
  review.diagnostics.sort { ($0.line, $0.column) < ($1.line, $1.column) }
  return review
}

/// Where a top-level `let` was declared: its cell, and the end of its declaration there.
private struct Constant {
  var cell: Int
  var end: Int
}

/// A name a closure refers to without declaring it, and the function it was reached
/// through, if any.
private struct OuterUse {
  var name: String
  var node: Syntax
  var through: String?
}

/// The names `closure` refers to and does not declare, with those of the top-level
/// functions it calls, transitively.
private func outerUses(
  of closure: ClosureExprSyntax, functions: [String: FunctionDeclSyntax]
) -> [OuterUse] {
  var uses = freeNames(in: Syntax(closure)).map { OuterUse(name: $0.name, node: $0.node) }
  var visited = Set<String>()
  var index = 0
  while index < uses.count {
    let use = uses[index]
    index += 1
    guard let function = functions[use.name], visited.insert(use.name).inserted else { continue }
    // The whole declaration, so its parameters count as declared.
    for inner in freeNames(in: Syntax(function)) {
      uses.append(OuterUse(name: inner.name, node: use.node, through: use.through ?? use.name))
    }
  }
  return uses
}

/// The identifiers referred to in `node` (not as members, not as types) that nothing inside
/// `node` declares.
private func freeNames(in node: Syntax) -> [(name: String, node: Syntax)] {
  let found = NameCollector.collect(node)
  let declared = found.patternBindings.union(found.parameters).union(found.functions)
  return found.references.filter { !$0.isMember && !$0.isType && !declared.contains($0.name) }
    .map { ($0.name, $0.node) }
}

/// The calls `cached(...) { ... }` in a cell, with their closure and their name argument
/// as written.
private final class CachedCalls: SyntaxVisitor {
  struct Call {
    var name: String
    var closure: ClosureExprSyntax
  }
  var calls: [Call] = []

  static func find(in file: SourceFileSyntax) -> [Call] {
    let finder = CachedCalls(viewMode: .sourceAccurate)
    finder.walk(file)
    return finder.calls
  }

  override func visit(_ node: FunctionCallExprSyntax) -> SyntaxVisitorContinueKind {
    guard node.calledExpression.as(DeclReferenceExprSyntax.self)?.baseName.text == "cached",
      let closure = node.trailingClosure
        ?? node.arguments.last?.expression.as(ClosureExprSyntax.self)
    else { return .visitChildren }
    let name = node.arguments.first.map { $0.expression.trimmedDescription } ?? ""
    calls.append(Call(name: name, closure: closure))
    return .visitChildren
  }
}
