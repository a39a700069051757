#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Checks that an address field is what it claims: a textual IPv4 or IPv6 address, as
/// inet_ntop writes them (and as the acceptor gets them from getpeername).
enum AddressText {
    static func isValid(_ text: String) -> Bool {
        guard !text.isEmpty, text.utf8.count <= IPCLimits.maxAddressTextLength,
              !text.utf8.contains(0)  // inet_pton would stop at a NUL and accept a prefix
        else { return false }
        // 16 bytes is enough for either family's binary form.
        var scratch = [UInt8](repeating: 0, count: 16)
        return text.withCString { cText in
            scratch.withUnsafeMutableBytes { out in
                inet_pton(AF_INET, cText, out.baseAddress) == 1
                    || inet_pton(AF_INET6, cText, out.baseAddress) == 1
            }
        }
    }
}
