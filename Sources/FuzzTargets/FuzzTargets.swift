import DevP2P
import IPC
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

    static let fixedKey = try! PrivateKey(bytes: (1...32).map { UInt8($0) })
    static let fixedHello = Hello(clientID: "fuzz", capabilities: [StockadeProtocol.capability], listenPort: 0,
                                  nodeID: fixedKey.publicKey.raw64)
    static let fixedSecrets = SessionSecrets(aesSecret: [UInt8](repeating: 7, count: 32), macSecret: [UInt8](repeating: 9, count: 32),
                                             egressMAC: .init(), ingressMAC: .init())
}
