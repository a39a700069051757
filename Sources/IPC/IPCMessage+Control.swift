// Control channel messages: supervisor <-> every child (types 0x01...0x0a).

extension IPCMessage {
    /// 0x01, child -> supervisor, first frame a child sends once its loop runs.
    public struct ChildReady: Sendable, Hashable, IPCMessageBody {
        public var role: Role
        /// Which worker (0-based); 0 for the single acceptor and peer manager.
        public var index: UInt16
        public var pid: UInt32

        public init(role: Role, index: UInt16, pid: UInt32) {
            self.role = role
            self.index = index
            self.pid = pid
        }

        func encode(into w: inout IPCBodyWriter) throws(IPCEncodingError) {
            w.writeRole(role)
            w.writeU16(index)
            w.writeU32(pid)
        }

        init(from r: inout IPCBodyReader) throws(IPCDecodingError) {
            role = try r.readRole(field: "ChildReady.role")
            index = try r.readU16(field: "ChildReady.index")
            pid = try r.readU32(field: "ChildReady.pid")
        }
    }

    /// 0x02, child -> supervisor, periodically: proof of life plus the child's counters.
    public struct Heartbeat: Sendable, Hashable, IPCMessageBody {
        public struct Counter: Sendable, Hashable {
            public var name: String
            public var value: UInt64

            public init(name: String, value: UInt64) {
                self.name = name
                self.value = value
            }
        }

        public var counters: [Counter]

        public init(counters: [Counter]) { self.counters = counters }

        func encode(into w: inout IPCBodyWriter) throws(IPCEncodingError) {
            try w.writeCount(counters.count, field: "Heartbeat.counters", bound: IPCLimits.maxCounters)
            for counter in counters {
                try w.writeString(counter.name, field: "Heartbeat.counters.name", bound: IPCLimits.maxCounterNameLength)
                w.writeU64(counter.value)
            }
        }

        init(from r: inout IPCBodyReader) throws(IPCDecodingError) {
            let count = try r.readCount(field: "Heartbeat.counters", bound: IPCLimits.maxCounters)
            var counters: [Counter] = []
            counters.reserveCapacity(count)
            for _ in 0..<count {
                let name = try r.readString(field: "Heartbeat.counters.name", bound: IPCLimits.maxCounterNameLength)
                let value = try r.readU64(field: "Heartbeat.counters.value")
                counters.append(Counter(name: name, value: value))
            }
            self.counters = counters
        }
    }

    /// 0x03, supervisor -> child, with 1 fd: a fresh socketpair end to a (re)started neighbour,
    /// replacing any channel the child had to that neighbour.
    public struct AttachChannel: Sendable, Hashable, IPCMessageBody {
        public var neighbourRole: Role
        public var neighbourIndex: UInt16

        public init(neighbourRole: Role, neighbourIndex: UInt16) {
            self.neighbourRole = neighbourRole
            self.neighbourIndex = neighbourIndex
        }

        func encode(into w: inout IPCBodyWriter) throws(IPCEncodingError) {
            w.writeRole(neighbourRole)
            w.writeU16(neighbourIndex)
        }

        init(from r: inout IPCBodyReader) throws(IPCDecodingError) {
            neighbourRole = try r.readRole(field: "AttachChannel.neighbourRole")
            neighbourIndex = try r.readU16(field: "AttachChannel.neighbourIndex")
        }
    }

    /// 0x04, supervisor -> child: the role's settings as a UTF-8 JSON document. IPC checks only
    /// the bound and the UTF-8; the role parses the JSON.
    public struct Configure: Sendable, Hashable, IPCMessageBody {
        public var json: String

        public init(json: String) { self.json = json }

        func encode(into w: inout IPCBodyWriter) throws(IPCEncodingError) {
            try w.writeString(json, field: "Configure.json", bound: IPCLimits.maxConfigureLength)
        }

