/// Why a session ended with the Error option: one byte after the End frame's option
/// (ipc/MUX.md, "Error codes"). Codes 0x01–0x08 are the SOCKS5 reply codes (RFC 1928 section
/// 6), so an entry passes a refusal to its SOCKS client unchanged; codes from 0x80 are
/// Stockade's own and map to a SOCKS5 code with `socksReply`.
public enum MuxErrorCode: Error, Equatable, Hashable, Sendable, CustomStringConvertible {
    case generalFailure            // 0x01
    case notAllowed                // 0x02 the exit's allowlist denies the target
    case networkUnreachable        // 0x03
    case hostUnreachable           // 0x04 also: the name did not resolve
    case connectionRefused         // 0x05
    case timedOut                  // 0x06 (SOCKS5 "TTL expired"): the target did not answer in time
    case notSupported              // 0x07 (SOCKS5 "command not supported"): e.g. UDP before issue 8
    case addressNotSupported       // 0x08
    case tooManySessions           // 0x80 the link's session limit
    case backlogFull               // 0x81 too many unanswered opens
    case bufferBudget              // 0x82 the exit's memory budget is spent
    case flowControl               // 0x83 data past the window, or after Fin
    case unknownSession            // 0x84 a frame for a session that does not exist
    case reset                     // 0x85 the local end reset or failed (a write error at the target)
    case other(UInt8)              // any other byte, kept as received

    public init(rawValue: UInt8) {
        switch rawValue {
        case 0x01: self = .generalFailure
        case 0x02: self = .notAllowed
        case 0x03: self = .networkUnreachable
        case 0x04: self = .hostUnreachable
        case 0x05: self = .connectionRefused
        case 0x06: self = .timedOut
        case 0x07: self = .notSupported
        case 0x08: self = .addressNotSupported
        case 0x80: self = .tooManySessions
        case 0x81: self = .backlogFull
        case 0x82: self = .bufferBudget
        case 0x83: self = .flowControl
        case 0x84: self = .unknownSession
        case 0x85: self = .reset
        default: self = .other(rawValue)
        }
    }

    public var rawValue: UInt8 {
        switch self {
        case .generalFailure: return 0x01
        case .notAllowed: return 0x02
        case .networkUnreachable: return 0x03
        case .hostUnreachable: return 0x04
        case .connectionRefused: return 0x05
        case .timedOut: return 0x06
        case .notSupported: return 0x07
        case .addressNotSupported: return 0x08
        case .tooManySessions: return 0x80
        case .backlogFull: return 0x81
        case .bufferBudget: return 0x82
        case .flowControl: return 0x83
        case .unknownSession: return 0x84
        case .reset: return 0x85
        case .other(let b): return b
        }
    }

    /// Codes are their byte: `.other(0x05)` is `.connectionRefused`, as it is on the wire.
    public static func == (a: MuxErrorCode, b: MuxErrorCode) -> Bool { a.rawValue == b.rawValue }
    public func hash(into hasher: inout Hasher) { hasher.combine(rawValue) }

    /// The SOCKS5 reply code (RFC 1928 section 6) an entry answers its client with.
    public var socksReply: UInt8 {
        switch self {
        case .generalFailure, .notAllowed, .networkUnreachable, .hostUnreachable, .connectionRefused, .timedOut,
             .notSupported, .addressNotSupported:
            return rawValue
        case .other(let b) where (0x01...0x08).contains(b):
            return b
        case .tooManySessions, .backlogFull, .bufferBudget, .flowControl, .unknownSession, .reset, .other:
            return 0x01
        }
    }

    public var description: String {
        switch self {
        case .generalFailure: return "general failure"
        case .notAllowed: return "not allowed by the exit's rules"
        case .networkUnreachable: return "network unreachable"
        case .hostUnreachable: return "host unreachable"
        case .connectionRefused: return "connection refused"
        case .timedOut: return "timed out"
        case .notSupported: return "not supported"
        case .addressNotSupported: return "address type not supported"
        case .tooManySessions: return "too many sessions on the link"
        case .backlogFull: return "too many unanswered opens"
        case .bufferBudget: return "out of buffer budget"
        case .flowControl: return "flow control violated"
        case .unknownSession: return "unknown session"
        case .reset: return "reset"
        case .other(let b): return "error 0x\(String(b, radix: 16))"
        }
    }
}
