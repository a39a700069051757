// Worker <-> peer manager messages (types 0x20...0x26).

extension IPCMessage {
    /// 0x20, worker -> peer manager, a request (non-zero request id): the RLPx handshake is
    /// done and the remote node id known; may the worker go on (self? already connected? too
    /// many peers? trusted?). On accept the peer manager reserves the node id.
    public struct CheckPostHandshake: Sendable, Hashable, IPCMessageBody {
        public var connectionID: UInt64
        public var nodeID: [UInt8]
        public var direction: Direction
        public var remoteAddress: String
        public var remotePort: UInt16

        public init(connectionID: UInt64, nodeID: [UInt8], direction: Direction,
                    remoteAddress: String, remotePort: UInt16) {
            self.connectionID = connectionID
            self.nodeID = nodeID
            self.direction = direction
            self.remoteAddress = remoteAddress
            self.remotePort = remotePort
        }

        func encode(into w: inout IPCBodyWriter) throws(IPCEncodingError) {
            w.writeU64(connectionID)
            try w.writeNodeID(nodeID, field: "CheckPostHandshake.nodeID")
            w.writeDirection(direction)
            try w.writeAddress(remoteAddress, field: "CheckPostHandshake.remoteAddress")
            w.writeU16(remotePort)
        }

        init(from r: inout IPCBodyReader) throws(IPCDecodingError) {
            connectionID = try r.readU64(field: "CheckPostHandshake.connectionID")
            nodeID = try r.readNodeID(field: "CheckPostHandshake.nodeID")
            direction = try r.readDirection(field: "CheckPostHandshake.direction")
            remoteAddress = try r.readAddress(field: "CheckPostHandshake.remoteAddress")
            remotePort = try r.readU16(field: "CheckPostHandshake.remotePort")
        }
    }

    /// 0x21, worker -> peer manager, a request: Hello exchanged; is there a shared capability?
    /// The Hello's client id rides along so a refusal's log line can say who was refused.
    public struct CheckAddPeer: Sendable, Hashable, IPCMessageBody {
        public var connectionID: UInt64
        public var nodeID: [UInt8]
        public var capabilities: [Capability]
        public var clientID: String

        public init(connectionID: UInt64, nodeID: [UInt8], capabilities: [Capability], clientID: String = "") {
            self.connectionID = connectionID
            self.nodeID = nodeID
            self.capabilities = capabilities
            self.clientID = clientID
        }

        func encode(into w: inout IPCBodyWriter) throws(IPCEncodingError) {
            w.writeU64(connectionID)
            try w.writeNodeID(nodeID, field: "CheckAddPeer.nodeID")
            try w.writeCapabilities(capabilities, field: "CheckAddPeer.capabilities")
            try w.writeString(clientID, field: "CheckAddPeer.clientID", bound: IPCLimits.maxClientIDLength)
        }

        init(from r: inout IPCBodyReader) throws(IPCDecodingError) {
            connectionID = try r.readU64(field: "CheckAddPeer.connectionID")
            nodeID = try r.readNodeID(field: "CheckAddPeer.nodeID")
            capabilities = try r.readCapabilities(field: "CheckAddPeer.capabilities")
            clientID = try r.readString(field: "CheckAddPeer.clientID", bound: IPCLimits.maxClientIDLength)
        }
    }

    /// 0x22, peer manager -> worker, the reply to 0x20 or 0x21 (same request id).
    public struct CheckVerdict: Sendable, Hashable, IPCMessageBody {
        /// nil accepts (encoded 0xff); otherwise the devp2p disconnect reason the worker sends.
        public var disconnectReason: UInt8?
        /// The remote is a trusted node (go-ethereum's trusted flag: exempt from peer limits).
        public var trusted: Bool

        public init(disconnectReason: UInt8?, trusted: Bool) {
            self.disconnectReason = disconnectReason
            self.trusted = trusted
        }

        public static func accept(trusted: Bool) -> CheckVerdict {
            CheckVerdict(disconnectReason: nil, trusted: trusted)
        }

        public var accepts: Bool { disconnectReason == nil }

