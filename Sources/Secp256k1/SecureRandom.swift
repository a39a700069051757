/// Bytes from the system CSPRNG.
///
/// `SystemRandomNumberGenerator` is documented as cryptographically secure on every platform
/// Swift supports (getrandom(2) on Linux), and it never fails: on Linux it blocks only until the
/// kernel pool is first initialized, which is what key generation wants.
public enum SecureRandom {
    public static func bytes(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        var out = [UInt8](repeating: 0, count: count)
        var i = 0
        while i < count {
            var word = generator.next() as UInt64
            for _ in 0..<8 where i < count {
                out[i] = UInt8(truncatingIfNeeded: word)
                word >>= 8
                i += 1
            }
        }
        return out
    }
}
