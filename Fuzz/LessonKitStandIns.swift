// Stands in for what the fuzzing build of LessonKit leaves out: CachedBlockCheck.swift needs
// swift-syntax, which `Scripts/fuzz` does not build. The readers under test never call it.

/// No diagnostics: the fuzzing build does not check cached blocks.
public func cachedBlockDiagnostics(_ program: Program) -> [Diagnostic] { [] }
