// swift-tools-version: 6.0
import PackageDescription

let strictness: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "Argus",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "ArgusImaging", targets: ["ArgusImaging"]),
        .library(name: "ArgusMatching", targets: ["ArgusMatching"]),
        .library(name: "ArgusNN", targets: ["ArgusNN"]),
        .library(name: "ArgusFace", targets: ["ArgusFace"]),
        .library(name: "ArgusClient", targets: ["ArgusClient"]),
        .executable(name: "argus", targets: ["argus"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth", from: "2.5.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/vapor/jwt-kit", from: "5.7.1"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.0.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket", from: "2.2.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
    ],
    targets: [
        // C libraries from Debian's -dev packages (see the Makefile's `deps` target).
        .systemLibrary(name: "CArgusBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CArgusJPEG", pkgConfig: "libjpeg", providers: [.apt(["libjpeg-dev"])]),
        .systemLibrary(name: "CArgusPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CArgusSecp256k1", pkgConfig: "libsecp256k1", providers: [.apt(["libsecp256k1-dev"])]),
        .target(name: "CArgusCodecs", dependencies: ["CArgusJPEG", "CArgusPNG"]),
        // The convolution and search kernels are optimised in debug builds too: the tests run the
        // real networks through them, which at -O0 is many times slower.
        .target(name: "CArgusKernels", cSettings: [.unsafeFlags(["-O2"], .when(configuration: .debug))]),

        .target(name: "ArgusImaging", dependencies: ["CArgusCodecs"], swiftSettings: strictness),
        .target(
            name: "ArgusMatching",
            dependencies: ["CArgusBLAS", "CArgusKernels", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strictness
        ),

        .target(
            name: "ArgusNN",
            dependencies: ["CArgusBLAS", "CArgusKernels", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strictness
        ),
        .target(
            name: "ArgusFace",
            dependencies: ["ArgusImaging", "ArgusNN", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strictness
        ),
        .target(name: "ArgusEval", swiftSettings: strictness),
        // Everything persistent, behind `Store`; SQLite through GRDB is the embedded backend,
        // PostgreSQL (postgres-nio) the one several nodes share.
        .target(
            name: "ArgusStore",
            dependencies: [
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strictness
        ),
        // The one enrolment path and the in-memory galleries a store fills.
        .target(
            name: "ArgusEnrollment",
            dependencies: ["ArgusStore", "ArgusMatching", "ArgusFace", .product(name: "Crypto", package: "swift-crypto"),
                           .product(name: "Logging", package: "swift-log")],
            swiftSettings: strictness
        ),
        .target(
            name: "ArgusService",
            dependencies: [
                "ArgusFace", "ArgusMatching", "ArgusImaging", "ArgusStore", "ArgusEnrollment", "CArgusSecp256k1", "CArgusKernels",
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdAuth", package: "hummingbird-auth"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            resources: [.copy("Resources/openapi.json")],
            swiftSettings: strictness
        ),
        .target(
            name: "ArgusJobs",
            dependencies: ["ArgusFace", "ArgusImaging", "ArgusMatching", "ArgusStore", "ArgusEnrollment"],
            swiftSettings: strictness
        ),
        // A Swift client of the API, with the user-action (signed request) flow built in.
        .target(
            name: "ArgusClient",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strictness
        ),
        .executableTarget(
            name: "argus",
            dependencies: [
                "ArgusImaging", "ArgusMatching", "ArgusNN", "ArgusFace", "ArgusEval", "ArgusStore", "ArgusEnrollment", "ArgusService", "ArgusJobs",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/ArgusCLI",
            swiftSettings: strictness
        ),

        .testTarget(name: "ArgusImagingTests", dependencies: ["ArgusImaging", "CArgusCodecs"], swiftSettings: strictness),
        .testTarget(
            name: "ArgusFaceTests",
            dependencies: ["ArgusFace", "ArgusNN", "ArgusImaging", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strictness
        ),
        .testTarget(
            name: "ArgusServiceTests",
            dependencies: ["ArgusService", "ArgusStore", "ArgusEnrollment", "ArgusFace", "ArgusImaging", "argus",
                           .product(name: "HummingbirdTesting", package: "hummingbird"),
                           .product(name: "NIOEmbedded", package: "swift-nio"),
                           .product(name: "HTTPTypes", package: "swift-http-types"),
                           .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: strictness
        ),
        .testTarget(name: "ArgusCLITests", dependencies: ["argus", "ArgusImaging", "ArgusStore"], swiftSettings: strictness),
        .testTarget(name: "ArgusStoreTests", dependencies: ["ArgusStore"], swiftSettings: strictness),
        .testTarget(
            name: "ArgusClientTests",
            dependencies: ["ArgusClient", "ArgusService", "ArgusFace", "ArgusImaging", .product(name: "HummingbirdTesting", package: "hummingbird"),
                           .product(name: "Crypto", package: "swift-crypto"), .product(name: "CryptoExtras", package: "swift-crypto")],
            swiftSettings: strictness
        ),
        .testTarget(name: "ArgusEvalTests", dependencies: ["ArgusEval"], swiftSettings: strictness),
        .testTarget(name: "ArgusNNTests", dependencies: ["ArgusNN", "CArgusKernels"], swiftSettings: strictness),
        .testTarget(name: "ArgusMatchingTests", dependencies: ["ArgusMatching", "CArgusKernels"], swiftSettings: strictness),
    ],
    swiftLanguageModes: [.v6]
)
