public extension SOCKS5Address {
    /// The address as text for logs, rules and resolvers: IPv4 as a dotted quad ("192.0.2.1"),
    /// IPv6 in RFC 5952's recommended form ("2001:db8::1", "::ffff:192.0.2.1"), a domain as
    /// received. Malformed byte counts (only a caller can build those) give a marked text, never
    /// a trap.
    var hostText: String {
        switch self {
        case .ipv4(let bytes):
            guard bytes.count == 4 else { return "<IPv4 of \(bytes.count) bytes>" }
            return Self.dottedQuad(bytes[...])
        case .ipv6(let bytes):
            guard bytes.count == 16 else { return "<IPv6 of \(bytes.count) bytes>" }
            return Self.rfc5952(bytes)
        case .domain(let name):
            return name
        }
    }

    private static func dottedQuad(_ bytes: ArraySlice<UInt8>) -> String {
        bytes.map { String($0) }.joined(separator: ".")
    }

    /// RFC 5952 §4: hexadecimal digits in lower case (§4.3) without leading zeros (§4.1); the
    /// longest run of two or more all-zero 16-bit fields, the first of equal runs, shortened to
    /// "::" (§4.2.1-§4.2.3), a single zero field never. RFC 5952 §5: an IPv4-mapped address
    /// (::ffff:0:0/96) ends in dotted-quad notation.
    private static func rfc5952(_ bytes: [UInt8]) -> String {
        if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xff && bytes[11] == 0xff {
            return "::ffff:" + dottedQuad(bytes[12..<16])
        }
        let fields = (0..<8).map { UInt16(bytes[2 * $0]) << 8 | UInt16(bytes[2 * $0 + 1]) }
        var best = (start: 0, length: 0)
        var run = (start: 0, length: 0)
        for (i, field) in fields.enumerated() {
            if field == 0 {
                if run.length == 0 { run.start = i }
                run.length += 1
                if run.length > best.length { best = run }
            } else {
                run.length = 0
            }
        }
        func text(_ range: Range<Int>) -> String {
            fields[range].map { String($0, radix: 16) }.joined(separator: ":")
        }
        guard best.length >= 2 else { return text(0..<8) }
        return text(0..<best.start) + "::" + text((best.start + best.length)..<8)
    }
}
