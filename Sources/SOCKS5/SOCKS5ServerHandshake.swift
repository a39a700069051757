/// Sans-IO server side of one SOCKS5 client connection: feed bytes as they arrive, act on what it
/// returns.
///
/// The exchange (RFC 1928 §3, §4, §6):
///
///     client: 05 NMETHODS METHODS…                greeting (method selection request)
///     server: 05 00                               `.send`: "no authentication required"
///     client: 05 CMD 00 ATYP DST.ADDR DST.PORT    request
///     server: 05 REP 00 ATYP BND.ADDR BND.PORT    `reply(_:bound:port:)`, by the caller
///
/// Only method 00 (no authentication) is offered; username/password (RFC 1929) and GSSAPI
/// (RFC 1961) are refused with `05 FF` when a client offers nothing else. Only CONNECT reaches the
/// caller, and UDP ASSOCIATE too when `allowUDPAssociate` is set; BIND is refused.
///
/// Bytes may arrive in any split: one at a time, or greeting, request and the client's first
/// payload in one read. A greeting and a request in one `feed` give both steps in order.
/// Internally only the message being read is buffered, never more than 262 bytes
/// (`maximumMessageBytes`): the longest greeting is 2 + 255, the longest request 4 + 1 + 255 + 2;
/// bytes after a complete request are handed back as `leftover`, never held.
///
/// `.request` and `.refuse` are terminal: after either, the handshake is finished, `isFinished`
/// is true and every further `feed` returns `[]` and ignores its bytes (after a request they are
/// payload for the caller to forward; after a refusal the caller closes the connection).
public struct SOCKS5ServerHandshake: Sendable {
    public enum Step: Equatable, Sendable {
        /// Nothing to do yet: wait for more bytes. Only ever the single step of a `feed`.
        case needMore
        /// Write these bytes (the method selection, `05 00`), then keep feeding.
        case send([UInt8])
        /// A request to carry out (CONNECT, or UDP ASSOCIATE when allowed): the caller acts on it,
        /// then writes `reply(...)`. `leftover` are the bytes that followed the request in the same
        /// read: the client's first payload, which the caller must forward, not lose. Terminal.
        case request(SOCKS5Request, leftover: [UInt8])
        /// Write these bytes (possibly none), then close the connection; `reason` is for the log.
        /// Terminal.
        case refuse([UInt8], reason: String)
    }

    /// The most bytes ever buffered: a request with a 255-byte domain (RFC 1928 §4, §5).
    public static let maximumMessageBytes = 4 + 1 + 255 + 2

    /// Whether UDP ASSOCIATE (RFC 1928 §7) reaches the caller as `.request`; when false it is
    /// refused with 07 "command not supported", as BIND always is.
    public var allowUDPAssociate: Bool

    private enum Phase: Sendable { case greeting, request, finished }
    private var phase: Phase = .greeting
    /// The bytes of the message being read (greeting or request), nothing else.
    private var pending: [UInt8] = []

    public init(allowUDPAssociate: Bool = false) {
        self.allowUDPAssociate = allowUDPAssociate
    }

    /// True once a terminal step (`.request` or `.refuse`) has been returned.
    public var isFinished: Bool { phase == .finished }

    /// How many bytes are held for a message not yet complete (at most `maximumMessageBytes`).
    public var bufferedByteCount: Int { pending.count }

    /// Takes the next bytes the client sent and says what to do, in order. Returns `[.needMore]`
    /// when the bytes complete nothing; `[]` once finished (see the type's documentation).
    public mutating func feed(_ bytes: [UInt8]) -> [Step] {
        guard phase != .finished else { return [] }
        var steps: [Step] = []
        var input = bytes[...]
        while phase != .finished {
            let outcome = phase == .greeting ? assessGreeting() : assessRequest()
            switch outcome {
            case .need(let total):
                if input.isEmpty { return steps.isEmpty ? [.needMore] : steps }
                let take = min(total - pending.count, input.count)
                pending.append(contentsOf: input.prefix(take))
                input = input.dropFirst(take)
            case .selectMethod:
                steps.append(.send([0x05, 0x00]))
                pending.removeAll()
                phase = .request
            case .request(let request):
                steps.append(.request(request, leftover: Array(input)))
                finish()
            case .refuse(let bytes, let reason):
                steps.append(.refuse(bytes, reason: reason))
                finish()
            }
        }
        return steps
    }

