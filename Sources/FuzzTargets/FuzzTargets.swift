import DevP2P
import IPC
import RLP
import RLPxFrame
import RLPxHandshake
import Secp256k1
import Snappy

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

    static let fixedKey = try! PrivateKey(bytes: (1...32).map { UInt8($0) })
    static let fixedHello = Hello(clientID: "fuzz", capabilities: [StockadeProtocol.capability], listenPort: 0,
                                  nodeID: fixedKey.publicKey.raw64)
    static let fixedSecrets = SessionSecrets(aesSecret: [UInt8](repeating: 7, count: 32), macSecret: [UInt8](repeating: 9, count: 32),
                                             egressMAC: .init(), ingressMAC: .init())
}
