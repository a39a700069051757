/// Every knob of a Stockade node. Loaded from TOML (`NodeConfig.load`), defaults embedded
/// (`NodeConfig.defaultTOML`), handed to the children as JSON in the IPC Configure message.
public struct NodeConfig: Codable, Sendable, Equatable {
    /// `[node] log_level`'s values: swift-log's levels.
    public static let logLevels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
    /// The longest Unix socket path: sun_path's 108 bytes less the terminating NUL.
    public static let maxSocketPathBytes = 107
    public struct Node: Codable, Sendable, Equatable {
        public var name: String
        public var stateDir: String
        public var keyFile: String
        public var listen: [String]
        /// trace, debug, info, notice, warning, error or critical (swift-log's levels).
        public var logLevel: String
        /// Event loops (threads) the peer manager runs live links on; 0 = one per online core.
        public var linkThreads: Int
    }
    public struct Peers: Codable, Sendable, Equatable {
        public var maxPeers: Int
        public var maxPending: Int
        public var dialRatio: Int
        public var noDial: Bool
        public var `static`: [String]
        public var trusted: [String]
        public var netrestrict: [String]
        public var inboundThrottleMs: Int
        public var throttleLAN: Bool
        public var penalties: Bool
        public var penaltyExempt: [String]
        public var trustedPendingSlots: Int
        /// Untrusted handshakes at once from one /24 (IPv4) or /64 (IPv6); 0 = no limit.
        public var maxPendingPerNetwork: Int
    }
    public struct Workers: Codable, Sendable, Equatable {
        public var count: Int
        public var handshakeTimeoutMs: Int
        /// An inbound connection must send its first bytes within this (of the handshake deadline).
        public var firstBytesTimeoutMs: Int
    }
    public struct Timeouts: Codable, Sendable, Equatable {
        public var pingIntervalMs: Int
        public var readTimeoutMs: Int
        public var writeTimeoutMs: Int
        public var dialTimeoutMs: Int
    }
    public struct Control: Codable, Sendable, Equatable {
        public var socket: String
    }
    public struct Metrics: Codable, Sendable, Equatable {
        public var listen: String
    }

    public var node: Node
    public var peers: Peers
    public var workers: Workers
    public var timeouts: Timeouts
    public var control: Control
    public var metrics: Metrics
    /// Streams (StreamsConfig.swift). Defaults until their tables are parsed.
    public var mux: Mux = .standard
    public var services: [String: String] = [:]
    public var allow: [ExitRule] = []
    public var deny: [ExitRule] = []
    public var socks5: Socks5 = Socks5(listen: "", defaultExit: "")
    public var forwards: [Forward] = []

    /// The embedded defaults, parsed from `defaultTOML` so the documented text is the truth.
    public static var defaults: NodeConfig {
        do { return try ConfigParser.parse(defaultTOML, base: nil) } catch {
            preconditionFailure("embedded default configuration is invalid: \(error)")
        }
    }

    /// The key file path after defaulting.
    public var resolvedKeyFile: String {
        node.keyFile.isEmpty ? node.stateDir + "/nodekey" : node.keyFile
    }

    public var resolvedControlSocket: String {
        control.socket.isEmpty ? node.stateDir + "/control.sock" : control.socket
    }

    /// Worker processes to run: `count`, or one per online core with a minimum of 2.
    public func resolvedWorkerCount(cores: Int) -> Int {
        workers.count > 0 ? workers.count : max(2, cores)
    }

    /// Event loops for the peer manager's links: `link_threads`, or one per online core.
    public func resolvedLinkThreads(cores: Int) -> Int {
        node.linkThreads > 0 ? node.linkThreads : max(1, cores)
    }

    /// go-ethereum's maxDialedConns: MaxPeers / DialRatio, at least 1 (0 with NoDial).
    public var maxDialedPeers: Int {
        if peers.noDial { return 0 }
        let ratio = peers.dialRatio > 0 ? peers.dialRatio : 3
        return max(1, peers.maxPeers / ratio)
    }

    /// go-ethereum's inbound limit: MaxPeers − maxDialedConns.
    public var maxInboundPeers: Int { max(0, peers.maxPeers - maxDialedPeers) }
}
