import Foundation

/// A tensor's flags, as `savedState()` records them.
struct TensorLayout: Codable, Equatable {
  var shape: [Int]
  var requiresGrad: Bool
  var hasGrad: Bool
}

extension Tensor: Restorable {
  /// The values, `requiresGrad` and the gradient.
  public func savedState() throws -> SavedState {
    var tensors = ["value": detach()]
    if let grad { tensors["grad"] = grad.detach() }
    let layout = TensorLayout(shape: shape, requiresGrad: requiresGrad, hasGrad: grad != nil)
    return SavedState(layout: try JSONEncoder.stateLayout.encode(layout), tensors: tensors)
  }

  /// Puts the values, `requiresGrad` and the gradient back, in place.
  public func restore(_ state: SavedState) throws {
    guard let layout = try? JSONDecoder().decode(TensorLayout.self, from: state.layout),
      let value = state.tensors["value"]
    else { throw RestoreError("tensor \(shape): the saved state is not a tensor's") }
    guard layout.shape == shape, value.count == count else {
      throw RestoreError("tensor \(shape): the saved tensor has shape \(layout.shape)")
    }
    scalars = value.scalars
    requiresGrad = layout.requiresGrad
    grad = layout.hasGrad ? state.tensors["grad"]?.detach() : nil
  }
}
