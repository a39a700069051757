/// devp2p disconnect reasons by code, as words for events, metrics labels and the CLI
/// (go-ethereum's DiscReason strings, snake_cased for labels).
public enum DisconnectReasonNames {
    public static let byCode: [UInt8: String] = [
        0x00: "requested", 0x01: "network_error", 0x02: "protocol_error", 0x03: "useless_peer",
        0x04: "too_many_peers", 0x05: "already_connected", 0x06: "incompatible_version",
        0x07: "invalid_identity", 0x08: "quitting", 0x09: "unexpected_identity", 0x0a: "self",
        0x0b: "read_timeout", 0x10: "subprotocol_error",
    ]

    public static func name(_ code: UInt8) -> String { byCode[code] ?? "unknown_\(code)" }

    /// The codes devp2p defines a meaning for (go-ethereum's DiscRequested...DiscSubprotocolError):
    /// the only ones an operator may send. 0xff and the like are refused: they mean nothing to a
    /// peer and, before fault 4 of issue 9, collided with the IPC's "no reason" marker.
    public static let validCodes: ClosedRange<UInt8> = 0x00...0x10

    public static func isValid(_ code: UInt8) -> Bool { validCodes.contains(code) }

    /// A reason given on the command line, as a go-ethereum user types it: a number (decimal or
    /// `0x` hex) in `validCodes`, or a name in any of the usual spellings: `too_many_peers`,
    /// `too-many-peers`, `TooManyPeers`, go-ethereum's `DiscTooManyPeers`.
    public static func code(_ text: String) -> UInt8? {
        let t = text.trimmingCharacters(in: .whitespaces)
        if t.lowercased().hasPrefix("0x") {
            guard let n = UInt8(t.dropFirst(2), radix: 16) else { return nil }
            return isValid(n) ? n : nil
        }
        if let n = UInt8(t) { return isValid(n) ? n : nil }
        var name = t.hasPrefix("Disc") && t.count > 4 ? String(t.dropFirst(4)) : t
        name = name.replacingOccurrences(of: "-", with: "_")
        var snake = ""
        for (i, ch) in name.enumerated() {
            if ch.isUppercase, i > 0, snake.last != "_" { snake.append("_") }
            snake += ch.lowercased()
        }
        return byCode.first { $0.value == snake }?.key
    }
}
