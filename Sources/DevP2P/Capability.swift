import RLP

/// A sub-protocol name and version as advertised in Hello, e.g. eth/68 (go-ethereum `p2p.Cap`).
public struct Capability: Hashable, Sendable, CustomStringConvertible {
    public var name: String
    public var version: UInt64

    public init(name: String, version: UInt64) {
        self.name = name
        self.version = version
    }

    public var description: String { "\(name)/\(version)" }

    /// go-ethereum's `Cap.Cmp` order: by name compared as bytes, then by version. Byte order,
    /// not Swift's Unicode string order, so message-id offsets agree with go-ethereum's.
    public static func precedes(_ a: Capability, _ b: Capability) -> Bool {
        if a.name == b.name { return a.version < b.version }
        return a.name.utf8.lexicographicallyPrecedes(b.name.utf8)
    }

    var rlpItem: RLPItem { .list([.string(name), .uint(version)]) }

    /// `[name, version]`, exactly two elements as go-ethereum's struct decoding requires.
    init(rlpItem: RLPItem) throws(HelloError) {
        guard let fields = rlpItem.listValue, fields.count == 2 else { throw .malformed(field: "capabilities") }
        guard let name = fields[0].bytesValue else { throw .malformed(field: "capability name") }
        let version: UInt64
        do { version = try fields[1].uintValue() } catch { throw .malformed(field: "capability version") }
        // go-ethereum names are Go strings (arbitrary bytes); invalid UTF-8 is replaced rather
        // than refused. Local protocol names are ASCII, so a replaced name can never match one.
        self.init(name: String(decoding: name, as: UTF8.self), version: version)
    }
}
