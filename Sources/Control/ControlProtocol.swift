import Foundation

/// The control socket's protocol: one JSON request per line from the client, one JSON reply
/// per line from the daemon; `events` keeps the connection open and streams one JSON line per
/// event. Plain JSON lines so `socat` and scripts can speak it too (README, "Control socket").
public struct ControlRequest: Codable, Sendable, Equatable {
    public enum Command: String, Codable, Sendable, CaseIterable {
        case status, peers, enode, events
        case addPeer = "add-peer", removePeer = "remove-peer"
        case trust, untrust, disconnect
        case sessions, forwards
        /// The static and trusted lists as they are now: the config's and run-time edits.
        case nodes
        case forwardAdd = "forward-add", forwardRemove = "forward-remove"
        /// `stockade connect PEER TARGET`: the connection becomes the session's byte stream
        /// after one status line (ipc/PROTOCOL.md, ConnectStream).
        case connect
    }

    public var command: Command
    /// enode URL for add-peer, remove-peer, trust, untrust.
    public var enode: String?
    /// Node ID (hex, or a unique prefix of at least 8 digits) for disconnect.
    public var id: String?
    /// devp2p disconnect reason for disconnect (default requested).
    public var reason: UInt8?
    /// forward-add: the local IP:port to listen on (forward-remove: the forward to stop).
    public var listen: String?
    /// forward-add, connect: the exit peer's node ID (or a unique prefix, or enode URL).
    public var peer: String?
    /// forward-add, connect: a service name of the exit, or host:port.
    public var target: String?
    /// forward-add: "tcp" (the default) or "udp".
    public var network: String?
    /// peers, sessions: the first entry of the page the supervisor asks the peer manager for
    /// (its IPC replies are bounded, so long lists come in pages; clients never set it).
    public var offset: Int?

    public init(command: Command, enode: String? = nil, id: String? = nil, reason: UInt8? = nil,
                listen: String? = nil, peer: String? = nil, target: String? = nil) {
        self.command = command
        self.enode = enode
        self.id = id
        self.reason = reason
        self.listen = listen
        self.peer = peer
        self.target = target
        offset = nil
    }
}

public struct ControlReply: Codable, Sendable, Equatable {
    public var ok: Bool
    public var error: String?
    public var result: ControlResult?
    /// connect: the Mux.Cool error code (ipc/MUX.md) of a session open that failed, at the
    /// entry (peer not connected, timed out) or at the exit (denied, refused, unreachable).
    public var muxError: UInt8?
    /// connect: the request cannot name anything (bad or ambiguous PEER, bad TARGET).
    public var usage: Bool?

    /// The wire's snake_case names, spelled out (no key strategy converts them).
    enum CodingKeys: String, CodingKey {
        case ok, error, result, usage
        case muxError = "mux_error"
    }

    public init(ok: Bool, error: String? = nil, result: ControlResult? = nil, muxError: UInt8? = nil, usage: Bool? = nil) {
        self.ok = ok
        self.error = error
        self.result = result
        self.muxError = muxError
        self.usage = usage
    }

    public static func failure(_ message: String) -> ControlReply { ControlReply(ok: false, error: message) }
    public static func success(_ result: ControlResult? = nil) -> ControlReply { ControlReply(ok: true, result: result) }
}

/// What a successful reply carries, by command.
public struct ControlResult: Codable, Sendable, Equatable {
    public var status: NodeStatus?
    public var peers: [PeerInfo]?
    public var enode: String?
    public var message: String?
    public var sessions: [SessionInfo]?
    public var forwards: [ForwardInfo]?
    /// nodes: the static and the trusted nodes' enode URLs.
    public var staticNodes: [String]?
    public var trustedNodes: [String]?
    /// Between the peer manager and the supervisor: the offset of the next page, if any.
    public var next: Int?

    enum CodingKeys: String, CodingKey {
        case status, peers, enode, message, sessions, forwards, next
        case staticNodes = "static_nodes", trustedNodes = "trusted_nodes"
    }

    public init(status: NodeStatus? = nil, peers: [PeerInfo]? = nil, enode: String? = nil, message: String? = nil,
                sessions: [SessionInfo]? = nil, forwards: [ForwardInfo]? = nil) {
        self.status = status
        self.peers = peers
        self.enode = enode
        self.message = message
        self.sessions = sessions
        self.forwards = forwards
    }
}