        /// The verdict byte that means "accept".
        static let acceptByte: UInt8 = 0xff

        func encode(into w: inout IPCBodyWriter) throws(IPCEncodingError) {
            if disconnectReason == Self.acceptByte {
                throw .invalidValue(field: "CheckVerdict.verdict", value: UInt64(Self.acceptByte))
            }
            w.writeU8(disconnectReason ?? Self.acceptByte)
            w.writeBool(trusted)
        }

        init(from r: inout IPCBodyReader) throws(IPCDecodingError) {
            let verdict = try r.readU8(field: "CheckVerdict.verdict")
            disconnectReason = verdict == Self.acceptByte ? nil : verdict
            trusted = try r.readBool(field: "CheckVerdict.trusted")
        }
    }

    /// 0x23, worker -> peer manager, with 1 fd (the peer's TCP connection): both checks passed,
    /// Hello exchanged; the peer manager owns the connection from here on.
    public struct PeerHandoff: Sendable, Hashable, IPCMessageBody {
        public var connectionID: UInt64
        public var nodeID: [UInt8]
        public var direction: Direction
        public var remoteAddress: String
        public var remotePort: UInt16
        /// The remote Hello's protocol version.
        public var helloVersion: UInt64
        public var clientID: String
        public var capabilities: [Capability]
        public var listenPort: UInt16
        /// Both sides speak devp2p version >= 5, so frames after Hello are snappy-compressed.
        public var snappy: Bool
        /// Opaque to IPC: the exported frame-codec state (ciphers, MAC states) and the bytes the
        /// worker read past Hello, so that no byte is lost or repeated at the handoff.
        public var sessionState: [UInt8]

        public init(connectionID: UInt64, nodeID: [UInt8], direction: Direction,
                    remoteAddress: String, remotePort: UInt16, helloVersion: UInt64,
                    clientID: String, capabilities: [Capability], listenPort: UInt16,
                    snappy: Bool, sessionState: [UInt8]) {
            self.connectionID = connectionID
            self.nodeID = nodeID
            self.direction = direction
            self.remoteAddress = remoteAddress
            self.remotePort = remotePort
            self.helloVersion = helloVersion
            self.clientID = clientID
            self.capabilities = capabilities
            self.listenPort = listenPort
            self.snappy = snappy
            self.sessionState = sessionState
        }

        func encode(into w: inout IPCBodyWriter) throws(IPCEncodingError) {
            w.writeU64(connectionID)
            try w.writeNodeID(nodeID, field: "PeerHandoff.nodeID")
            w.writeDirection(direction)
            try w.writeAddress(remoteAddress, field: "PeerHandoff.remoteAddress")
            w.writeU16(remotePort)
            w.writeU64(helloVersion)
            try w.writeString(clientID, field: "PeerHandoff.clientID", bound: IPCLimits.maxClientIDLength)
            try w.writeCapabilities(capabilities, field: "PeerHandoff.capabilities")
            w.writeU16(listenPort)
            w.writeBool(snappy)
            try w.writeBytes(sessionState, field: "PeerHandoff.sessionState", bound: IPCLimits.maxSessionStateLength)
        }

        init(from r: inout IPCBodyReader) throws(IPCDecodingError) {
            connectionID = try r.readU64(field: "PeerHandoff.connectionID")
            nodeID = try r.readNodeID(field: "PeerHandoff.nodeID")
            direction = try r.readDirection(field: "PeerHandoff.direction")
            remoteAddress = try r.readAddress(field: "PeerHandoff.remoteAddress")
            remotePort = try r.readU16(field: "PeerHandoff.remotePort")
            helloVersion = try r.readU64(field: "PeerHandoff.helloVersion")
            clientID = try r.readString(field: "PeerHandoff.clientID", bound: IPCLimits.maxClientIDLength)
            capabilities = try r.readCapabilities(field: "PeerHandoff.capabilities")
            listenPort = try r.readU16(field: "PeerHandoff.listenPort")
            snappy = try r.readBool(field: "PeerHandoff.snappy")
            sessionState = try r.readBytes(field: "PeerHandoff.sessionState", bound: IPCLimits.maxSessionStateLength)
        }
    }