    /// A reply (RFC 1928 §6): `05 REP 00 ATYP BND.ADDR BND.PORT`. For CONNECT, `bound` and `port`
    /// are the address the server's outgoing connection is bound to (RFC 1928 §6 "the associated
    /// IP address"); 0.0.0.0:0 is what many servers send, and what clients ignore. On any code but
    /// `.succeeded` the server must close the connection soon after (RFC 1928 §6).
    ///
    /// `bound` must be well-formed (4 or 16 bytes, or a domain of 1...255 UTF-8 bytes): anything
    /// else is a programming error and traps.
    public static func reply(_ code: SOCKS5ReplyCode, bound: SOCKS5Address = .ipv4([0, 0, 0, 0]), port: UInt16 = 0) -> [UInt8] {
        var out: [UInt8] = [0x05, code.rawValue, 0x00, bound.addressType]
        switch bound {
        case .ipv4(let bytes):
            precondition(bytes.count == 4, "SOCKS5 reply: an IPv4 BND.ADDR is 4 bytes, not \(bytes.count)")
            out += bytes
        case .ipv6(let bytes):
            precondition(bytes.count == 16, "SOCKS5 reply: an IPv6 BND.ADDR is 16 bytes, not \(bytes.count)")
            out += bytes
        case .domain(let name):
            let bytes = Array(name.utf8)
            precondition((1...255).contains(bytes.count), "SOCKS5 reply: a domain BND.ADDR is 1...255 bytes, not \(bytes.count)")
            out.append(UInt8(bytes.count))
            out += bytes
        }
        out += [UInt8(port >> 8), UInt8(port & 0xff)]
        return out
    }

    // MARK: - Reading the messages

    private enum Outcome {
        /// The message is incomplete: it is `total` bytes long as far as is known now.
        case need(total: Int)
        case selectMethod
        case request(SOCKS5Request)
        case refuse([UInt8], reason: String)
    }

    private mutating func finish() {
        phase = .finished
        pending = []
    }

    /// The greeting, `05 NMETHODS METHODS…` (RFC 1928 §3), judged as soon as a byte allows.
    private func assessGreeting() -> Outcome {
        let p = pending
        guard let version = p.first else { return .need(total: 1) }
        // RFC 1928 §3: VER is X'05'. Anything else is another protocol: no SOCKS5 answer fits.
        guard version == 0x05 else {
            return .refuse([], reason: "not SOCKS5 (first byte \(hex(version))\(Self.protocolHint(version)))")
        }
        guard p.count >= 2 else { return .need(total: 2) }
        let count = Int(p[1])
        // RFC 1928 §3: NMETHODS is 1...255; with none offered, none is acceptable.
        guard count > 0 else {
            return .refuse([0x05, 0xff], reason: "SOCKS5 greeting offers no authentication method (RFC 1928 §3)")
        }
        guard p.count >= 2 + count else { return .need(total: 2 + count) }
        let methods = p[2...]
        // RFC 1928 §3: the server selects one of the offered methods, here only X'00' (no
        // authentication required); if none is acceptable it answers X'FF' and the client closes.
        if methods.contains(0x00) { return .selectMethod }
        let offered = methods.map { "\(hex($0)) (\(Self.methodName($0)))" }.joined(separator: ", ")
        return .refuse([0x05, 0xff], reason: "SOCKS5 client offers no acceptable authentication method: it offers \(offered); only 0x00 (no authentication) is accepted (RFC 1928 §3)")
    }

