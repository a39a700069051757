import DevP2P
import IPC
import Mux
import RLP
import RLPxFrame
import RLPxHandshake
import Secp256k1
import Snappy
import SOCKS5

/// Entry points for coverage-guided fuzzing of every decoder that reads untrusted bytes: each
/// takes arbitrary bytes, must return (never trap, never allocate unboundedly) whatever they
/// are. `ops/fuzz.sh` drives them with libFuzzer; FuzzTargetsTests runs them on seeded random
/// and mutated inputs in every test run.
public enum FuzzTargets {
    public static let all: [String: @Sendable ([UInt8]) -> Void] = [
        "rlp": rlp,
        "handshake": handshake,
        "frame": frame,
        "message": message,
        "snappy": snappy,
        "ipc": ipc,
        "setup": setup,
        "socks5": socks5,
        "mux-frames": muxFrames,
        "mux-link": muxLink,
    ]

    /// Strict RLP decoding; a value that decodes must re-encode to the same bytes (canonical).
    public static func rlp(_ data: [UInt8]) {
        if let item = try? RLP.decode(data) {
            precondition(RLP.encode(item) == data, "strict RLP decoded a non-canonical encoding")
        }
    }

    /// A responder reading an auth packet from a hostile initiator.
    public static func handshake(_ data: [UInt8]) {
        var reader = HandshakePacketReader(expecting: .auth)
        _ = try? reader.read(data, key: fixedKey)
        var responder = HandshakeResponder(staticKey: fixedKey)
        _ = try? responder.receiveAuth(data)
    }

    /// The frame decoder of an established session fed arbitrary bytes.
    public static func frame(_ data: [UInt8]) {
        var codec = FrameCodec(secrets: fixedSecrets, maximumIncomingFrameSize: 64 * 1024)
        codec.feed(data)
        for _ in 0..<16 { guard (try? codec.nextFrame()) != nil else { break } }
        _ = try? FrameCodec(exportedState: data)
    }

    /// Message-level decoding after framing: message ids, snappy, Hello, Disconnect.
    public static func message(_ data: [UInt8]) {
        for snappy in [false, true] {
            if let m = try? MessageCodec(snappyEnabled: snappy).decode(data) {
                _ = try? BaseProtocolMessage.decode(m)
            }
        }
        _ = try? Hello.decode(data)
    }

    public static func snappy(_ data: [UInt8]) {
        if let out = try? Snappy.decompress(data, limit: 1 << 20) {
            precondition(out.count <= 1 << 20, "snappy decoded past its limit")
        }
    }

    /// An IPC record from a broken or hostile neighbour process.
    public static func ipc(_ data: [UInt8]) {
        for fds in 0...1 { _ = try? IPCFrame.decode(data, receivedDescriptors: fds) }
    }

    /// The whole connection setup as a responder, bytes split into two reads.
    public static func setup(_ data: [UInt8]) {
        guard var s = try? ConnectionSetup(role: .responder, staticKey: fixedKey, localHello: fixedHello) else { return }
        let cut = data.isEmpty ? 0 : Int(data[0]) % max(1, data.count)
        for part in [Array(data[..<cut]), Array(data[cut...])] {
            for event in s.receive(part) {
                if case .checkPostHandshake = event { _ = s.resolvePostHandshake(.accept) }
            }
        }
    }

