import Foundation

/// One of this executable's timing subcommands and a PyTorch reference script, run in turn
/// `repeats` times each, so that both sides see the same machine state; each process
/// prints one line of `key=value` figures.
struct SideBySide {
  /// The subcommand of ours (`gpt-step`, `gpt2-step`).
  let subcommand: String
  /// The reference script, and the Python to run it with (none: ours only).
  let script: String
  let python: String?
  let threads: Int
  let repeats: Int

  /// Our processes' figures and the reference's, for the same arguments.
  func compare(_ arguments: [String]) -> (ours: [[String: String]], theirs: [[String: String]]) {
    let executable = URL(fileURLWithPath: CommandLine.arguments[0]).path
    var (ours, theirs): ([[String: String]], [[String: String]]) = ([], [])
    for _ in 0..<max(1, repeats) {
      ours.append(runOnce(executable, [subcommand] + arguments))
      if let python {
        theirs.append(runOnce(python, [script, "--threads", "\(threads)"] + arguments))
      }
    }
    return (ours, theirs)
  }

  private func runOnce(_ program: String, _ arguments: [String]) -> [String: String] {
    switch runProcess(program, arguments) {
    case .success(let output): return keyValues(output)
    case .failure(let error):
      print("  \(program) \(arguments.joined(separator: " ")): \(error)")
      return [:]
    }
  }
}

/// A figure from combined values, or "—" when it is missing.
func number(_ values: [String: String], _ key: String, _ decimals: Int = 0) -> String {
  values[key].flatMap(Double.init).map { fixed($0, decimals) } ?? "—"
}

/// `median (fastest)` of a time over the processes, or the median alone for one process.
func time(_ runs: [[String: String]], _ key: String, _ decimals: Int) -> String {
  let (middle, best) = (combinedValues(runs), combinedValues(runs, fastest: true))
  return runs.count > 1
    ? "\(number(middle, key, decimals)) (\(number(best, key, decimals)))"
    : number(middle, key, decimals)
}

/// How many times faster ours is, by the medians of `key` (a time), and with several
/// processes, the range of the ratios within each pair run one after the other:
/// "1.25× (1.18–1.31)", or "—".
///
/// The machine's speed can change between processes (a VM's clock moves by 15–35% from one
/// minute to the next), and a pair, taken back to back, is more likely to see one state than
/// the medians of all our processes and all theirs.
func speedUp(_ ours: [[String: String]], _ theirs: [[String: String]], _ key: String) -> String {
  /// Their time over ours, when both report one.
  func ratio(_ ours: [String: String], _ theirs: [String: String]) -> Double? {
    guard let mine = ours[key].flatMap(Double.init), let other = theirs[key].flatMap(Double.init),
      mine > 0
    else { return nil }
    return other / mine
  }
  guard let overall = ratio(combinedValues(ours), combinedValues(theirs)) else { return "—" }
  let pairs = zip(ours, theirs).compactMap(ratio)
  let range = pairs.count > 1 ? " (\(fixed(pairs.min()!, 2))–\(fixed(pairs.max()!, 2)))" : ""
  return fixed(overall, 2) + "×" + range
}

/// A step's products in GFLOP, its floor in ms at `limit`'s sgemm rate, and how many times
/// the floor the median step takes: the columns that say how near the hardware a row is.
func floorColumns(_ runs: [[String: String]], limit: MachineLimit) -> [String] {
  let values = combinedValues(runs)
  guard let gigaflops = values["gflop_step"].flatMap(Double.init),
    let milliseconds = values["step_ms_median"].flatMap(Double.init)
  else { return ["—", "—", "—"] }
  let floor = limit.floorMilliseconds(gigaflops: gigaflops)
  return [fixed(gigaflops, 2), fixed(floor, 1), fixed(milliseconds / floor, 2) + "×"]
}