    /// 0x24, worker -> peer manager: a handshake that passed CheckPostHandshake failed before
    /// its handoff, so the peer manager releases the node id it reserved.
    public struct HandshakeAborted: Sendable, Hashable, IPCMessageBody {
        public var connectionID: UInt64
        /// 64 bytes, or empty if unknown.
        public var nodeID: [UInt8]
        public var reason: String

        public init(connectionID: UInt64, nodeID: [UInt8], reason: String) {
            self.connectionID = connectionID
            self.nodeID = nodeID
            self.reason = reason
        }

        func encode(into w: inout IPCBodyWriter) throws(IPCEncodingError) {
            w.writeU64(connectionID)
            try w.writeOptionalNodeID(nodeID, field: "HandshakeAborted.nodeID")
            try w.writeString(reason, field: "HandshakeAborted.reason", bound: IPCLimits.maxDetailLength)
        }

        init(from r: inout IPCBodyReader) throws(IPCDecodingError) {
            connectionID = try r.readU64(field: "HandshakeAborted.connectionID")
            nodeID = try r.readOptionalNodeID(field: "HandshakeAborted.nodeID")
            reason = try r.readString(field: "HandshakeAborted.reason", bound: IPCLimits.maxDetailLength)
        }
    }

    /// 0x25, peer manager -> worker: dial this node and run the initiator handshake.
    public struct DialRequest: Sendable, Hashable, IPCMessageBody {
        /// Chosen by the peer manager; echoed in DialFailed and in the dial's later frames.
        public var connectionID: UInt64
        public var nodeID: [UInt8]
        public var address: String
        public var port: UInt16

        public init(connectionID: UInt64, nodeID: [UInt8], address: String, port: UInt16) {
            self.connectionID = connectionID
            self.nodeID = nodeID
            self.address = address
            self.port = port
        }

        func encode(into w: inout IPCBodyWriter) throws(IPCEncodingError) {
            w.writeU64(connectionID)
            try w.writeNodeID(nodeID, field: "DialRequest.nodeID")
            try w.writeAddress(address, field: "DialRequest.address")
            w.writeU16(port)
        }

        init(from r: inout IPCBodyReader) throws(IPCDecodingError) {
            connectionID = try r.readU64(field: "DialRequest.connectionID")
            nodeID = try r.readNodeID(field: "DialRequest.nodeID")
            address = try r.readAddress(field: "DialRequest.address")
            port = try r.readU16(field: "DialRequest.port")
        }
    }

    /// 0x26, worker -> peer manager: a DialRequest ended without a handoff.
    public struct DialFailed: Sendable, Hashable, IPCMessageBody {
        public enum Kind: UInt8, Sendable, Hashable, CaseIterable {
            case unreachable = 1
            case handshakeFailed = 2
            case timeout = 3
            case refusedByCheck = 4
        }

        public var connectionID: UInt64
        public var nodeID: [UInt8]
        public var kind: Kind
        public var detail: String

        public init(connectionID: UInt64, nodeID: [UInt8], kind: Kind, detail: String) {
            self.connectionID = connectionID
            self.nodeID = nodeID
            self.kind = kind
            self.detail = detail
        }

        func encode(into w: inout IPCBodyWriter) throws(IPCEncodingError) {
            w.writeU64(connectionID)
            try w.writeNodeID(nodeID, field: "DialFailed.nodeID")
            w.writeU8(kind.rawValue)
            try w.writeString(detail, field: "DialFailed.detail", bound: IPCLimits.maxDetailLength)
        }

        init(from r: inout IPCBodyReader) throws(IPCDecodingError) {
            connectionID = try r.readU64(field: "DialFailed.connectionID")
            nodeID = try r.readNodeID(field: "DialFailed.nodeID")
            let raw = try r.readU8(field: "DialFailed.kind")
            guard let kind = Kind(rawValue: raw) else {
                throw .invalidValue(field: "DialFailed.kind", value: UInt64(raw))
            }
            self.kind = kind
            detail = try r.readString(field: "DialFailed.detail", bound: IPCLimits.maxDetailLength)
        }
    }
}