    /// A SOCKS5 server handshake fed arbitrary bytes, once in one read and once in splits drawn
    /// from the bytes themselves. Invariants: `.needMore` only alone; `.send` at most once, before
    /// the end; at most one terminal step (`.request` or `.refuse`), last, with `[]` from every
    /// later feed; never more than `maximumMessageBytes` buffered; refusal bytes are nothing, `05 FF`
    /// or a 10-byte failure reply; and the split feeding ends as the one-shot feeding did, the
    /// request's leftover plus the later reads being the one-shot leftover.
    public static func socks5(_ data: [UInt8]) {
        let allowUDP = data.count % 2 == 1
        func run(_ chunks: [ArraySlice<UInt8>]) -> (steps: [SOCKS5ServerHandshake.Step], after: [UInt8]) {
            var server = SOCKS5ServerHandshake(allowUDPAssociate: allowUDP)
            var steps: [SOCKS5ServerHandshake.Step] = []
            var after: [UInt8] = []
            for chunk in chunks {
                let finishedBefore = server.isFinished
                let out = server.feed(Array(chunk))
                precondition(server.bufferedByteCount <= SOCKS5ServerHandshake.maximumMessageBytes, "SOCKS5 buffered past its bound")
                if finishedBefore {
                    precondition(out.isEmpty, "SOCKS5 answered after a terminal step")
                    after += chunk
                    continue
                }
                precondition(!out.isEmpty, "SOCKS5 feed returned no step before the end")
                if out.contains(.needMore) { precondition(out == [.needMore] && !server.isFinished, "needMore with other steps") }
                for (i, step) in out.enumerated() {
                    switch step {
                    case .needMore: break
                    case .send(let bytes):
                        precondition(bytes == [5, 0] && !steps.contains(.send([5, 0])), "SOCKS5 method selection wrong or repeated")
                    case .request(let request, _):
                        precondition(i == out.count - 1 && server.isFinished, "SOCKS5 request not last")
                        precondition(request.command == .connect || (allowUDP && request.command == .udpAssociate), "SOCKS5 passed a refused command")
                        if case .domain(let name) = request.address {
                            precondition((1...255).contains(name.utf8.count) && name.utf8.allSatisfy { (0x21...0x7e).contains($0) }, "SOCKS5 passed a bad domain")
                        }
                        _ = request.address.hostText
                        _ = SOCKS5ServerHandshake.reply(.succeeded, bound: request.address, port: request.port)
                    case .refuse(let bytes, let reason):
                        precondition(i == out.count - 1 && server.isFinished && !reason.isEmpty, "SOCKS5 refusal not last")
                        precondition(bytes.isEmpty || bytes == [5, 0xff]
                                     || (bytes.count == 10 && bytes[0] == 5 && [1, 7, 8].contains(bytes[1])), "SOCKS5 refusal bytes malformed")
                    }
                }
                steps += out.filter { $0 != .needMore }
            }
            return (steps, after)
        }
        let whole = run([data[...]])
        // Splits of 1...3 or 1...40 bytes, from a generator seeded by the input's length and last byte.
        var chunks: [ArraySlice<UInt8>] = []
        var state = (UInt64(data.count) << 8 | UInt64(data.last ?? 0)) &* 0x9e37_79b9_7f4a_7c15 | 1
        var rest = data[...]
        while !rest.isEmpty {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            let size = 1 + Int(state % UInt64(state & 1 == 0 ? 3 : 40))
            chunks.append(rest.prefix(size))
            rest = rest.dropFirst(size)
        }
        let split = run(chunks)
        precondition(whole.after.isEmpty, "SOCKS5 one-shot feeding left bytes behind")
        var joined = split.steps
        if case .request(let request, let leftover)? = joined.last {
            joined[joined.count - 1] = .request(request, leftover: leftover + split.after)
        }
        precondition(joined == whole.steps, "SOCKS5 split feeding differs from one-shot feeding")
    }

    /// Mux.Cool frames and window updates from a hostile peer; frames that decode re-encode to
    /// bytes that decode to the same frames.
    public static func muxFrames(_ data: [UInt8]) {
        if let frames = try? MuxFrameCodec.decode(data) {
            let again = try? MuxFrameCodec.decode(MuxFrameCodec.encode(frames))
            precondition(again == frames, "mux frames do not survive a re-encoding")
        }
        if let updates = try? MuxWindowUpdate.decode(data) {
            precondition((try? MuxWindowUpdate.decode(MuxWindowUpdate.encode(updates))) == updates, "window updates changed")
        }
    }

