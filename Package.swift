// swift-tools-version:6.0
// Stockade: a privilege-separated devp2p/RLPx node daemon. One module per protocol layer
// and per process role; see ../shared/design/ARCHITECTURE.md and README.md.
import PackageDescription

let package = Package(
    name: "Stockade",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "stockade", targets: ["StockadeCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    ],
    targets: [
        // --- C: system libraries and the shim for what Swift cannot import -----------------
        .systemLibrary(name: "CSecp256k1", path: "Sources/CSecp256k1", pkgConfig: "libsecp256k1",
                       providers: [.apt(["libsecp256k1-dev"])]),
        .systemLibrary(name: "CSnappy", path: "Sources/CSnappy", pkgConfig: "snappy",
                       providers: [.apt(["libsnappy-dev"])]),
        .systemLibrary(name: "CSystemd", path: "Sources/CSystemd", pkgConfig: "libsystemd",
                       providers: [.apt(["libsystemd-dev"])]),
        .target(name: "CStockade", path: "Sources/CStockade"),

        // --- pure protocol layers: bytes in, values out, no I/O -----------------------------
        .target(name: "RLP"),
        .target(name: "Keccak"),
        .target(name: "Secp256k1", dependencies: ["CSecp256k1"]),
        .target(name: "Snappy", dependencies: ["CSnappy"]),
        .target(name: "RLPx", dependencies: [
            "RLP", "Keccak", "Secp256k1",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "_CryptoExtras", package: "swift-crypto"),
        ]),
        .target(name: "DevP2P", dependencies: ["RLP", "RLPx", "Snappy", "Keccak", "Secp256k1"]),

        // --- the command line --------------------------------------------------------------
        .executableTarget(name: "StockadeCLI", dependencies: [
            "DevP2P", "RLPx",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // --- tests -------------------------------------------------------------------------
        .target(name: "TestVectors", path: "Tests/TestVectors"),
        .testTarget(name: "RLPTests", dependencies: ["RLP", "TestVectors"]),
        .testTarget(name: "KeccakTests", dependencies: ["Keccak", "TestVectors"]),
    ]
)
