#if canImport(Glibc)
import Glibc
#endif
import DevP2P
import RLPxHandshake
import Secp256k1
import Synchronization

/// The yardsticks a worker's CPU per handshake is compared with, measured in this process on
/// this thread's CPU-time clock, between the flood windows (while the daemon is idle), so that
/// each window has its own reference taken under the same machine conditions:
///
/// - the crypto bound: the CPU time of the public-key operations one responder handshake
///   makes, replayed alone (RLPxHandshake's `ResponderPublicKeyWork`: the responder's own
///   calls, in its order, on the inputs of real auth packets), as StockadeBench's section c;
/// - the protocol work: one responder `ConnectionSetup` (RLPx handshake and Hello, checkpoints
///   answered at once) fed in memory: everything a worker computes per connection, without
///   its I/O, IPC and event loop.
///
/// Each round times a batch of replays and then a few in-memory setups, so both figures of a
/// round saw the same moment of a shared machine; the median round is reported.
enum CryptoReference {
    struct Result: Sendable {
        /// Median over rounds of the secp256k1 CPU microseconds of one responder handshake.
        var secp256k1Microseconds: Double
        /// Median over rounds of the CPU microseconds of one in-memory responder setup.
        var setupMicroseconds: Double
        var rounds: Int
    }

    /// Replays per round, one per prepared auth: a batch of about two milliseconds, long next
    /// to the clock's cost (a microsecond) and short next to a scheduler time slice.
    static let batch = 8
    /// In-memory setups per round (together about as long as the batch of replays).
    static let setupsPerRound = 4
    /// Rounds are bounded by count as well as by the time given.
    static let maxRounds = 500

    static func measure(seconds: Double) -> Result {
        let responderKey = PrivateKey.generate()
        let replays = (0..<batch).map { _ in
            let auth = try! HandshakeInitiator(staticKey: .generate(), remotePublicKey: responderKey.publicKey).authPacket
            return try! ResponderPublicKeyWork(authPacket: auth, staticKey: responderKey)
        }
        let responderHello = Hello(clientID: "StockadeLoad reference", capabilities: [StockadeProtocol.capability],
                                   listenPort: 0, nodeID: responderKey.publicKey.raw64)
        var sink: UInt8 = 0

        var secpRounds: [Double] = []
        var setupRounds: [Double] = []
        let end = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
        while secpRounds.isEmpty || (ContinuousClock.now < end && secpRounds.count < maxRounds) {
            let start = threadCPUSeconds()
            for replay in replays { sink ^= (try! replay.perform()).ephemeralSharedSecret[0] }
            secpRounds.append((threadCPUSeconds() - start) / Double(batch) * 1e6)
            var setupSeconds = 0.0
            for _ in 0..<setupsPerRound {
                setupSeconds += timedResponderSetup(key: responderKey, hello: responderHello, sink: &sink)
            }
            setupRounds.append(setupSeconds / Double(setupsPerRound) * 1e6)
        }
        consume(sink)
        return Result(secp256k1Microseconds: Percentiles(secpRounds).value(50)!,
                      setupMicroseconds: Percentiles(setupRounds).value(50)!, rounds: secpRounds.count)
    }

    /// One responder setup against an in-memory initiator; returns the responder's CPU seconds
    /// only (the initiator's work and the clock reads between calls are outside the timing).
    private static func timedResponderSetup(key: PrivateKey, hello: Hello, sink: inout UInt8) -> Double {
        let initiatorKey = PrivateKey.generate()
        let initiatorHello = Hello(clientID: "StockadeLoad initiator", capabilities: [StockadeProtocol.capability],
                                   listenPort: 0, nodeID: initiatorKey.publicKey.raw64)
        var initiator = try! ConnectionSetup(role: .initiator(remote: key.publicKey), staticKey: initiatorKey,
                                             localHello: initiatorHello)
        var spent = 0.0
        var start = threadCPUSeconds()
        var responder = try! ConnectionSetup(role: .responder, staticKey: key, localHello: hello)
        spent += threadCPUSeconds() - start

        // Bytes in flight each way; each step hands one side everything the other sent.
        var toResponder: [UInt8] = []
        var toInitiator: [UInt8] = []
        for event in initiator.start() { if case .send(let b) = event { toResponder += b } }
        var responderDone = false
        var initiatorDone = false
        // A handshake and Hello take three exchanges; the bound only stops a broken setup.
        for _ in 0..<16 where !(responderDone && initiatorDone) {
            if !toResponder.isEmpty {
                start = threadCPUSeconds()
                var events = responder.receive(toResponder)
                var i = 0
                while i < events.count {
                    switch events[i] {
                    case .send(let b): toInitiator += b
                    case .checkPostHandshake: events += responder.resolvePostHandshake(.accept)
                    case .checkAddPeer: events += responder.resolveAddPeer(.accept)
                    case .established(let session): responderDone = true; sink ^= UInt8(truncatingIfNeeded: session.remoteHello.clientID.utf8.count)
                    case .failed(let f): fatalError("in-memory responder setup failed: \(f)")
                    }
                    i += 1
                }
                spent += threadCPUSeconds() - start
                toResponder = []
            }
            if !toInitiator.isEmpty {
                var events = initiator.receive(toInitiator)
                toInitiator = []
                var i = 0
                while i < events.count {
                    switch events[i] {
                    case .send(let b): toResponder += b
                    case .checkPostHandshake: events += initiator.resolvePostHandshake(.accept)
                    case .checkAddPeer: events += initiator.resolveAddPeer(.accept)
                    case .established: initiatorDone = true
                    case .failed(let f): fatalError("in-memory initiator setup failed: \(f)")
                    }
                    i += 1
                }
            }
        }
        precondition(responderDone, "in-memory responder setup did not finish")
        return spent
    }

    /// Where the results of the measured calls go, so that the optimiser cannot drop the calls.
    private static let consumed = Atomic<UInt8>(0)

    @inline(never)
    private static func consume(_ value: UInt8) {
        consumed.store(value, ordering: .relaxed)
    }

    static func threadCPUSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}
