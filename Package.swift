// swift-tools-version:6.0
import PackageDescription

/// BLAS comes from Accelerate on Apple platforms and from OpenBLAS elsewhere.
let blas: Target.Dependency = .target(name: "CBLAS", condition: .when(platforms: [.linux]))

let package = Package(
  name: "swift-lora-lessons",
  platforms: [.macOS(.v14)],
  products: [
    // Dynamic, so that the programs generated from lessons can link it.
    .library(name: "LoRA", type: .dynamic, targets: ["LoRA"]),
    .library(name: "LessonRuntime", type: .dynamic, targets: ["LessonRuntime"]),
    .executable(name: "lessons", targets: ["lessons"]),
    .executable(name: "toy-fit", targets: ["toy-fit"]),
    .executable(name: "lora-bench", targets: ["lora-bench"]),
    .executable(name: "lora-pretrain", targets: ["lora-pretrain"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0")
  ],
  targets: [
    .systemLibrary(
      name: "CCmark",
      pkgConfig: "libcmark",
      providers: [.apt(["libcmark-dev"]), .brew(["cmark"])]
    ),
    .systemLibrary(
      name: "CBLAS",
      pkgConfig: "openblas",
      providers: [.apt(["libopenblas-dev"])]
    ),
    .target(name: "LoRA", dependencies: [blas]),
    .target(name: "LessonRuntime", dependencies: ["LoRA"]),
    .target(name: "LessonKit", dependencies: ["CCmark"]),
    .executableTarget(
      name: "lessons",
      dependencies: [
        "LessonKit", .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]
    ),
    .executableTarget(name: "toy-fit", dependencies: ["LoRA"]),
    .executableTarget(
      name: "lora-bench",
      dependencies: [
        "LoRA", blas, .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]
    ),
    .executableTarget(
      name: "lora-pretrain",
      dependencies: ["LoRA", .product(name: "ArgumentParser", package: "swift-argument-parser")]
    ),
    .testTarget(name: "LoRATests", dependencies: ["LoRA"], exclude: ["Fixtures"]),
    .testTarget(
      name: "LessonKitTests", dependencies: ["LessonKit"],
      exclude: ["Fixtures", "Grading", "HTMLFixtures"]),
  ]
)