/// One mux session as `stockade sessions` shows it.
public struct SessionInfo: Codable, Sendable, Equatable {
    /// The peer's node ID (hex).
    public var peer: String
    public var session: UInt16
    /// outbound: opened by this node (its SOCKS5 or forward client); inbound: opened by the peer.
    public var direction: String
    public var target: String
    public var state: String
    /// The local socket: the client at an entry, the target at an exit.
    public var local: String
    /// Bytes of session data received from and sent to the peer.
    public var bytesIn: UInt64
    public var bytesOut: UInt64
    /// This side's receive window and what the peer's window still allows us to send, in bytes.
    public var receiveWindow: Int
    public var sendWindow: Int
    public var buffered: Int
    public var ageSeconds: Double

    enum CodingKeys: String, CodingKey {
        case peer, session, direction, target, state, local, buffered
        case bytesIn = "bytes_in", bytesOut = "bytes_out", receiveWindow = "receive_window", sendWindow = "send_window"
        case ageSeconds = "age_seconds"
    }

    public init(peer: String, session: UInt16, direction: String, target: String, state: String, local: String,
                bytesIn: UInt64, bytesOut: UInt64, receiveWindow: Int, sendWindow: Int, buffered: Int, ageSeconds: Double) {
        self.peer = peer
        self.session = session
        self.direction = direction
        self.target = target
        self.state = state
        self.local = local
        self.bytesIn = bytesIn
        self.bytesOut = bytesOut
        self.receiveWindow = receiveWindow
        self.sendWindow = sendWindow
        self.buffered = buffered
        self.ageSeconds = ageSeconds
    }
}

/// One local forward as `stockade forward list` shows it.
public struct ForwardInfo: Codable, Sendable, Equatable {
    public var listen: String
    public var peer: String
    public var target: String
    /// Added with `stockade forward add` rather than from the config file.
    public var runtime: Bool
    /// "tcp" or "udp".
    public var network: String

    public init(listen: String, peer: String, target: String, runtime: Bool, network: String = "tcp") {
        self.network = network
        self.listen = listen
        self.peer = peer
        self.target = target
        self.runtime = runtime
    }
}

/// One live peer as `stockade peers` shows it.
public struct PeerInfo: Codable, Sendable, Equatable {
    public var id: String
    public var clientID: String
    public var address: String
    public var direction: String
    public var trusted: Bool
    public var `static`: Bool
    public var capabilities: [String]
    /// Seconds since the Unix epoch.
    public var connectedSince: Double
    public var bytesIn: UInt64
    public var bytesOut: UInt64
    /// Which of the peer manager's link loops runs this link (0 = the run loop); for
    /// diagnosis and tests of the spread (`[node] link_threads`).
    public var linkLoop: Int?

    /// The wire's snake_case names, spelled out (no key strategy converts them).
    enum CodingKeys: String, CodingKey {
        case id, address, direction, trusted, `static`, capabilities
        case clientID = "client_id", connectedSince = "connected_since", bytesIn = "bytes_in", bytesOut = "bytes_out"
        case linkLoop = "link_loop"
    }

    public init(id: String, clientID: String, address: String, direction: String, trusted: Bool, isStatic: Bool,
                capabilities: [String], connectedSince: Double, bytesIn: UInt64, bytesOut: UInt64) {
        self.id = id
        self.clientID = clientID
        self.address = address
        self.direction = direction
        self.trusted = trusted
        self.static = isStatic
        self.capabilities = capabilities
        self.connectedSince = connectedSince
        self.bytesIn = bytesIn
        self.bytesOut = bytesOut
    }
}

/// The numbers STATUS= and `stockade status` show (the same ones).
public struct NodeStatus: Codable, Sendable, Equatable {
    public var enode: String
    public var peersInbound: UInt64
    public var peersOutbound: UInt64
    public var pendingHandshakes: UInt64
    public var handshakesPerSecond: UInt64
    public var workersUp: Int
    public var workersTotal: Int
    public var restarts: Int
    public var staticNodes: Int
    public var trustedNodes: Int
    public var uptimeSeconds: Double
    /// What is wrong while the node still serves (a child crash-looping or restarting); empty
    /// when healthy. Optional so that replies of older daemons still decode.
    public var degraded: [String]?

