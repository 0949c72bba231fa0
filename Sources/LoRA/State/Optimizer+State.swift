import Foundation

/// An optimizer's scalar state, as `savedState()` records it; its per-parameter buffers go
/// into the state's tensors, by the parameter's position.
struct OptimizerLayout: Codable, Equatable {
  var kind: String
  var parameterShapes: [[Int]]
  var learningRate: Float
  var stepCount: Int
}

extension Adam: Restorable {
  /// The learning rate, the step count and each parameter's moment estimates.
  public func savedState() throws -> SavedState {
    var tensors: [String: Tensor] = [:]
    for (index, parameter) in parameters.enumerated() {
      guard let (first, second) = moments[ObjectIdentifier(parameter)] else { continue }
      tensors["first/\(index)"] = Tensor(shape: parameter.shape, scalars: first)
      tensors["second/\(index)"] = Tensor(shape: parameter.shape, scalars: second)
    }
    let layout = OptimizerLayout(
      kind: "\(type(of: self))", parameterShapes: parameters.map(\.shape),
      learningRate: learningRate, stepCount: stepCount)
    return SavedState(layout: try JSONEncoder.stateLayout.encode(layout), tensors: tensors)
  }

  /// Puts the learning rate, the step count and the moment estimates back.
  public func restore(_ state: SavedState) throws {
    let layout = try optimizerLayout(state, expecting: "\(type(of: self))", parameters)
    learningRate = layout.learningRate
    stepCount = layout.stepCount
    moments = [:]
    for (index, parameter) in parameters.enumerated() {
      if let first = state.tensors["first/\(index)"], let second = state.tensors["second/\(index)"]
      {
        moments[ObjectIdentifier(parameter)] = (first.scalars, second.scalars)
      }
    }
  }
}

extension SGD: Restorable {
  /// The learning rate and each parameter's momentum buffer.
  public func savedState() throws -> SavedState {
    var tensors: [String: Tensor] = [:]
    for (index, parameter) in parameters.enumerated() {
      guard let buffer = velocity[ObjectIdentifier(parameter)] else { continue }
      tensors["velocity/\(index)"] = Tensor(shape: [buffer.count], scalars: buffer)
    }
    let layout = OptimizerLayout(
      kind: "SGD", parameterShapes: parameters.map(\.shape), learningRate: learningRate,
      stepCount: 0)
    return SavedState(layout: try JSONEncoder.stateLayout.encode(layout), tensors: tensors)
  }

  /// Puts the learning rate and the momentum buffers back.
  public func restore(_ state: SavedState) throws {
    let layout = try optimizerLayout(state, expecting: "SGD", parameters)
    learningRate = layout.learningRate
    velocity = [:]
    for (index, parameter) in parameters.enumerated() {
      if let buffer = state.tensors["velocity/\(index)"] {
        velocity[ObjectIdentifier(parameter)] = buffer.scalars
      }
    }
  }
}

/// The layout of an optimizer's saved `state`, checked against the optimizer it goes into.
private func optimizerLayout(
  _ state: SavedState, expecting kind: String, _ parameters: [Tensor]
) throws -> OptimizerLayout {
  guard let layout = try? JSONDecoder().decode(OptimizerLayout.self, from: state.layout),
    layout.kind == kind
  else {
    throw RestoreError("\(kind): the saved state is not a \(kind) optimizer's")
  }
  guard layout.parameterShapes == parameters.map(\.shape) else {
    throw RestoreError(
      "\(kind): it updates \(parameters.count) parameters, the saved state "
        + "\(layout.parameterShapes.count), or their shapes differ")
  }
  return layout
}
