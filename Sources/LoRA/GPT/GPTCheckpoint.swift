import Foundation

/// What a saved GPT needs beside its weights: its shape, its tokenizer, and how it was
/// trained. Stored as `NAME.json` next to the weights in `NAME.safetensors`.
public struct GPTCheckpoint: Codable, Equatable, Sendable {
  /// The model's shape.
  public var config: GPTConfig
  /// The tokenizer the model was trained with.
  public var tokenizer: CharTokenizer
  /// How the weights were made, when they were trained by this project.
  public var training: TrainingRecord?

  /// A checkpoint description.
  public init(config: GPTConfig, tokenizer: CharTokenizer, training: TrainingRecord? = nil) {
    self.config = config
    self.tokenizer = tokenizer
    self.training = training
  }

  /// Decodes a checkpoint description and checks that it describes a model that can be
  /// built; `path` names the file in errors.
  /// - Throws: `CheckpointError` naming the file and the field.
  public init(json: Data, path: String) throws {
    do {
      self = try JSONDecoder().decode(GPTCheckpoint.self, from: json)
    } catch {
      throw CheckpointError(path: path, reason: "cannot be read as a GPT checkpoint (\(error))")
    }
    if let problem = config.problem {
      throw CheckpointError(path: path, reason: problem)
    }
    guard tokenizer.count <= config.vocabSize else {
      throw CheckpointError(
        path: path,
        reason:
          "has a tokenizer of \(tokenizer.count) characters for a model of vocabSize "
          + "\(config.vocabSize); its ids would fall outside the embedding table")
    }
  }
}

/// A GPT checkpoint description that cannot be read or describes no buildable model.
public struct CheckpointError: Error, CustomStringConvertible, Equatable {
  /// The description's file.
  public let path: String
  /// What is wrong.
  public let reason: String

  /// A message naming what went wrong and where.
  public var description: String { "\(path): \(reason)" }
}

/// The settings and results of a training run, so that it can be checked and repeated.
public struct TrainingRecord: Codable, Equatable, Sendable {
  /// The command that produced the weights.
  public var command: String
  /// The seed of every random draw.
  public var seed: UInt64
  /// The corpus file, relative to the checkpoint's folder.
  public var corpus: String
  /// Characters held out for validation at the end of the corpus.
  public var validationCharacters: Int
  /// Optimizer steps taken.
  public var steps: Int
  /// Sequences per step.
  public var batchSize: Int
  /// The peak learning rate.
  public var learningRate: Float
  /// The mean training loss over the last steps.
  public var trainLoss: Float
  /// The mean cross-entropy over `validationWindows` fixed windows of the held-out text.
  public var validationLoss: Float
  /// How many non-overlapping windows of `blockSize + 1` characters, from the start of the
  /// held-out text, `validationLoss` averages over.
  public var validationWindows: Int
  /// Wall-clock seconds the training steps took, on the machine that trained.
  public var seconds: Double?

  /// A record of a finished run.
  public init(
    command: String, seed: UInt64, corpus: String, validationCharacters: Int, steps: Int,
    batchSize: Int, learningRate: Float, trainLoss: Float, validationLoss: Float,
    validationWindows: Int, seconds: Double? = nil
  ) {
    self.seconds = seconds
    self.command = command
    self.seed = seed
    self.corpus = corpus
    self.validationCharacters = validationCharacters
    self.steps = steps
    self.batchSize = batchSize
    self.learningRate = learningRate
    self.trainLoss = trainLoss
    self.validationLoss = validationLoss
    self.validationWindows = validationWindows
  }
}

extension GPT {
  /// Loads a model saved by `save(to:checkpoint:)`: `url` names the `.safetensors` file, and
  /// the `.json` file of the same name beside it describes the model.
  public static func load(contentsOf url: URL) throws -> (model: GPT, checkpoint: GPTCheckpoint) {
    let descriptionURL = url.deletingPathExtension().appendingPathExtension("json")
    let json: Data
    do {
      json = try Data(contentsOf: descriptionURL)
    } catch {
      throw CheckpointError(
        path: descriptionURL.path, reason: "cannot be read (\(error.localizedDescription))")
    }
    let checkpoint = try GPTCheckpoint(json: json, path: descriptionURL.path)
    let model = GPT(checkpoint.config)
    try model.loadWeights(from: url)
    return (model, checkpoint)
  }

  /// Saves the weights to `url` (a `.safetensors` file) and the checkpoint beside it as
  /// JSON, each atomically.
  public func save(to url: URL, checkpoint: GPTCheckpoint) throws {
    try saveWeights(to: url)
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    try FileWrites.write(
      encoder.encode(checkpoint), to: url.deletingPathExtension().appendingPathExtension("json"))
  }

  /// The mean next-token cross-entropy over non-overlapping windows of `blockSize + 1`
  /// tokens from the start of `tokens`, in evaluation mode and without recording gradients.
  /// Windows go through the model 32 at a time, so memory stays bounded.
  public func validationLoss(_ tokens: [Int], windows: Int) -> Float {
    let span = config.blockSize + 1
    precondition(
      tokens.count >= windows * span, "validationLoss: too few tokens for \(windows) windows")
    let wasTraining = isTraining
    eval()
    defer { train(wasTraining) }
    return withNoGrad {
      var total: Double = 0
      for first in stride(from: 0, to: windows, by: 32) {
        let batch = (first..<min(first + 32, windows)).map {
          Array(tokens[($0 * span)..<(($0 + 1) * span)])
        }
        let loss = forward(
          batch.map { Array($0.dropLast()) }, targets: batch.map { Array($0.dropFirst()) }
        ).loss!.item()
        total += Double(loss) * Double(batch.count)
      }
      return Float(total / Double(windows))
    }
  }
}

/// A corpus split as the seed splits it: the first 90% of the tokens to train on, the last
/// 10% held out.
public struct HeldOutSplit: Sendable {
  /// The first 90%.
  public let training: [Int]
  /// The last 10%.
  public let validation: [Int]

  /// Splits `tokens` at 90%.
  public init(tokens: [Int]) {
    let boundary = tokens.count * 9 / 10
    training = Array(tokens[..<boundary])
    validation = Array(tokens[boundary...])
  }

  /// How many whole windows of `blockSize + 1` tokens the held-out part holds.
  public func windows(_ blockSize: Int) -> Int { validation.count / (blockSize + 1) }
}
