// Acceptor <-> worker messages (types 0x10, 0x11).

extension IPCMessage {
    /// 0x10, acceptor -> worker, with 1 fd (the accepted TCP connection): run the responder
    /// handshake on it.
    public struct InboundConnection: Sendable, Hashable, IPCMessageBody {
        /// Chosen by the acceptor, unique for the acceptor's lifetime; names the handshake slot.
        public var connectionID: UInt64
        public var remoteAddress: String
        public var remotePort: UInt16

        public init(connectionID: UInt64, remoteAddress: String, remotePort: UInt16) {
            self.connectionID = connectionID
            self.remoteAddress = remoteAddress
            self.remotePort = remotePort
        }

        func encode(into w: inout IPCBodyWriter) throws(IPCEncodingError) {
            w.writeU64(connectionID)
            try w.writeAddress(remoteAddress, field: "InboundConnection.remoteAddress")
            w.writeU16(remotePort)
        }

        init(from r: inout IPCBodyReader) throws(IPCDecodingError) {
            connectionID = try r.readU64(field: "InboundConnection.connectionID")
            remoteAddress = try r.readAddress(field: "InboundConnection.remoteAddress")
            remotePort = try r.readU16(field: "InboundConnection.remotePort")
        }
    }

    /// 0x11, worker -> acceptor: the handshake of an InboundConnection is over, so its pending
    /// slot is free.
    public struct HandshakeSlotFreed: Sendable, Hashable, IPCMessageBody {
        public enum Outcome: UInt8, Sendable, Hashable, CaseIterable {
            case handedOff = 0
            /// Failed for a benign reason: refused by a check, closed or reset by the remote.
            case failed = 1
            /// The remote sent bytes that are not the protocol (bad handshake, bad frame,
            /// bad Hello): counts toward the source's penalty.
            case protocolViolation = 2
            /// The remote let the handshake deadline pass: a small penalty.
            case timedOut = 3
        }

        public var connectionID: UInt64
        public var outcome: Outcome

        public init(connectionID: UInt64, outcome: Outcome) {
            self.connectionID = connectionID
            self.outcome = outcome
        }

        func encode(into w: inout IPCBodyWriter) throws(IPCEncodingError) {
            w.writeU64(connectionID)
            w.writeU8(outcome.rawValue)
        }

        init(from r: inout IPCBodyReader) throws(IPCDecodingError) {
            connectionID = try r.readU64(field: "HandshakeSlotFreed.connectionID")
            let raw = try r.readU8(field: "HandshakeSlotFreed.outcome")
            guard let outcome = Outcome(rawValue: raw) else {
                throw .invalidValue(field: "HandshakeSlotFreed.outcome", value: UInt64(raw))
            }
            self.outcome = outcome
        }
    }
}
