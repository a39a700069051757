import Foundation

/// What each child is told in its IPC Configure message (a JSON document): only what that role
/// needs. The node key goes to the workers alone (ARCHITECTURE.md "Security boundaries").
public struct AcceptorSettings: Codable, Sendable, Equatable {
    public var maxPending: Int
    public var netrestrict: [String]
    public var inboundThrottleMs: Int
    public var throttleLAN: Bool
    public var penalties: Bool
    public var penaltyExempt: [String]
    /// IP addresses of the trusted nodes' enode URLs, and the pending slots kept for them.
    public var trustedAddresses: [String]
    public var trustedPendingSlots: Int
    public var maxPendingPerNetwork: Int

    public init(config: NodeConfig, trustedAddresses: [String]) {
        maxPending = config.peers.maxPending
        netrestrict = config.peers.netrestrict
        inboundThrottleMs = config.peers.inboundThrottleMs
        throttleLAN = config.peers.throttleLAN
        penalties = config.peers.penalties
        penaltyExempt = config.peers.penaltyExempt
        self.trustedAddresses = trustedAddresses
        trustedPendingSlots = trustedAddresses.isEmpty ? 0 : config.peers.trustedPendingSlots
        maxPendingPerNetwork = config.peers.maxPendingPerNetwork
    }
}

public struct WorkerSettings: Codable, Sendable, Equatable {
    public var nodeKeyHex: String
    public var clientName: String
    public var listenPort: Int
    public var handshakeTimeoutMs: Int
    public var dialTimeoutMs: Int
    public var firstBytesTimeoutMs: Int
    public init(nodeKeyHex: String, clientName: String, listenPort: Int, handshakeTimeoutMs: Int, dialTimeoutMs: Int,
                firstBytesTimeoutMs: Int) {
        self.nodeKeyHex = nodeKeyHex
        self.clientName = clientName
        self.listenPort = listenPort
        self.handshakeTimeoutMs = handshakeTimeoutMs
        self.dialTimeoutMs = dialTimeoutMs
        self.firstBytesTimeoutMs = firstBytesTimeoutMs
    }
}

public struct PeerManagerSettings: Codable, Sendable, Equatable {
    public var nodeIDHex: String
    public var maxPeers: Int
    public var maxDialed: Int
    public var maxInbound: Int
    public var noDial: Bool
    public var staticNodes: [String]
    public var trustedNodes: [String]
    public var netrestrict: [String]
    public var pingIntervalMs: Int
    public var readTimeoutMs: Int
    public var writeTimeoutMs: Int
    /// Streams: bounds, exit rules, entry listeners (StreamsConfig.swift).
    public var mux: NodeConfig.Mux
    public var services: [String: String]
    public var allow: [NodeConfig.ExitRule]
    public var deny: [NodeConfig.ExitRule]
    public var socks5: NodeConfig.Socks5
    public var forwards: [NodeConfig.Forward]
    /// `[node] link_threads` as configured (0 = one per core, resolved by the peer manager).
    public var linkThreads: Int
    public init(nodeIDHex: String, config: NodeConfig) {
        self.nodeIDHex = nodeIDHex
        maxPeers = config.peers.maxPeers
        maxDialed = config.maxDialedPeers
        maxInbound = config.maxInboundPeers
        noDial = config.peers.noDial
        staticNodes = config.peers.static
        trustedNodes = config.peers.trusted
        netrestrict = config.peers.netrestrict
        pingIntervalMs = config.timeouts.pingIntervalMs
        readTimeoutMs = config.timeouts.readTimeoutMs
        writeTimeoutMs = config.timeouts.writeTimeoutMs
        mux = config.mux
        services = config.services
        allow = config.allow
        deny = config.deny
        socks5 = config.socks5
        forwards = config.forwards
        linkThreads = config.node.linkThreads
    }
}

/// JSON in and out for the Configure message.
public enum RoleSettingsCoding {
    public static func encode<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        // Encoding plain structs of strings and numbers cannot fail.
        let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    public static func decode<T: Decodable>(_ type: T.Type, from json: String) throws -> T {
        let decoder = JSONDecoder()
        return try decoder.decode(type, from: Data(json.utf8))
    }
}

