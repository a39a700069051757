/// The streams side of a node's configuration (issue 7): the mux bounds, the exit side's
/// services and allow/deny rules, and the entry side's SOCKS5 listener and local forwards.
/// Parsed from `[mux]`, `[services]`, `[[allow]]`, `[[deny]]`, `[socks5]` and `[[forward]]`.
extension NodeConfig {
    /// `[mux]`: bounds of the Mux.Cool sessions over each peer link (ipc/MUX.md).
    public struct Mux: Codable, Sendable, Equatable {
        /// Sessions one peer link may hold at once, both directions together.
        public var maxSessionsPerPeer: Int
        /// Opens a peer may have unanswered at once (yamux's AcceptBacklog, 256).
        public var maxPendingOpens: Int
        /// Largest receive window one session's auto-tuning may grow to, in bytes.
        public var maxSessionWindow: Int
        /// Bytes buffered for one peer's sessions, both directions.
        public var maxPeerBuffer: Int
        /// Bytes buffered for every session of the process.
        public var maxTotalBuffer: Int
        /// Deadline of a target connect at the exit, in milliseconds.
        public var connectTimeoutMs: Int
        /// Deadline of an open at the entry (peer dial, open, connect, reply), in milliseconds.
        public var openTimeoutMs: Int
        /// A UDP session idle (no datagram either way) this long ends, in milliseconds.
        public var udpIdleTimeoutMs: Int = 300_000

        public init(maxSessionsPerPeer: Int, maxPendingOpens: Int, maxSessionWindow: Int, maxPeerBuffer: Int,
                    maxTotalBuffer: Int, connectTimeoutMs: Int, openTimeoutMs: Int) {
            self.maxSessionsPerPeer = maxSessionsPerPeer
            self.maxPendingOpens = maxPendingOpens
            self.maxSessionWindow = maxSessionWindow
            self.maxPeerBuffer = maxPeerBuffer
            self.maxTotalBuffer = maxTotalBuffer
            self.connectTimeoutMs = connectTimeoutMs
            self.openTimeoutMs = openTimeoutMs
        }

        /// The defaults, each with its anchor (also in the embedded default TOML).
        public static let standard = Mux(
            maxSessionsPerPeer: 1024,          // libp2p's resource manager allows ~512-1024 streams per peer
            maxPendingOpens: 256,              // yamux's AcceptBacklog
            maxSessionWindow: 16 << 20,        // yamux/libp2p auto-tune cap (16 MiB)
            maxPeerBuffer: 64 << 20,
            maxTotalBuffer: 256 << 20,
            connectTimeoutMs: 10_000,
            openTimeoutMs: 15_000)             // go-ethereum's defaultDialTimeout, so a static peer's dial fits
    }

    /// One `[[allow]]` or `[[deny]]` entry: which peers it applies to and which targets.
    public struct ExitRule: Codable, Sendable, Equatable {
        /// Node IDs (128 hex digits), or "trusted" for every trusted node. For deny rules an
        /// empty list means every peer.
        public var peers: [String]
        /// Service names, `IP:port`, `name:port`, `CIDR:port`, with a port, a range `lo-hi` or `*`.
        public var targets: [String]

        public init(peers: [String], targets: [String]) {
            self.peers = peers
            self.targets = targets
        }
    }

    /// `[socks5]`: the SOCKS5 entry (RFC 1928, CONNECT, no auth). Off while `listen` is empty.
    public struct Socks5: Codable, Sendable, Equatable {
        /// `IP:port` to listen on; empty means off.
        public var listen: String
        /// Node ID (128 hex) of the peer that gets destinations not named `<service>.<id>.stk`;
        /// empty refuses them (reply 02, not allowed by ruleset).
        public var defaultExit: String

        public init(listen: String, defaultExit: String) {
            self.listen = listen
            self.defaultExit = defaultExit
        }
    }

    /// One `[[forward]]`: a local listener whose connections become sessions to `target` on `peer`.
    public struct Forward: Codable, Sendable, Equatable {
        /// `IP:port` to listen on.
        public var listen: String
        /// Node ID of the exit peer: 128 hex digits, or an enode URL (its ID is used).
        public var peer: String
        /// A service name of the exit, or `host:port`.
        public var target: String
        /// "tcp" (connections, as `ssh -L`) or "udp" (datagrams, one session per client address).
        public var network: String

        public init(listen: String, peer: String, target: String, network: String = "tcp") {
            self.listen = listen
            self.peer = peer
            self.target = target
            self.network = network
        }
    }
}
