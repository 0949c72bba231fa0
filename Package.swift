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
    .executable(name: "lessons", targets: ["lessons"]),
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
    .target(name: "LessonRuntime", dependencies: ["LoRA", "LessonEvents"]),
    // The runner reads cells with a real Swift parser to check what `cached` blocks use.
    .target(
      name: "LessonKit",
      dependencies: [
        "CCmark", "LessonEvents", .product(name: "SwiftParser", package: "swift-syntax"),
        .product(name: "SwiftSyntax", package: "swift-syntax"),
      ]),
    // Grading sits on the runner.
    .target(
      name: "LessonGrading",
      dependencies: [
        "LessonKit", .product(name: "SwiftParser", package: "swift-syntax"),
        .product(name: "SwiftSyntax", package: "swift-syntax"),
      ]),
    .executableTarget(
      name: "lessons",
      dependencies: [
        "LessonKit", "LessonGrading", "LoRA",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "Hummingbird", package: "hummingbird"),
        .product(name: "Logging", package: "swift-log"),
      ]
    ),
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
    .testTarget(
      name: "LessonKitTests", dependencies: ["LessonKit", "LessonGrading"],
      exclude: ["Fixtures", "Grading", "HTMLFixtures"]),
  ]
)