    enum CodingKeys: String, CodingKey {
        case enode, restarts, degraded
        case peersInbound = "peers_inbound", peersOutbound = "peers_outbound", pendingHandshakes = "pending_handshakes"
        case handshakesPerSecond = "handshakes_per_second", workersUp = "workers_up", workersTotal = "workers_total"
        case staticNodes = "static_nodes", trustedNodes = "trusted_nodes", uptimeSeconds = "uptime_seconds"
    }

    public init(enode: String, peersInbound: UInt64, peersOutbound: UInt64, pendingHandshakes: UInt64, handshakesPerSecond: UInt64,
                workersUp: Int, workersTotal: Int, restarts: Int, staticNodes: Int, trustedNodes: Int, uptimeSeconds: Double,
                degraded: [String] = []) {
        self.enode = enode
        self.peersInbound = peersInbound
        self.peersOutbound = peersOutbound
        self.pendingHandshakes = pendingHandshakes
        self.handshakesPerSecond = handshakesPerSecond
        self.workersUp = workersUp
        self.workersTotal = workersTotal
        self.restarts = restarts
        self.staticNodes = staticNodes
        self.trustedNodes = trustedNodes
        self.uptimeSeconds = uptimeSeconds
        self.degraded = degraded
    }

    /// The one-line STATUS= text.
    public var line: String {
        "peers in \(peersInbound) out \(peersOutbound), pending \(pendingHandshakes), handshakes \(handshakesPerSecond)/s, "
            + "workers \(workersUp)/\(workersTotal) up, restarts \(restarts)"
            + ((degraded ?? []).isEmpty ? "" : "; degraded: " + (degraded ?? []).joined(separator: ", "))
    }
}

/// One `stockade events` line.
public struct ControlEvent: Codable, Sendable, Equatable {
    /// peer-added, peer-dropped, handshake-failed
    public var event: String
    public var id: String
    public var address: String
    public var direction: String
    public var reason: String?
    public var reasonCode: UInt8?
    /// For drops: "remote" (the peer sent Disconnect) or "local" (this node decided).
    public var by: String?
    public var detail: String
    public var time: Double

    enum CodingKeys: String, CodingKey {
        case event, id, address, direction, reason, by, detail, time
        case reasonCode = "reason_code"
    }

    public init(event: String, id: String, address: String, direction: String, reason: String?, reasonCode: UInt8?,
                by: String?, detail: String, time: Double) {
        self.event = event
        self.id = id
        self.address = address
        self.direction = direction
        self.reason = reason
        self.reasonCode = reasonCode
        self.by = by
        self.detail = detail
        self.time = time
    }
}

/// JSON lines in and out.
///
/// Every Control type spells its snake_case keys in its CodingKeys, so the coders convert no
/// key names (the conversion was a quarter of a 10,000-peer listing's CPU, issue 10), and one
/// encoder and one decoder serve every line (both are safe to share once configured).
public enum ControlCoding {
    public static func line<T: Encodable>(_ value: T) -> [UInt8] {
        var bytes = Array((try? shared.encode(value)) ?? Data("{}".utf8))
        bytes.append(0x0a)
        return bytes
    }

    /// `value`'s JSON, no newline (nil if it cannot be encoded).
    public static func json<T: Encodable>(_ value: T) -> Data? {
        try? shared.encode(value)
    }

    public static func decode<T: Decodable>(_ type: T.Type, _ line: some Collection<UInt8>) throws -> T {
        try sharedDecoder.decode(type, from: Data(line))
    }

    /// One style for every key a script reads: snake_case (`peers_inbound`, `client_id`: the
    /// types' CodingKeys), sorted, slashes as they are (`enode://…`, not `enode:\/\/…`).
    /// A new encoder, for callers that change its formatting (the CLI's `--json`).
    public static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    public static var decoder: JSONDecoder { JSONDecoder() }

    private static let shared: JSONEncoder = encoder
    private static let sharedDecoder = JSONDecoder()

    /// Longest request line the daemon reads: a request is a command and one enode URL.
    public static let maximumRequestLength = 4096
}
