// swift-tools-version: 6.1
// libFuzzer harnesses (`make fuzz`, and a short run in `make test`): built with
// `swift build --package-path Fuzz --sanitize=fuzzer`, apart from the library so its build never
// needs the fuzzer runtime. Each harness is a library-mode executable whose entry point is
// LLVMFuzzerTestOneInput; libFuzzer supplies main.
import PackageDescription

let harness: [SwiftSetting] = [.unsafeFlags(["-parse-as-library"])]

let package = Package(
    name: "ArgusFuzz",
    dependencies: [.package(name: "Argus", path: "..")],
    targets: [
        .executableTarget(name: "FuzzJPEG", dependencies: [.product(name: "ArgusImaging", package: "Argus")], swiftSettings: harness),
        .executableTarget(name: "FuzzPNG", dependencies: [.product(name: "ArgusImaging", package: "Argus")], swiftSettings: harness),
        .executableTarget(name: "FuzzModel", dependencies: [.product(name: "ArgusNN", package: "Argus"), .product(name: "ArgusFace", package: "Argus")],
                          swiftSettings: harness),
    ],
    swiftLanguageModes: [.v6]
)
