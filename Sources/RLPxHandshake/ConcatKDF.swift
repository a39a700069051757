import Crypto

/// NIST SP 800-56A concatenation KDF with SHA-256 and no OtherInfo, as go-ethereum's
/// `ecies.concatKDF` and the cpp-ethereum tests use it:
/// output = first `length` bytes of SHA-256(counter_be32 || z) for counter = 1, 2, ...
public enum ConcatKDF {
    public static func sha256(z: [UInt8], length: Int) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(length + SHA256.byteCount)
        var counter: UInt32 = 1
        while out.count < length {
            var hasher = SHA256()
            hasher.update(data: [UInt8(truncatingIfNeeded: counter >> 24), UInt8(truncatingIfNeeded: counter >> 16),
                                 UInt8(truncatingIfNeeded: counter >> 8), UInt8(truncatingIfNeeded: counter)])
            hasher.update(data: z)
            out.append(contentsOf: hasher.finalize())
            counter += 1
        }
        return Array(out.prefix(length))
    }
}
