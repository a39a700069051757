#if canImport(Glibc)
import Glibc
#endif

/// Readiness of an fd, as poll(2) reports it. In an interest only `readable` and `writable`
/// mean anything; `hangup`, `error` and `invalid` are always reported.
public struct PollEvents: OptionSet, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: Int16

    public init(rawValue: Int16) { self.rawValue = rawValue }

    public static let readable = PollEvents(rawValue: Int16(POLLIN))
    public static let writable = PollEvents(rawValue: Int16(POLLOUT))
    public static let error = PollEvents(rawValue: Int16(POLLERR))
    public static let hangup = PollEvents(rawValue: Int16(POLLHUP))
    /// The fd is not open (POLLNVAL): it was closed while registered.
    public static let invalid = PollEvents(rawValue: Int16(POLLNVAL))

    /// Readable, or something a read will report (end of file, a pending error).
    public var allowsRead: Bool { !isDisjoint(with: [.readable, .hangup, .error]) }

    public var description: String {
        let names: [(PollEvents, String)] = [
            (.readable, "readable"), (.writable, "writable"), (.error, "error"),
            (.hangup, "hangup"), (.invalid, "invalid"),
        ]
        return "[" + names.filter { contains($0.0) }.map(\.1).joined(separator: ", ") + "]"
    }
}
