import IPC
import XCTest

/// Every message encodes and decodes back to itself, at its bounds as well as in the examples,
/// and a sender cannot encode past a bound.
final class MessageRoundTripTests: XCTestCase {
    private func roundTrip(_ frame: IPCFrame, file: StaticString = #filePath, line: UInt = #line) throws {
        let bytes = try frame.encoded()
        XCTAssertEqual(bytes.count, IPCLimits.headerSize + Int(bytes[4]) << 24 + Int(bytes[5]) << 16
                       + Int(bytes[6]) << 8 + Int(bytes[7]), "header length", file: file, line: line)
        let decoded = try IPCFrame.decode(bytes, receivedDescriptors: frame.message.type.descriptorCount)
        XCTAssertEqual(decoded, frame, file: file, line: line)
    }

    private let node = Examples.nodeID

    private func capabilities(_ n: Int) -> [IPCMessage.Capability] {
        (0..<n).map { .init(name: String(repeating: "c", count: IPCLimits.maxCapabilityNameLength - 2) + String(format: "%02d", $0), version: UInt32.max - UInt32($0)) }
    }

    func testEveryExampleRoundTrips() throws {
        for (_, frame) in Examples.frames { try roundTrip(frame) }
    }

    func testEveryTypeHasAnExampleOfThatType() {
        for type in IPCMessageType.allCases {
            XCTAssertEqual(Examples.frames[type.name]?.message.type, type)
        }
    }

    func testControlMessagesAtTheirBounds() throws {
        for role in IPCMessage.Role.allCases {
            try roundTrip(IPCFrame(.childReady(.init(role: role, index: .max, pid: .max))))
            try roundTrip(IPCFrame(.attachChannel(.init(neighbourRole: role, neighbourIndex: .max))))
        }
        try roundTrip(IPCFrame(.heartbeat(.init(counters: []))))
        let fullCounters = (0..<IPCLimits.maxCounters).map {
            IPCMessage.Heartbeat.Counter(name: String(repeating: "n", count: 62) + String(format: "%02d", $0), value: UInt64.max - UInt64($0))
        }
        try roundTrip(IPCFrame(.heartbeat(.init(counters: fullCounters))))
        try roundTrip(IPCFrame(.configure(.init(json: ""))))
        let json = "{\"k\":\"" + String(repeating: "é", count: (IPCLimits.maxConfigureLength - 8) / 2) + "\"}"
        XCTAssertLessThanOrEqual(json.utf8.count, IPCLimits.maxConfigureLength)
        try roundTrip(IPCFrame(.configure(.init(json: json))))
        try roundTrip(IPCFrame(.shutdown(.init(disconnectReason: 0))))
        try roundTrip(IPCFrame(.controlRequest(.init(json: String(repeating: "r", count: IPCLimits.maxControlRequestLength))), requestID: 1))
        try roundTrip(IPCFrame(.controlReply(.init(json: String(repeating: "p", count: IPCLimits.maxControlReplyLength))), requestID: .max))
        for kind in IPCMessage.PeerEvent.Kind.allCases {
            for direction in IPCMessage.Direction.allCases {
                try roundTrip(IPCFrame(.peerEvent(.init(
                    kind: kind, nodeID: kind == .handshakeFailed ? [] : node,
                    remoteAddress: "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255", remotePort: .max,
                    direction: direction, disconnectReason: kind == .added ? nil : 0x10,
                    detail: String(repeating: "d", count: IPCLimits.maxDetailLength)))))
            }
        }
        // Issue 9, fault 4: every reason byte is a reason, 0xff and 0x00 included; "none" is
        // its own flag and never collides with one.
        for reason: UInt8? in [nil, 0x00, 0x10, 0xfe, 0xff] {
            try roundTrip(IPCFrame(.peerEvent(.init(kind: .dropped, nodeID: node, remoteAddress: "::1", remotePort: 1,
                                                    direction: .inbound, disconnectReason: reason, detail: "r"))))
        }
    }

    func testAcceptorMessages() throws {
        try roundTrip(IPCFrame(.inboundConnection(.init(connectionID: .max, remoteAddress: "127.0.0.1", remotePort: 0))))
        try roundTrip(IPCFrame(.inboundConnection(.init(connectionID: 0, remoteAddress: "::1", remotePort: 1))))
        for outcome in IPCMessage.HandshakeSlotFreed.Outcome.allCases {
            try roundTrip(IPCFrame(.handshakeSlotFreed(.init(connectionID: 42, outcome: outcome))))
        }
    }

