import Foundation

/// A module an adapter config selects, with the rank and α that apply to it.
public struct SelectedModule {
  /// The module's dotted name.
  public let name: String
  /// The layer that gets the adapter.
  public let layer: Linear
  /// Its rank: `rank_pattern`'s first matching key, or `r`.
  public let rank: Int
  /// Its α: `alpha_pattern`'s first matching key, or `lora_alpha`.
  public let alpha: Float
}

extension AdapterConfig {
  /// The modules of `model` that this config puts LoRA on, decided as PEFT 0.21's
  /// `check_target_module_exists` and `get_pattern_key` decide it:
  ///
  /// - a module matched by `exclude_modules` (a list: exactly or as a dotted suffix; a
  ///   string: a full-match regular expression), or by a `modules_to_save` entry, is skipped;
  /// - a string `target_modules` must match the whole name (`"all-linear"`: every linear
  ///   layer); a listed target matches the whole name, or its end after a dot, and in the
  ///   second case `layers_to_transform` filters by the first numbered segment (after one of
  ///   `layers_pattern`'s names, when given); `"all-linear"` lists every linear layer by its
  ///   full name;
  /// - the rank and α of a module come from the first key of `rank_pattern` and
  ///   `alpha_pattern` that matches the end of its name after a dot.
  ///
  /// Stricter than PEFT, which trains nothing without a word: a target, exclusion, layer
  /// index or pattern key that selects no module is an error listing the modules there are,
  /// and so is a selected module that is not a `Linear`.
  public func selectModules(in model: Module) throws -> [SelectedModule] {
    let modules = model.namedModules.filter { !$0.name.isEmpty }
    let names = modules.map(\.name)
    let linearNames = modules.filter { $0.module is Linear }.map(\.name)
    let targets = try resolvedTargets(linearNames: linearNames)
    let targetPattern = try targets.pattern.map { try compiled($0, field: "target_modules") }
    let excludePattern = try excludeModules.flatMap { selector -> Regex<AnyRegexOutput>? in
      guard case .pattern(let pattern) = selector else { return nil }
      return try compiled(pattern, field: "exclude_modules")
    }
    let layerNames: [String?] = layersPattern?.isEmpty == false ? layersPattern! : [nil]
    let layerPatterns = try layerNames.map { pattern -> Regex<AnyRegexOutput> in
      let source =
        pattern.map { #"(?:.*?\.)?"# + $0 + #"\.(?<idx>\d+)\."# }
        ?? #".*?\.[^.]*\.(?<idx>\d+)\."#
      return try compiled(source, field: "layers_pattern")
    }
    let rankKeys = try rankPattern.map {
      try (entry: $0, regex: patternKey($0.key, "rank_pattern"))
    }
    let alphaKeys = try alphaPattern.map {
      try (entry: $0, regex: patternKey($0.key, "alpha_pattern"))
    }
    // PEFT's test for keeping modules_to_save out of the targets: `(^|.*\.)M($|\..*)`.
    let savedModules = try (modulesToSave ?? []).map {
      try compiled(#"(?:.*\.)?"# + $0 + #"(?:\..*)?"#, field: "modules_to_save")
    }
    let usesLayerIndices = layersToTransform?.isEmpty == false

    var selected: [SelectedModule] = []
    var usedTargets = Set<String>()
    var usedExclusions = Set<String>()
    var usedLayers = Set<Int>()
    for (name, module) in modules {
      // A target counts as matching when it names a module, whatever then excludes it.
      let namedBy = targets.names.filter { name == $0 || name.hasSuffix("." + $0) }
      let matchesPattern = targetPattern.map { name.wholeMatch(of: $0) != nil } ?? false
      usedTargets.formUnion(namedBy)
      if matchesPattern { usedTargets.insert("") }
      let exclusions = self.exclusions(of: name, pattern: excludePattern)
      if !exclusions.isEmpty {
        usedExclusions.formUnion(exclusions)
        continue
      }
      if savedModules.contains(where: { name.wholeMatch(of: $0) != nil }) {
        continue
      }
      var found = matchesPattern || !namedBy.isEmpty
      var layerIndex: Int?
      // PEFT filters by layer only the modules a listed target names as a suffix.
      if found, targetPattern == nil, !targets.names.contains(name), usesLayerIndices {
        layerIndex = layerPatterns.lazy.compactMap { name.prefixMatch(of: $0) }.first
          .flatMap { $0.output["idx"]?.substring }.flatMap { Int($0) }
        found = layerIndex.map { layersToTransform!.contains($0) } ?? false
      }
      guard found else { continue }
      guard let layer = module as? Linear else {
        throw ModuleError.unsupportedTarget(name, type: String(describing: type(of: module)))
      }
      if let layerIndex { usedLayers.insert(layerIndex) }
      let rank = rankKeys.first { name.wholeMatch(of: $0.regex) != nil }?.entry.value ?? r
      let alpha = alphaKeys.first { name.wholeMatch(of: $0.regex) != nil }?.entry.value ?? loraAlpha
      selected.append(SelectedModule(name: name, layer: layer, rank: rank, alpha: alpha))
    }

    // Everything the config names must have selected something; the most specific
    // field is named first.
    if targetPattern != nil, usedTargets.isEmpty {
      throw ModuleError.selectorMatchesNothing(
        field: "target_modules", entries: targets.pattern.map { [$0] } ?? [], available: names)
    }
    let unusedTargets = targets.names.filter { !usedTargets.contains($0) }
    if targetPattern == nil, !unusedTargets.isEmpty {
      throw ModuleError.noMatchingModules(targets: unusedTargets, available: linearNames)
    }
    switch excludeModules {
    case .names(let list):
      let unused = list.filter { !usedExclusions.contains($0) }
      if !unused.isEmpty {
        throw ModuleError.selectorMatchesNothing(
          field: "exclude_modules", entries: unused, available: names)
      }
    case .pattern(let pattern):
      if usedExclusions.isEmpty {
        throw ModuleError.selectorMatchesNothing(
          field: "exclude_modules", entries: [pattern], available: names)
      }
    case nil: break
    }
    if usesLayerIndices {
      let unused = layersToTransform!.filter { !usedLayers.contains($0) }
      if !unused.isEmpty {
        throw ModuleError.selectorMatchesNothing(
          field: "layers_to_transform", entries: unused.map(String.init), available: names)
      }
    }
    guard !selected.isEmpty else {
      throw ModuleError.selectorMatchesNothing(
        field: "target_modules", entries: targets.pattern.map { [$0] } ?? targets.names,
        available: names)
    }
    for (field, keys) in [
      ("rank_pattern", rankKeys.map { ($0.entry.key, $0.regex) }),
      ("alpha_pattern", alphaKeys.map { ($0.entry.key, $0.regex) }),
    ] {
      let unused = keys.filter { _, regex in
        !selected.contains { $0.name.wholeMatch(of: regex) != nil }
      }.map(\.0)
      if !unused.isEmpty {
        throw ModuleError.selectorMatchesNothing(
          field: field, entries: unused, available: selected.map(\.name))
      }
    }
    return selected
  }

  /// The target list, or the pattern; `"all-linear"` becomes the names of every linear
  /// layer, as PEFT resolves it.
  private func resolvedTargets(linearNames: [String]) throws -> (names: [String], pattern: String?)
  {
    switch targetModules {
    case .names(let names):
      guard !names.isEmpty else {
        throw ModuleError.noMatchingModules(targets: [], available: linearNames)
      }
      return (names, nil)
    case .pattern(let pattern) where pattern.lowercased() == "all-linear":
      // PEFT's _maybe_include_all_linear_layers: the full name of every linear layer (for a
      // model that is not a transformers model, the output layer included).
      return (linearNames, nil)
    case .pattern(let pattern):
      return ([], pattern)
    }
  }

  /// The exclusions that match `name` (`[""]` for a matching pattern).
  private func exclusions(of name: String, pattern: Regex<AnyRegexOutput>?) -> [String] {
    if let pattern { return name.wholeMatch(of: pattern) != nil ? [""] : [] }
    guard case .names(let list) = excludeModules else { return [] }
    return list.filter { name == $0 || name.hasSuffix("." + $0) }
  }

  /// `get_pattern_key`'s test: `re.match(rf"(.*\.)?({key})$", name)`.
  private func patternKey(_ key: String, _ field: String) throws -> Regex<AnyRegexOutput> {
    try compiled(#"(?:.*\.)?(?:"# + key + ")", field: field)
  }

  private func compiled(_ pattern: String, field: String) throws -> Regex<AnyRegexOutput> {
    do {
      return try Regex(pattern)
    } catch {
      throw AdapterConfigError(
        path: "adapter config", field: field, value: "\"\(pattern)\"",
        reason: "is not a valid regular expression (\(error))")
    }
  }
}
