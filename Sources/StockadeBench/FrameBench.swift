import DevP2P
import Keccak
import RLPxFrame

/// Section d: one message through both ends of a session: message codec (snappy on or off)
/// and frame encoder on the sending side, frame decoder and message codec on the receiving
/// side. Throughput counts message payload bytes.
enum FrameBench {
    static let sizes = [1024, 64 * 1024, 1024 * 1024]
    /// The first capability message id (devp2p: ids from 0x10 after the base protocol).
    static let messageID: UInt64 = 0x10

    /// Pseudo-random payload: incompressible, so snappy's figure is its worst case (it scans
    /// and emits literals), not a flattering one.
    static func payload(_ size: Int) -> [UInt8] {
        var x: UInt64 = 0x9e37_79b9_7f4a_7c15
        return (0..<size).map { _ in
            x ^= x << 13; x ^= x >> 7; x ^= x << 17   // xorshift64 (Marsaglia 2003)
            return UInt8(truncatingIfNeeded: x)
        }
    }

    /// A sender/receiver pair whose secrets match (the receiver's ingress MAC is the sender's egress).
    static func codecPair() -> (sender: FrameCodec, receiver: FrameCodec) {
        var egress = Keccak256()
        egress.update(Array("bench egress seed".utf8))
        var ingress = Keccak256()
        ingress.update(Array("bench ingress seed".utf8))
        let aes = [UInt8](repeating: 0x11, count: 32), mac = [UInt8](repeating: 0x22, count: 32)
        return (FrameCodec(secrets: SessionSecrets(aesSecret: aes, macSecret: mac, egressMAC: egress, ingressMAC: ingress)),
                FrameCodec(secrets: SessionSecrets(aesSecret: aes, macSecret: mac, egressMAC: ingress, ingressMAC: egress)))
    }

    static func run(runs: Int, clock: Clock.Kind) -> [(bytes: Int, snappy: Bool, megabytesPerSecond: Samples)] {
        var results: [(Int, Bool, Samples)] = []
        for snappy in [false, true] {
            for size in sizes {
                let message = payload(size)
                let codec = MessageCodec(snappyEnabled: snappy)
                var (sender, receiver) = codecPair()
                var sink: [UInt8] = []
                let perCall = Measure.secondsPerCall(runs: runs, clock: clock.seconds) {
                    let frameData = try! codec.encode(id: messageID, payload: message)
                    receiver.feed(try! sender.encode(frameData))
                    guard let received = try! receiver.nextFrame() else { fatalError("bench: frame not decoded") }
                    sink = try! codec.decode(received).payload
                }
                precondition(sink == message, "bench: message did not survive the round trip")
                var mbps = Samples()
                for s in perCall.values { mbps.add(Double(size) / s / 1e6) }
                results.append((size, snappy, mbps))
            }
        }
        return results
    }
}
