import RLPxHandshake
import Secp256k1

/// Section c: CPU time of one full responder handshake (auth in, ack out, session secrets),
/// as `HandshakeResponder` does it for every inbound connection, including its fresh
/// randomness, and beside it the crypto bound: `ResponderPublicKeyWork`, the same public-key
/// calls on the same auths with nothing else. The two are timed in alternating batches of the
/// same rounds, so both figures of a round saw the same moment of a shared machine, and the
/// share is taken per round. The initiators' auth packets are made beforehand and not timed.
enum HandshakeBench {
    /// Distinct initiators whose auths are answered in turn: enough that nothing is answered
    /// from a warm cache of one packet, few enough to make quickly.
    static let initiatorCount = 8
    /// Rounds per run: each times every initiator's auth once each way (about 5 ms a round).
    static let roundsPerRun = 10

    struct Result {
        /// CPU µs of one full responder handshake, one sample per round.
        var handshake = Samples()
        /// CPU µs of its public-key work alone, one sample per round.
        var bound = Samples()
        /// bound / handshake per round, in percent.
        var share = Samples()
    }

    static func run(runs: Int) -> Result {
        let responderKey = PrivateKey.generate()
        let auths: [[UInt8]] = (0..<initiatorCount).map { _ in
            try! HandshakeInitiator(staticKey: PrivateKey.generate(), remotePublicKey: responderKey.publicKey).authPacket
        }
        let replays = auths.map { try! ResponderPublicKeyWork(authPacket: $0, staticKey: responderKey) }
        var sink: [UInt8] = []
        var result = Result()
        // One untimed round first: page faults, lazy symbol binding, the context's first use.
        for round in 0...(runs * roundsPerRun) {
            var start = Clock.cpuSeconds()
            for replay in replays { sink = try! replay.perform().ephemeralSharedSecret }
            let bound = (Clock.cpuSeconds() - start) / Double(initiatorCount) * 1e6
            start = Clock.cpuSeconds()
            for auth in auths {
                var responder = HandshakeResponder(staticKey: responderKey)
                guard case .done(let outcome, _) = try! responder.receiveAuth(auth) else {
                    fatalError("bench: a whole auth packet did not complete the handshake")
                }
                sink = outcome.ackPacket
            }
            let handshake = (Clock.cpuSeconds() - start) / Double(initiatorCount) * 1e6
            guard round > 0 else { continue }
            result.handshake.add(handshake)
            result.bound.add(bound)
            result.share.add(100 * bound / handshake)
        }
        blackHole(sink)
        return result
    }
}
