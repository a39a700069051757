import RLPxHandshake
import Secp256k1

/// Section c: CPU time of one full responder handshake (auth in, ack out, session secrets),
/// as `HandshakeResponder` does it for every inbound connection, including its fresh
/// randomness. The initiators' auth packets are made beforehand and not timed.
enum HandshakeBench {
    /// Distinct initiators whose auths are answered in turn: enough that nothing is answered
    /// from a warm cache of one packet, few enough to make quickly.
    static let initiatorCount = 8

    static func run(runs: Int) -> Samples {
        let responderKey = PrivateKey.generate()
        let auths: [[UInt8]] = (0..<initiatorCount).map { _ in
            try! HandshakeInitiator(staticKey: PrivateKey.generate(), remotePublicKey: responderKey.publicKey).authPacket
        }
        var next = 0
        var sink: [UInt8] = []
        let perCall = Measure.secondsPerCall(runs: runs, clock: Clock.cpuSeconds) {
            var responder = HandshakeResponder(staticKey: responderKey)
            guard case .done(let outcome, _) = try! responder.receiveAuth(auths[next]) else {
                fatalError("bench: a whole auth packet did not complete the handshake")
            }
            sink = outcome.ackPacket
            next = (next + 1) % initiatorCount
        }
        blackHole(sink)
        return perCall.scaled(by: 1e6)
    }
}
