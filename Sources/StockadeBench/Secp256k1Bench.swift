import Secp256k1

/// Section b: what each secp256k1 operation of the RLPx handshake costs, through the
/// `Secp256k1` module's API (the calls the handshake makes, so each figure includes that
/// module's own marshalling, e.g. the public-key re-parse inside `ecdh`). Informative: the
/// crypto bound of section c is timed as one replay of a handshake's calls
/// (`ResponderPublicKeyWork`), not summed from these, which were timed at other moments.
enum Secp256k1Bench {
    enum Operation: String, CaseIterable {
        case generateKey = "key generation (CSPRNG + range check)"
        case derivePublicKey = "public key of a private key (+ serialise)"
        case ecdh = "ECDH, raw x (+ public key re-parse)"
        case sign = "recoverable sign"
        case recover = "recover (+ serialise)"
        case parsePublicKey64 = "public key parse, 64-byte x||y (+ serialise)"
        case parsePublicKey65 = "public key parse, 65-byte 0x04||x||y (+ serialise)"
    }

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
}

/// A fixed 32-byte message hash to sign (its value does not matter to the cost).
enum Keccak32 {
    static let sample: [UInt8] = (0..<32).map { UInt8(truncatingIfNeeded: $0 &* 73 &+ 11) }
}