    /// The request, `05 CMD 00 ATYP DST.ADDR DST.PORT` (RFC 1928 §4). A wrong version or an
    /// unknown address type is refused at once (the request's length is then unknown); every other
    /// check waits for the whole request, so the client is not cut off mid-write. The checks, in
    /// order: VER, ATYP, RSV, CMD, the domain name.
    private func assessRequest() -> Outcome {
        let p = pending
        guard let version = p.first else { return .need(total: 1) }
        // RFC 1928 §4: VER is X'05'.
        guard version == 0x05 else {
            return .refuse(Self.reply(.generalFailure), reason: "SOCKS5 request has version \(hex(version)), not 0x05 (RFC 1928 §4)")
        }
        guard p.count >= 4 else { return .need(total: 4) }
        let addressLength: Int
        // RFC 1928 §4, §5: ATYP 01 IPv4 (4 bytes), 03 domain (a length byte, then that many), 04
        // IPv6 (16 bytes); RFC 1928 §6: reply X'08' for any other.
        switch p[3] {
        case 0x01: addressLength = 4
        case 0x04: addressLength = 16
        case 0x03:
            guard p.count >= 5 else { return .need(total: 5) }
            addressLength = 1 + Int(p[4])
        default:
            return .refuse(Self.reply(.addressTypeNotSupported), reason: "SOCKS5 request has unknown address type \(hex(p[3])) (RFC 1928 §4, §5)")
        }
        let total = 4 + addressLength + 2
        guard p.count >= total else { return .need(total: total) }

        // RFC 1928 §4: RSV is X'00'.
        guard p[2] == 0x00 else {
            return .refuse(Self.reply(.generalFailure), reason: "SOCKS5 request has reserved byte \(hex(p[2])), not 0x00 (RFC 1928 §4)")
        }
        // RFC 1928 §4: CMD 01 CONNECT, 02 BIND, 03 UDP ASSOCIATE; RFC 1928 §6: reply X'07' for
        // one the server does not carry out.
        let command: SOCKS5Command
        switch SOCKS5Command(rawValue: p[1]) {
        case .connect?: command = .connect
        case .udpAssociate? where allowUDPAssociate: command = .udpAssociate
        case let known?:
            return .refuse(Self.reply(.commandNotSupported), reason: "SOCKS5 \(known) is not supported (RFC 1928 §4)")
        case nil:
            return .refuse(Self.reply(.commandNotSupported), reason: "SOCKS5 request has unknown command \(hex(p[1])) (RFC 1928 §4)")
        }

        let address: SOCKS5Address
        switch p[3] {
        case 0x01: address = .ipv4(Array(p[4..<8]))
        case 0x04: address = .ipv6(Array(p[4..<20]))
        default:
            // RFC 1928 §5: "the first octet of the address field contains the number of octets of
            // name that follow, there is no terminating NUL octet". An empty name, a NUL or any
            // byte that is not printable ASCII is no host name: general failure (RFC 1928 §6).
            let name = p[5..<(4 + addressLength)]
            guard !name.isEmpty else {
                return .refuse(Self.reply(.generalFailure), reason: "SOCKS5 request has an empty domain name (RFC 1928 §5)")
            }
            if let bad = name.firstIndex(where: { !(0x21...0x7e).contains($0) }) {
                return .refuse(Self.reply(.generalFailure),
                               reason: "SOCKS5 request's domain name has byte \(hex(p[bad])) at offset \(bad - 5); only printable ASCII 0x21...0x7e is accepted (RFC 1928 §5)")
            }
            address = .domain(String(decoding: name, as: UTF8.self))
        }
        let port = UInt16(p[total - 2]) << 8 | UInt16(p[total - 1])
        return .request(SOCKS5Request(command: command, address: address, port: port))
    }

    /// What a non-SOCKS5 first byte most likely is, for the log.
    private static func protocolHint(_ byte: UInt8) -> String {
        switch byte {
        case 0x04: ": SOCKS4?"
        case 0x16: ": TLS?"
        // GET, POST/PUT/PATCH, HEAD, CONNECT, DELETE, OPTIONS, TRACE
        case UInt8(ascii: "G"), UInt8(ascii: "P"), UInt8(ascii: "H"), UInt8(ascii: "C"),
             UInt8(ascii: "D"), UInt8(ascii: "O"), UInt8(ascii: "T"): ": HTTP?"
        default: ""
        }
    }

    /// An authentication method's name (RFC 1928 §3, and the IANA registry it refers to).
    private static func methodName(_ method: UInt8) -> String {
        switch method {
        case 0x00: "no authentication"
        case 0x01: "GSSAPI"
        case 0x02: "username/password, RFC 1929"
        case 0x03...0x7f: "IANA assigned"
        case 0x80...0xfe: "private"
        default: "no acceptable methods"
        }
    }
}

/// `0x47`: a byte as the log shows it.
private func hex(_ byte: UInt8) -> String {
    let digits = Array("0123456789abcdef")
    return "0x" + String(digits[Int(byte >> 4)]) + String(digits[Int(byte & 0x0f)])
}
