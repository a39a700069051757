import Secp256k1

/// Section b: what each secp256k1 operation of the RLPx handshake costs, through the
/// `Secp256k1` module's API (the calls the handshake makes, so each figure includes that
/// module's own marshalling, e.g. the public-key re-parse inside `ecdh`).
enum Secp256k1Bench {
    enum Operation: String, CaseIterable {
        case generateKey = "key generation (CSPRNG + range check)"
        case derivePublicKey = "public key of a private key (+ serialise)"
        case ecdh = "ECDH, raw x (+ public key re-parse)"
        case sign = "recoverable sign"
        case recover = "recover (+ serialise)"
        case parsePublicKey64 = "public key parse, 64-byte x||y (+ serialise)"
        case parsePublicKey65 = "public key parse, 65-byte 0x04||x||y (+ serialise)"

        var shortName: String {
            switch self {
            case .generateKey: return "keygen"
            case .derivePublicKey: return "pubkey"
            case .ecdh: return "ECDH"
            case .sign: return "sign"
            case .recover: return "recover"
            case .parsePublicKey64: return "parse64"
            case .parsePublicKey65: return "parse65"
            }
        }
    }

    /// The operations one responder handshake performs, read from RLPxHandshake's sources
    /// (HandshakeResponder.respond, ECIES.encrypt/decrypt, HandshakeRandomness.system,
    /// HandshakeSecrets.derive). Update this table if those change.
    static let responderOperations: [(Operation, Int)] = [
        (.generateKey, 2),        // HandshakeRandomness.system(): ephemeral key and ECIES key
        (.parsePublicKey65, 1),   // ECIES decrypt of the auth: the sender's one-time key R
        (.parsePublicKey64, 1),   // the auth body's initiator public key
        (.ecdh, 4),               // ECIES decrypt, static shared secret, ECIES encrypt, ephemeral shared secret
        (.recover, 1),            // the initiator's ephemeral key from the auth signature
        (.derivePublicKey, 2),    // our ephemeral public key (ack) and the ECIES one-time public key
    ]

    /// Median microseconds of CPU time per call of each operation.
    static func run(runs: Int) -> [(Operation, Samples)] {
        let key = PrivateKey.generate()
        let peer = PrivateKey.generate().publicKey
        let hash = Keccak32.sample
        let signature = try! sign(hash: hash, key: key)
        let raw64 = peer.raw64
        let raw65 = peer.uncompressed65
        var sink: [UInt8] = []
        var results: [(Operation, Samples)] = []
        for op in Operation.allCases {
            let body: () -> Void
            switch op {
            case .generateKey: body = { sink = PrivateKey.generate().bytes }
            case .derivePublicKey: body = { sink = key.publicKey.raw64 }
            case .ecdh: body = { sink = try! ecdh(privateKey: key, publicKey: peer) }
            case .sign: body = { sink = try! sign(hash: hash, key: key) }
            case .recover: body = { sink = try! recover(signature: signature, hash: hash).raw64 }
            case .parsePublicKey64: body = { sink = try! PublicKey(bytes: raw64).raw64 }
            case .parsePublicKey65: body = { sink = try! PublicKey(bytes: raw65).raw64 }
            }
            let perCall = Measure.secondsPerCall(runs: runs, clock: Clock.cpuSeconds, body)
            results.append((op, perCall.scaled(by: 1e6)))
            blackHole(sink)
        }
        return results
    }

    /// CPU microseconds of the secp256k1 work of one responder handshake, from the medians.
    static func responderSum(_ measured: [(Operation, Samples)]) -> Double {
        responderOperations.reduce(0) { total, entry in
            let median = measured.first { $0.0 == entry.0 }!.1.median
            return total + median * Double(entry.1)
        }
    }
}

/// A fixed 32-byte message hash to sign (its value does not matter to the cost).
enum Keccak32 {
    static let sample: [UInt8] = (0..<32).map { UInt8(truncatingIfNeeded: $0 &* 73 &+ 11) }
}