        init(from r: inout IPCBodyReader) throws(IPCDecodingError) {
            json = try r.readString(field: "Configure.json", bound: IPCLimits.maxConfigureLength)
        }
    }

    /// 0x05, supervisor -> child: stop; peers are disconnected with `disconnectReason`
    /// (devp2p 0x08 Quitting for a normal stop).
    public struct Shutdown: Sendable, Hashable, IPCMessageBody {
        public var disconnectReason: UInt8

        public init(disconnectReason: UInt8) { self.disconnectReason = disconnectReason }

        func encode(into w: inout IPCBodyWriter) throws(IPCEncodingError) {
            w.writeU8(disconnectReason)
        }

        init(from r: inout IPCBodyReader) throws(IPCDecodingError) {
            disconnectReason = try r.readU8(field: "Shutdown.disconnectReason")
        }
    }

    /// 0x06, peer manager -> supervisor: a peer was added or dropped, a handshake failed, or a
    /// session open was denied.
    public struct PeerEvent: Sendable, Hashable, IPCMessageBody {
        public enum Kind: UInt8, Sendable, Hashable, CaseIterable {
            case added = 1
            case dropped = 2
            case handshakeFailed = 3
            /// A peer's session open was denied by the exit's allowlist (detail: target and rule).
            case sessionDenied = 4
        }

        public var kind: Kind
        /// 64 bytes, or empty when the node id is not known (an early handshake failure).
        public var nodeID: [UInt8]
        public var remoteAddress: String
        public var remotePort: UInt16
        public var direction: Direction
        /// The devp2p disconnect reason, or nil when there is none. Any byte is a reason here,
        /// 0xff included (a peer may send it): "none" is a separate presence flag on the wire.
        public var disconnectReason: UInt8?
        public var detail: String

        public init(kind: Kind, nodeID: [UInt8], remoteAddress: String, remotePort: UInt16,
                    direction: Direction, disconnectReason: UInt8?, detail: String) {
            self.kind = kind
            self.nodeID = nodeID
            self.remoteAddress = remoteAddress
            self.remotePort = remotePort
            self.direction = direction
            self.disconnectReason = disconnectReason
            self.detail = detail
        }

        func encode(into w: inout IPCBodyWriter) throws(IPCEncodingError) {
            w.writeU8(kind.rawValue)
            try w.writeOptionalNodeID(nodeID, field: "PeerEvent.nodeID")
            try w.writeAddress(remoteAddress, field: "PeerEvent.remoteAddress")
            w.writeU16(remotePort)
            w.writeDirection(direction)
            w.writeBool(disconnectReason != nil)
            w.writeU8(disconnectReason ?? 0)
            try w.writeString(detail, field: "PeerEvent.detail", bound: IPCLimits.maxDetailLength)
        }

        init(from r: inout IPCBodyReader) throws(IPCDecodingError) {
            let rawKind = try r.readU8(field: "PeerEvent.kind")
            guard let kind = Kind(rawValue: rawKind) else {
                throw .invalidValue(field: "PeerEvent.kind", value: UInt64(rawKind))
            }
            self.kind = kind
            nodeID = try r.readOptionalNodeID(field: "PeerEvent.nodeID")
            remoteAddress = try r.readAddress(field: "PeerEvent.remoteAddress")
            remotePort = try r.readU16(field: "PeerEvent.remotePort")
            direction = try r.readDirection(field: "PeerEvent.direction")
            let hasReason = try r.readBool(field: "PeerEvent.hasReason")
            let reason = try r.readU8(field: "PeerEvent.disconnectReason")
            // Without a reason the byte must be 0, so every event has exactly one encoding.
            guard hasReason || reason == 0 else { throw .invalidValue(field: "PeerEvent.disconnectReason", value: UInt64(reason)) }
            disconnectReason = hasReason ? reason : nil
            detail = try r.readString(field: "PeerEvent.detail", bound: IPCLimits.maxDetailLength)
        }
    }
}