    func testPeerManagerMessages() throws {
        try roundTrip(IPCFrame(.checkPostHandshake(.init(
            connectionID: 5, nodeID: node, direction: .outbound, remoteAddress: "10.0.0.1", remotePort: 30303)),
            requestID: .max))
        try roundTrip(IPCFrame(.checkAddPeer(.init(connectionID: 5, nodeID: node, capabilities: [])), requestID: 1))
        try roundTrip(IPCFrame(.checkAddPeer(.init(
            connectionID: 5, nodeID: node, capabilities: capabilities(IPCLimits.maxCapabilities),
            clientID: String(repeating: "g", count: IPCLimits.maxClientIDLength))), requestID: 1))
        try roundTrip(IPCFrame(.checkVerdict(.init(disconnectReason: 0x03, trusted: true)), requestID: 1))
        try roundTrip(IPCFrame(.checkVerdict(.init(disconnectReason: 0x00, trusted: false)), requestID: 1))
        try roundTrip(IPCFrame(.checkVerdict(.accept(trusted: true)), requestID: 1))
        try roundTrip(IPCFrame(.handshakeAborted(.init(connectionID: 1, nodeID: node, reason: ""))))
        try roundTrip(IPCFrame(.dialRequest(.init(connectionID: 3, nodeID: node, address: "::", port: 1))))
        for kind in IPCMessage.DialFailed.Kind.allCases {
            try roundTrip(IPCFrame(.dialFailed(.init(connectionID: 3, nodeID: node, kind: kind, detail: "x"))))
        }
    }

    /// The largest possible handoff fits the body bound (the bound's stated reason).
    func testLargestPeerHandoffFitsTheBodyBound() throws {
        let frame = IPCFrame(.peerHandoff(.init(
            connectionID: .max, nodeID: node, direction: .outbound,
            remoteAddress: "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255", remotePort: .max,
            helloVersion: .max, clientID: String(repeating: "g", count: IPCLimits.maxClientIDLength),
            capabilities: capabilities(IPCLimits.maxCapabilities), listenPort: .max, snappy: false,
            sessionState: [UInt8](repeating: 0xab, count: IPCLimits.maxSessionStateLength))))
        let bytes = try frame.encoded()
        XCTAssertLessThanOrEqual(bytes.count, IPCLimits.maxRecordLength)
        try roundTrip(frame)
    }

    func testVerdictAccessors() {
        XCTAssertTrue(IPCMessage.CheckVerdict.accept(trusted: false).accepts)
        XCTAssertFalse(IPCMessage.CheckVerdict(disconnectReason: 0x04, trusted: false).accepts)
    }

    // MARK: the sender refuses what the receiver would reject