    /// A mux link driven by the input: messages from a hostile peer (raw, or frames built from
    /// the bytes so they get past the decoder) interleaved with local actions. It never traps,
    /// its counts stay sane and everything it sends decodes.
    public static func muxLink(_ data: [UInt8]) {
        var input = ByteReader(data)
        let limits = MuxLimits(maxSessions: 1 + Int(input.byte() % 8), maxPendingOpens: 1 + Int(input.byte() % 4),
                               maxWindow: MuxLimits.initialWindow << Int(input.byte() % 3))
        var link = MuxLink(role: input.byte() & 1 == 0 ? .dialer : .listener, limits: limits)
        var now = ContinuousClock.now
        func check(_ link: inout MuxLink) {
            precondition(link.bufferedBytes >= 0, "negative buffered bytes")
            precondition(link.liveCount <= limits.maxSessions, "more live sessions than the limit")
        }
        func drain(_ link: inout MuxLink, maxBytes: Int) {
            guard let m = link.nextMessage(maxBytes: maxBytes) else { return }
            precondition(m.payload.count <= max(maxBytes, 1024), "message past its bound")
            if m.id == MuxMessageID.frames {
                precondition((try? MuxFrameCodec.decode(m.payload)) != nil, "the link sent frames that do not decode")
            } else {
                precondition(m.id == MuxMessageID.windowUpdate && (try? MuxWindowUpdate.decode(m.payload)) != nil,
                             "the link sent a window update that does not decode")
            }
        }
        while !input.isEmpty {
            let id = UInt16(input.byte() % 24)
            let code = MuxErrorCode(rawValue: input.byte())
            switch input.byte() % 11 {
            case 0:   // a raw message with an arbitrary id
                let messageID = UInt64(input.byte() % 4)
                let payload = input.bytes(Int(input.byte()) * 4)
                guard (try? link.receive(messageID: messageID, payload: payload, now: now)) != nil else { return }
            case 1:   // a frame that decodes
                let status = MuxSessionStatus(rawValue: 1 + input.byte() % 4) ?? .keep
                var frame = MuxFrame(sessionID: id, status: status, options: MuxOptions(rawValue: input.byte() & 0x06),
                                     target: status == .new ? MuxTarget(address: .ipv4([127, 0, 0, 1]), port: 80) : nil,
                                     errorCode: status == .end ? code : nil, data: input.bytes(Int(input.byte()) * 64))
                if status != .end { frame.errorCode = nil }
                guard (try? link.receive(messageID: MuxMessageID.frames, payload: MuxFrameCodec.encode([frame]), now: now)) != nil
                else { return }
            case 2:
                let update = MuxWindowUpdate(sessionID: id, increment: UInt32(1 + Int(input.byte()) * 4096))
                guard (try? link.receive(messageID: MuxMessageID.windowUpdate, payload: MuxWindowUpdate.encode([update]), now: now)) != nil
                else { return }
            case 3: _ = link.open(input.byte() & 1 == 0 ? .service("web") : MuxTarget(address: .domain(""), port: 1), now: now)
            case 4: link.accept(id)
            case 5: link.refuse(id, code)
            case 6: link.send(id, input.bytes(Int(input.byte()) * 128))
            case 7: link.finish(id)
            case 8: link.abort(id, code)
            case 9: link.consumed(id, Int(input.byte()) * 1024, now: now, growthAllowance: Int(input.byte()) * 4096)
            default:
                now += .microseconds(Int64(input.byte()) * 100)
                link.rtt = .microseconds(Int64(input.byte()) * 50)
                drain(&link, maxBytes: Int(input.byte()) * 512)
            }
            check(&link)
        }
        for _ in 0..<10_000 where link.hasPendingOutput { drain(&link, maxBytes: MuxLimits.messageSize) }
        check(&link)
    }

    /// The fuzz input read front to back; zeros once it runs out.
    struct ByteReader {
        private let data: [UInt8]
        private var at = 0
        init(_ data: [UInt8]) { self.data = data }
        var isEmpty: Bool { at >= data.count }
        mutating func byte() -> UInt8 {
            guard at < data.count else { return 0 }
            defer { at += 1 }
            return data[at]
        }
        /// `count` bytes: the input's next ones (repeated when it has fewer).
        mutating func bytes(_ count: Int) -> [UInt8] {
            let take = min(count, data.count - min(at, data.count))
            var out = Array(data[min(at, data.count)..<min(at, data.count) + take])
            at += take
            while out.count < count { out.append(UInt8(truncatingIfNeeded: out.count)) }
            return out
        }
    }

    static let fixedKey = try! PrivateKey(bytes: (1...32).map { UInt8($0) })
    static let fixedHello = Hello(clientID: "fuzz", capabilities: [StockadeProtocol.capability], listenPort: 0,
                                  nodeID: fixedKey.publicKey.raw64)
    static let fixedSecrets = SessionSecrets(aesSecret: [UInt8](repeating: 7, count: 32), macSecret: [UInt8](repeating: 9, count: 32),
                                             egressMAC: .init(), ingressMAC: .init())
}
