// Streams messages on the control channel: supervisor -> peer manager (types 0x0b, 0x0c).

extension IPCMessage {
    /// 0x0b, supervisor -> peer manager, with 1 fd: a control-socket connection whose client
    /// asked `stockade connect PEER TARGET`. The peer manager opens a session to TARGET on PEER,
    /// writes one JSON status line on the fd, then relays the session's bytes over it. The
    /// supervisor only checks the caller (SO_PEERCRED) and hands the socket over as it is.
    public struct ConnectStream: Sendable, Hashable, IPCMessageBody {
        /// Node ID, a unique prefix of 8+ hex digits, or an enode URL, as the operator typed it.
        public var peer: String
        /// A service name of the exit, or host:port as the exit sees it.
        public var target: String
        /// Who asked ("pid 1234 uid 1000"), for the log and `stockade sessions`.
        public var origin: String
        /// Bytes the client sent after its request line that the supervisor already read: they
        /// belong to the session and ride with its New.
        public var earlyData: [UInt8]

        public init(peer: String, target: String, origin: String, earlyData: [UInt8] = []) {
            self.peer = peer
            self.target = target
            self.origin = origin
            self.earlyData = earlyData
        }

        func encode(into w: inout IPCBodyWriter) throws(IPCEncodingError) {
            try w.writeString(peer, field: "ConnectStream.peer", bound: IPCLimits.maxConnectArgumentLength)
            try w.writeString(target, field: "ConnectStream.target", bound: IPCLimits.maxConnectArgumentLength)
            try w.writeString(origin, field: "ConnectStream.origin", bound: IPCLimits.maxConnectOriginLength)
            try w.writeBytes(earlyData, field: "ConnectStream.earlyData", bound: IPCLimits.maxConnectEarlyDataLength)
        }

        init(from r: inout IPCBodyReader) throws(IPCDecodingError) {
            peer = try r.readString(field: "ConnectStream.peer", bound: IPCLimits.maxConnectArgumentLength)
            target = try r.readString(field: "ConnectStream.target", bound: IPCLimits.maxConnectArgumentLength)
            origin = try r.readString(field: "ConnectStream.origin", bound: IPCLimits.maxConnectOriginLength)
            earlyData = try r.readBytes(field: "ConnectStream.earlyData", bound: IPCLimits.maxConnectEarlyDataLength)
        }
    }

    /// 0x0c, supervisor -> peer manager, with 1 fd: a listening TCP socket systemd handed the
    /// service (socket activation) for an entry: the SOCKS5 entry, or the `[[forward]]` whose
    /// `listen` is `listen`. The supervisor keeps its own copy, so the socket outlives a peer
    /// manager restart and is sent again to every peer manager it starts, before Configure.
    public struct EntryListener: Sendable, Hashable, IPCMessageBody {
        public enum Kind: UInt8, Sendable, Hashable, CaseIterable {
            case socks5 = 1
            case forward = 2
        }

        public var kind: Kind
        /// The `[[forward]] listen` the socket serves (for socks5: the socket's address, for the log).
        public var listen: String

        public init(kind: Kind, listen: String) {
            self.kind = kind
            self.listen = listen
        }

        func encode(into w: inout IPCBodyWriter) throws(IPCEncodingError) {
            w.writeU8(kind.rawValue)
            try w.writeString(listen, field: "EntryListener.listen", bound: IPCLimits.maxListenAddressLength)
        }

        init(from r: inout IPCBodyReader) throws(IPCDecodingError) {
            let raw = try r.readU8(field: "EntryListener.kind")
            guard let kind = Kind(rawValue: raw) else { throw .invalidValue(field: "EntryListener.kind", value: UInt64(raw)) }
            self.kind = kind
            listen = try r.readString(field: "EntryListener.listen", bound: IPCLimits.maxListenAddressLength)
        }
    }
}
