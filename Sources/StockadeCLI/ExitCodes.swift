#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import ChildRuntime

/// sysexits(3) codes, as the README's "Exit codes" lists them: 64 a usage error (ArgumentParser's
/// ValidationError, which prints the usage), 78 a configuration error, 1 a runtime failure
/// (address in use, unreadable key, no daemon) without the usage text; 69 and 77 are
/// `stockade connect`'s.
enum Exit {
    static let usage: Int32 = 64
    static let config: Int32 = 78
    static let failure: Int32 = 1

    /// Says `message` on stderr as ArgumentParser says its errors ("Error: …") and returns the
    /// exit to throw: no usage text, which is for usage errors only.
    static func fail(_ message: String, code: Int32) -> ExitCode {
        StandardStreams.write("Error: \(message)\n", to: STDERR_FILENO)
        return ExitCode(code)
    }
}
