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
        .package(url: "https://github.com/LebJe/TOMLKit.git", from: "0.6.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        // --- C: system libraries and the shim for what Swift cannot import -----------------
        .systemLibrary(name: "CSecp256k1", path: "Sources/CSecp256k1", pkgConfig: "libsecp256k1",
                       providers: [.apt(["libsecp256k1-dev"])]),
        .systemLibrary(name: "CSnappy", path: "Sources/CSnappy", pkgConfig: "snappy",
                       providers: [.apt(["libsnappy-dev"])]),
        .systemLibrary(name: "CSystemd", path: "Sources/CSystemd", pkgConfig: "libsystemd",
                       providers: [.apt(["libsystemd-dev"])]),
        .systemLibrary(name: "CSeccomp", path: "Sources/CSeccomp", pkgConfig: "libseccomp",
                       providers: [.apt(["libseccomp-dev"])]),
        .target(name: "CStockade", path: "Sources/CStockade"),

        // --- pure protocol layers: bytes in, values out, no I/O -----------------------------
        .target(name: "RLP"),
        .target(name: "Keccak"),
        .target(name: "Secp256k1", dependencies: ["CSecp256k1"]),
        .target(name: "Snappy", dependencies: ["CSnappy"]),
        .target(name: "RLPxFrame", dependencies: [
            "Keccak", "RLP",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "_CryptoExtras", package: "swift-crypto"),
        ]),
        .target(name: "RLPxHandshake", dependencies: [
            "RLP", "Keccak", "Secp256k1", "RLPxFrame",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "_CryptoExtras", package: "swift-crypto"),
        ]),
        .target(name: "Enode", dependencies: ["Secp256k1", "Keccak"]),
        .target(name: "DevP2P", dependencies: ["RLP", "RLPxFrame", "RLPxHandshake", "Snappy", "Keccak", "Secp256k1", "Enode"]),
        .target(name: "IPC", dependencies: ["CStockade"]),
        .target(name: "Mux"),
        .target(name: "SOCKS5"),

        // --- operating-system seams -------------------------------------------------------
        .target(name: "PollLoop", dependencies: ["CStockade"]),
        .target(name: "Systemd", dependencies: ["CSystemd"]),
        .target(name: "Sockets"),
        .target(name: "Control"),
        .target(name: "PeerLink", dependencies: ["DevP2P", "Enode", "RLPxFrame", "Secp256k1", "Sockets"]),

        // --- configuration and the process roles (ARCHITECTURE.md "Processes") ---------------
        .target(name: "NodeConfig", dependencies: [
            "Enode", .product(name: "TOMLKit", package: "TOMLKit"),
        ]),
        // The exit's allowlist: pure rules over canonical addresses (no I/O, no DNS).
        .target(name: "ExitPolicy", dependencies: ["Enode", "NodeConfig"]),
        .target(name: "ChildRuntime", dependencies: [
            "IPC", "PollLoop", "CStockade", "CSeccomp", .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "Supervisor", dependencies: [
            "ChildRuntime", "Control", "NodeConfig", "IPC", "PollLoop", "Systemd", "Enode", "Secp256k1", "Sockets", "CStockade",
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
        ]),
        .target(name: "Acceptor", dependencies: ["ChildRuntime", "NodeConfig", "Enode", "IPC", "PollLoop", "Sockets", "CStockade"]),
        .target(name: "HandshakeWorker", dependencies: [
            "ChildRuntime", "NodeConfig", "IPC", "PollLoop", "DevP2P", "RLPxHandshake", "RLPxFrame", "Secp256k1", "Enode", "Sockets", "CStockade",
        ]),
        .target(name: "Streams", dependencies: [
            "Mux", "ExitPolicy", "SOCKS5", "NodeConfig", "Enode", "Sockets", "Control",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
        ], swiftSettings: [
            // Everything here is confined to one of the peer manager's event loops (NIO's model);
            // Swift 6's Sendable checking of NIO's callbacks adds nothing but noise there.
            .swiftLanguageMode(.v5),
        ]),
        .target(name: "PeerManager", dependencies: [
            "ChildRuntime", "Control", "NodeConfig", "IPC", "PollLoop", "DevP2P", "RLPxFrame", "Enode", "CStockade", "Streams",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
        ]),

        // --- the command line --------------------------------------------------------------
        .executableTarget(name: "StockadeCLI", dependencies: [
            "DevP2P", "Enode", "RLPxHandshake", "RLPxFrame", "IPC", "PollLoop", "Systemd", "CStockade",
            "NodeConfig", "Supervisor", "Acceptor", "HandshakeWorker", "PeerManager", "PeerLink", "Sockets", "ChildRuntime", "Control",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .target(name: "FuzzTargets", dependencies: ["DevP2P", "IPC", "Mux", "RLP", "RLPxFrame", "RLPxHandshake", "Secp256k1", "Snappy", "SOCKS5"]),
        .target(name: "CFuzzDriver"),
        .executableTarget(name: "StockadeFuzz", dependencies: ["FuzzTargets", "CFuzzDriver"]),
        .executableTarget(name: "StockadeBench", dependencies: [
            "Keccak", "Secp256k1", "RLPxFrame", "RLPxHandshake", "DevP2P", "Snappy", "Enode",
        ]),
        .executableTarget(name: "StockadeListingBench", dependencies: ["Control", "IPC"]),
        .executableTarget(name: "StockadeLoad", dependencies: [
            "PeerLink", "DevP2P", "Enode", "RLPxHandshake", "Secp256k1", "Sockets", "CStockade",
            // adopt-cost: swift-nio's channel setup against a plain epoll loop (issue 10).
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),
        // ops/bench/tunnel.sh's load tool: plain sockets and threads, no protocol code.
        .executableTarget(name: "StockadeTunnelBench", dependencies: ["Sockets"]),

        // --- tests -------------------------------------------------------------------------
        .target(name: "TestVectors", path: "Tests/TestVectors"),
        .testTarget(name: "RLPTests", dependencies: ["RLP", "TestVectors"]),
        .testTarget(name: "KeccakTests", dependencies: ["Keccak", "TestVectors"]),
        .testTarget(name: "Secp256k1Tests", dependencies: ["Secp256k1", "TestVectors"]),
        .testTarget(name: "RLPxHandshakeTests", dependencies: ["RLPxHandshake", "RLPxFrame", "Secp256k1", "Keccak", "RLP", "TestVectors"]),
        .testTarget(name: "EnodeTests", dependencies: ["Enode", "Secp256k1", "TestVectors"]),
        .testTarget(name: "RLPxFrameTests", dependencies: ["RLPxFrame", "Keccak", "RLP", "TestVectors"]),
        .testTarget(name: "SnappyTests", dependencies: ["Snappy", "TestVectors"]),
        .testTarget(name: "DevP2PTests", dependencies: ["DevP2P", "RLPxFrame", "RLPxHandshake", "Secp256k1", "Enode", "RLP", "TestVectors"]),
        .testTarget(name: "FuzzTargetsTests", dependencies: ["FuzzTargets", "TestVectors"]),
        .testTarget(name: "NodeConfigTests", dependencies: ["NodeConfig", "TestVectors", "Enode", "Secp256k1"]),
        .testTarget(name: "ExitPolicyTests", dependencies: ["ExitPolicy", "NodeConfig", "Enode", "Secp256k1"]),
        .testTarget(name: "PeerManagerTests", dependencies: ["PeerManager", "DevP2P", "Control"]),
        .testTarget(name: "AcceptorTests", dependencies: ["Acceptor", "NodeConfig"]),
        .testTarget(name: "SupervisorTests", dependencies: ["Supervisor", "Control", "PollLoop", "ChildRuntime"]),
        .testTarget(name: "DaemonTests", dependencies: [
            "DevP2P", "RLPxHandshake", "RLPxFrame", "Secp256k1", "Enode", "IPC", "CStockade", "TestVectors",
            "PeerLink", "Sockets", "Control", "NodeConfig", "Mux",
        ]),
        .testTarget(name: "MuxTests", dependencies: ["Mux", "TestVectors"]),
        .testTarget(name: "SOCKS5Tests", dependencies: ["SOCKS5"]),
        .testTarget(name: "IPCTests", dependencies: ["IPC", "PollLoop", "CStockade", "TestVectors"]),
    ]
)