extension IPCMessage {
    /// 0x07, supervisor -> peer manager (request id set): an operator's command from the control
    /// socket that the peer manager answers (peers, add-peer, remove-peer, trust, untrust,
    /// disconnect), as the control socket's JSON request line.
    public struct ControlRequest: Sendable, Hashable, IPCMessageBody {
        public var json: String

        public init(json: String) { self.json = json }

        func encode(into w: inout IPCBodyWriter) throws(IPCEncodingError) {
            try w.writeString(json, field: "ControlRequest.json", bound: IPCLimits.maxControlRequestLength)
        }

        init(from r: inout IPCBodyReader) throws(IPCDecodingError) {
            json = try r.readString(field: "ControlRequest.json", bound: IPCLimits.maxControlRequestLength)
        }
    }

    /// 0x08, peer manager -> supervisor (the request's id): the JSON reply line for the client.
    public struct ControlReply: Sendable, Hashable, IPCMessageBody {
        public var json: String

        public init(json: String) { self.json = json }

        func encode(into w: inout IPCBodyWriter) throws(IPCEncodingError) {
            try w.writeString(json, field: "ControlReply.json", bound: IPCLimits.maxControlReplyLength)
        }

        init(from r: inout IPCBodyReader) throws(IPCDecodingError) {
            json = try r.readString(field: "ControlReply.json", bound: IPCLimits.maxControlReplyLength)
        }
    }
}

extension IPCMessage {
    /// 0x09, worker -> supervisor: the worker's channel to a neighbour broke (end of file, a bad
    /// frame, a full queue). A half-wired worker cannot do its job (ARCHITECTURE.md "Health"),
    /// so the supervisor counts it down and, if the neighbour itself is alive, replaces it.
    /// `attachment` is how many AttachChannel frames for that neighbour role the worker had
    /// received when the channel broke (1 for the first), so the supervisor can tell a report
    /// about the channel it last sent from a late report about an older one.
    public struct ChannelLost: Sendable, Hashable, IPCMessageBody {
        public var neighbourRole: Role
        public var neighbourIndex: UInt16
        public var attachment: UInt32

        public init(neighbourRole: Role, neighbourIndex: UInt16, attachment: UInt32) {
            self.neighbourRole = neighbourRole
            self.neighbourIndex = neighbourIndex
            self.attachment = attachment
        }

        func encode(into w: inout IPCBodyWriter) throws(IPCEncodingError) {
            w.writeRole(neighbourRole)
            w.writeU16(neighbourIndex)
            w.writeU32(attachment)
        }

        init(from r: inout IPCBodyReader) throws(IPCDecodingError) {
            neighbourRole = try r.readRole(field: "ChannelLost.neighbourRole")
            neighbourIndex = try r.readU16(field: "ChannelLost.neighbourIndex")
            attachment = try r.readU32(field: "ChannelLost.attachment")
        }
    }

    /// 0x0a, supervisor -> acceptor: a worker process ended, and whether it crashed (a fault
    /// signal or abort) rather than being killed (SIGKILL/SIGTERM from an operator, the OOM
    /// killer, or the supervisor replacing a hung or half-wired worker) or exiting. Only a
    /// crash counts against the sources that had handshakes in flight on it (OpenSSH's
    /// PerSourcePenalties "crash").
    public struct WorkerExited: Sendable, Hashable, IPCMessageBody {
        public var index: UInt16
        public var crashed: Bool

        public init(index: UInt16, crashed: Bool) {
            self.index = index
            self.crashed = crashed
        }

        func encode(into w: inout IPCBodyWriter) throws(IPCEncodingError) {
            w.writeU16(index)
            w.writeBool(crashed)
        }

        init(from r: inout IPCBodyReader) throws(IPCDecodingError) {
            index = try r.readU16(field: "WorkerExited.index")
            crashed = try r.readBool(field: "WorkerExited.crashed")
        }
    }
}
