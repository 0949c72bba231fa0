import LessonKit
import SwiftParser
import SwiftSyntax

/// The compile-time half of `cached`'s promise never to restore a stale value: a block
/// that uses a `var` declared outside it (directly, or through a function it calls) could
/// change it, and a cache hit would not. Each such use is an error at its
/// `LESSON.md:LINE:COL`, before the compiler runs. (Modules and optimizers that a block
/// changes without listing them are caught at run time, where their values can be seen.)
///
/// It reads each cell with swift-syntax: the top-level `var`s and functions of the cells
/// so far, then the names each `cached { ... }` closure refers to and does not declare.
public func cachedBlockDiagnostics(_ program: Program) -> [Diagnostic] {
  var variables = Set<String>()
  var functions: [String: FunctionDeclSyntax] = [:]
  var diagnostics: [Diagnostic] = []
  for cell in program.cells {
    let file = Parser.parse(source: cell.source)
    for item in file.statements {
      if let variable = item.item.as(VariableDeclSyntax.self),
        variable.bindingSpecifier.tokenKind == .keyword(.var)
      {
        for binding in variable.bindings { variables.formUnion(boundNames(binding.pattern)) }
      } else if let function = item.item.as(FunctionDeclSyntax.self) {
        functions[function.name.text] = function
      }
    }
    let converter = SourceLocationConverter(fileName: cell.file, tree: file)
    for call in CachedCalls.find(in: file) {
      var reported = Set<String>()
      for use in outerUses(of: call.closure, functions: functions)
      where variables.contains(use.name) && reported.insert(use.name).inserted {
        let location = use.node.startLocation(converter: converter)
        let path = use.through.map { " (through `\($0)`)" } ?? ""
        diagnostics.append(
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
  return diagnostics.sorted { ($0.line, $0.column) < ($1.line, $1.column) }
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
