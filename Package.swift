// swift-tools-version:6.0
import PackageDescription

let package = Package(
  name: "swift-lora-lessons",
  platforms: [.macOS(.v14)],
  products: [
    // The library, for packages that use it.
    .library(name: "LoRA", targets: ["LoRA"]),
    // What the programs generated from lessons link: the library and the lesson runtime in
    // one dynamic library. (Two dynamic products would each carry a copy of LoRA, with its
    // own globals and type metadata: the runtime would see another random generator and
    // other `Module` types than the lesson's.)
    .library(name: "LessonSupport", type: .dynamic, targets: ["LoRA", "LessonRuntime"]),
    // Preloaded into lesson programs (and what they start) by the runner: it notes the files
    // they write, so that a cached block keeps them. C only (SwiftPM's link adds the Swift
    // runtime as a dependency, which costs a child process about 1.5 ms to load).
    .library(name: "LessonWriteHook", type: .dynamic, targets: ["CWriteHook"]),
    .executable(name: "lessons", targets: ["lessons"]),
    .executable(name: "lessons-grade", targets: ["lessons-grade"]),
    .executable(name: "lessons-serve", targets: ["lessons-serve"]),
    .executable(name: "lessons-syntax", targets: ["lessons-syntax"]),
    .executable(name: "lora-bench", targets: ["lora-bench"]),
    .executable(name: "lora-pretrain", targets: ["lora-pretrain"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    // A real Swift parser, to screen what a student's exercise cell declares before grading
    // and what a cached block uses.
    .package(url: "https://github.com/swiftlang/swift-syntax", from: "603.0.0"),
    // The live page of `lessons serve`.
    .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.0"),
    .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
  ],
  targets: [
    .systemLibrary(
      name: "CCmark",
      pkgConfig: "libcmark",
      providers: [.apt(["libcmark-dev"]), .brew(["cmark"])]
    ),
    // The element loops in AVX2 and FMA, which Swift cannot target one function at a time;
    // chosen at run time, on CPUs that have both.
    .target(name: "CKernels"),
    // BLAS is Accelerate on Apple platforms; elsewhere the library opens one at run time
    // (OpenBLAS, BLIS or oneMKL: `BLASLibrary`), so no BLAS is linked.
    .target(name: "LoRA", dependencies: ["CKernels"]),
    // The events a lesson program sends its runner: one schema, imported by both ends.
    .target(name: "LessonEvents"),
    .target(name: "LessonRuntime", dependencies: ["LoRA", "LessonEvents", "CProcessControl"]),
    // The one call the runner makes that Swift cannot: prctl, to reap what a lesson leaves.
    .target(name: "CProcessControl"),
    // The files a lesson program writes, noted by interposing libc's open, rename and unlink.
    .target(name: "CWriteHook"),
    // The runner: parse, plan and compile, run, render.
    .target(name: "LessonKit", dependencies: ["CCmark", "CProcessControl", "LessonEvents"]),
    // What the runner reads with a real Swift parser: the names a cached block uses, and
    // what a student's exercise cell declares. The one target that needs swift-syntax.
    .target(
      name: "LessonSyntax",
      dependencies: [
        "LessonKit", .product(name: "SwiftParser", package: "swift-syntax"),
        .product(name: "SwiftSyntax", package: "swift-syntax"),
      ]),
    // Grading sits on the runner.
    .target(name: "LessonGrading", dependencies: ["LessonKit", "LessonSyntax"]),
    // The live page of `lessons serve`: the one target that needs the web server.
    .target(
      name: "LessonServer",
      dependencies: [
        "LessonKit", .product(name: "Hummingbird", package: "hummingbird"),
        .product(name: "Logging", package: "swift-log"),
      ]),
    // What the command's executables share: options, the console, runs on every change,
    // and the helpers that `lessons` builds on first use.
    .target(
      name: "LessonsCLI",
      dependencies: [
        "LessonKit", .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]),
    // `lessons`: what `run` needs and nothing more. `grade`, `serve` and the check of cached
    // blocks are executables of their own, each built the first time it is used.
    // (It does not import LessonRuntime: that dependency makes the one build of `lessons`
    // compile the library that lesson programs link too, on both cores, leaving
    // `--product LessonSupport` only its link.)
    .executableTarget(
      name: "lessons",
      dependencies: [
        "LessonKit", "LessonsCLI", "LoRA", "LessonRuntime",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]
    ),
    .executableTarget(
      name: "lessons-grade",
      dependencies: [
        "LessonKit", "LessonsCLI", "LessonSyntax", "LessonGrading",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]),
    .executableTarget(
      name: "lessons-serve",
      dependencies: [
        "LessonKit", "LessonsCLI", "LessonServer",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]),
    .executableTarget(name: "lessons-syntax", dependencies: ["LessonKit", "LessonSyntax"]),
    .executableTarget(
      name: "lora-bench",
      dependencies: [
        "LoRA", .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]
    ),
    .executableTarget(
      name: "lora-pretrain",
      dependencies: ["LoRA", .product(name: "ArgumentParser", package: "swift-argument-parser")]
    ),
    .testTarget(name: "LoRATests", dependencies: ["LoRA", "CKernels"], exclude: ["Fixtures"]),
    // What the runner's tests share: the repository's folders, the built `lessons` command,
    // the browser.
    .target(name: "LessonTestSupport", path: "Tests/LessonTestSupport"),
    .testTarget(
      name: "LessonKitTests", dependencies: ["LessonKit", "LessonTestSupport", "LoRA"],
      exclude: ["Fixtures", "Render/HTMLFixtures"]),
    .testTarget(
      name: "LessonGradingTests",
      dependencies: ["LessonGrading", "LessonSyntax", "LessonKit", "LessonTestSupport"],
      exclude: ["Grading"]),
    .testTarget(
      name: "LessonRuntimeTests", dependencies: ["LessonKit", "LessonRuntime", "LessonTestSupport"]),
  ]
)
