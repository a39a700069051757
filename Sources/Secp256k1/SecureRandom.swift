#if canImport(Glibc)
import Glibc
#endif
import CSecp256k1

/// Bytes from the system CSPRNG.
///
/// getrandom(2) with no flags: it never fails once the kernel pool is initialized (it blocks
/// only until then, which is what key generation wants), and returns up to 256 bytes whole.
/// One call fills the whole request; Swift's `SystemRandomNumberGenerator` would make one
/// getrandom call per 8 bytes (four for a private key), a syscall each, measured on a
/// handshake worker's profile.
public enum SecureRandom {
    public static func bytes(_ count: Int) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            fill(UnsafeMutableRawBufferPointer(buffer))
            initialized = count
        }
    }

    /// Fills `buffer` with random bytes.
    public static func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        var done = 0
        while done < buffer.count {
            let n = getrandom(buffer.baseAddress! + done, buffer.count - done, 0)
            if n > 0 {
                done += n
            } else if n < 0 && errno != EINTR {
                // ENOSYS (a kernel before 3.17) or a seccomp filter: the only other secure
                // source is the same kernel pool, through the standard library.
                var generator = SystemRandomNumberGenerator()
                for i in done..<buffer.count { buffer[i] = generator.next() }
                return
            }
        }
    }
}