    private func assertEncodingFails(_ frame: IPCFrame, _ expected: IPCEncodingError,
                                     file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try frame.encoded(), file: file, line: line) { error in
            XCTAssertEqual(error as? IPCEncodingError, expected, file: file, line: line)
        }
    }

    func testEncodingRejectsFieldsPastTheirBounds() {
        assertEncodingFails(
            IPCFrame(.configure(.init(json: String(repeating: "x", count: IPCLimits.maxConfigureLength + 1)))),
            .fieldTooLong(field: "Configure.json", length: IPCLimits.maxConfigureLength + 1, bound: IPCLimits.maxConfigureLength))
        assertEncodingFails(
            IPCFrame(.heartbeat(.init(counters: Array(repeating: .init(name: "a", value: 1), count: 65)))),
            .tooManyEntries(field: "Heartbeat.counters", count: 65, bound: 64))
        assertEncodingFails(
            IPCFrame(.heartbeat(.init(counters: [.init(name: String(repeating: "a", count: 65), value: 1)]))),
            .fieldTooLong(field: "Heartbeat.counters.name", length: 65, bound: 64))
        assertEncodingFails(
            IPCFrame(.dialRequest(.init(connectionID: 1, nodeID: Array(node.dropLast()), address: "::1", port: 1))),
            .invalidLength(field: "DialRequest.nodeID", length: 63))
        assertEncodingFails(
            IPCFrame(.handshakeAborted(.init(connectionID: 1, nodeID: [1, 2], reason: ""))),
            .invalidLength(field: "HandshakeAborted.nodeID", length: 2))
        assertEncodingFails(
            IPCFrame(.inboundConnection(.init(connectionID: 1, remoteAddress: "localhost", remotePort: 1))),
            .invalidAddress(field: "InboundConnection.remoteAddress"))
        assertEncodingFails(
            IPCFrame(.inboundConnection(.init(connectionID: 1, remoteAddress: "1.2.3.4\0x", remotePort: 1))),
            .invalidAddress(field: "InboundConnection.remoteAddress"))
        assertEncodingFails(
            IPCFrame(.checkVerdict(.init(disconnectReason: 0xff, trusted: false)), requestID: 1),
            .invalidValue(field: "CheckVerdict.verdict", value: 0xff))
        assertEncodingFails(
            IPCFrame(.checkAddPeer(.init(connectionID: 1, nodeID: node, capabilities: capabilities(65))), requestID: 1),
            .tooManyEntries(field: "CheckAddPeer.capabilities", count: 65, bound: 64))
        assertEncodingFails(
            IPCFrame(.checkAddPeer(.init(connectionID: 1, nodeID: node,
                                         capabilities: [.init(name: String(repeating: "n", count: 33), version: 1)])), requestID: 1),
            .fieldTooLong(field: "CheckAddPeer.capabilities.name", length: 33, bound: 32))
        assertEncodingFails(
            IPCFrame(.checkAddPeer(.init(connectionID: 1, nodeID: node, capabilities: [],
                                         clientID: String(repeating: "g", count: 257))), requestID: 1),
            .fieldTooLong(field: "CheckAddPeer.clientID", length: 257, bound: 256))
    }

    func testEncodingEnforcesTheRequestIDRule() {
        assertEncodingFails(Examples.frames["CheckPostHandshake"].map { IPCFrame($0.message, requestID: 0) }!,
                            .requestIDMisuse(type: .checkPostHandshake, requestID: 0))
        assertEncodingFails(Examples.frames["CheckVerdict"].map { IPCFrame($0.message, requestID: 0) }!,
                            .requestIDMisuse(type: .checkVerdict, requestID: 0))
        assertEncodingFails(IPCFrame(.shutdown(.init(disconnectReason: 8)), requestID: 3),
                            .requestIDMisuse(type: .shutdown, requestID: 3))
    }

    func testRoutingTable() {
        XCTAssertEqual(IPCMessageType.types(from: .peerManager, to: .worker), [.checkVerdict, .dialRequest])
        XCTAssertEqual(IPCMessageType.types(from: .supervisor, to: .acceptor), [.attachChannel, .configure, .shutdown, .workerExited])
        XCTAssertEqual(IPCMessageType.types(from: .worker, to: .supervisor), [.childReady, .heartbeat, .channelLost])
        XCTAssertEqual(IPCMessageType.types(from: .acceptor, to: .supervisor), [.childReady, .heartbeat])
        XCTAssertEqual(IPCMessageType.types(from: .peerManager, to: .supervisor),
                       [.childReady, .heartbeat, .peerEvent, .controlReply])
        XCTAssertEqual(IPCMessageType.types(from: .supervisor, to: .peerManager),
                       [.attachChannel, .configure, .shutdown, .controlRequest, .connectStream, .entryListener])
        XCTAssertEqual(IPCMessageType.types(from: .acceptor, to: .worker), [.inboundConnection])
        XCTAssertEqual(IPCMessageType.types(from: .worker, to: .acceptor), [.handshakeSlotFreed])
        XCTAssertEqual(IPCMessageType.types(from: .worker, to: .peerManager),
                       [.checkPostHandshake, .checkAddPeer, .peerHandoff, .handshakeAborted, .dialFailed])
        XCTAssertTrue(IPCMessageType.types(from: .acceptor, to: .peerManager).isEmpty)
        // Every type has a sender and a receiver, and fd-carrying types are exactly these five.
        for type in IPCMessageType.allCases {
            XCTAssertFalse(type.senders.isEmpty)
            XCTAssertFalse(type.receivers.isEmpty)
        }
        XCTAssertEqual(Set(IPCMessageType.allCases.filter { $0.descriptorCount == 1 }),
                       [.attachChannel, .inboundConnection, .peerHandoff, .connectStream, .entryListener])
    }
}
