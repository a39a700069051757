import Foundation

/// Finds and loads the published vectors in ../shared/vectors (next to the repository, as CI
/// lays it out). STOCKADE_VECTORS overrides the directory.
public enum TestVectors {
    public static var directory: URL {
        if let env = ProcessInfo.processInfo.environment["STOCKADE_VECTORS"] {
            return URL(fileURLWithPath: env)
        }
        // Tests/TestVectors/TestVectors.swift -> repository root -> ../shared/vectors
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        return repo.deletingLastPathComponent().appendingPathComponent("shared/vectors")
    }

    public static func data(_ name: String) throws -> Data {
        try Data(contentsOf: directory.appendingPathComponent(name))
    }

    /// The parsed JSON of a vector file.
    public static func json(_ name: String) throws -> Any {
        try JSONSerialization.jsonObject(with: data(name))
    }

    /// A file of this repository, by its path from the root (ipc/PROTOCOL.md, ipc/MUX.md).
    public static func repositoryFile(_ path: String) -> URL {
        // Tests/TestVectors/TestVectors.swift -> repository root
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent(path)
    }

    public struct GoldenDocumentError: Error, CustomStringConvertible {
        public let description: String
    }

    /// Every ```golden NAME block of a protocol document, as bytes: each line's hex after its
    /// last ':', whitespace ignored. A name used twice or an unterminated block throws.
    public static func goldenBlocks(_ documentPath: String) throws -> [String: [UInt8]] {
        let text = try String(contentsOf: repositoryFile(documentPath), encoding: .utf8)
        var goldens: [String: [UInt8]] = [:]
        var current: (name: String, bytes: [UInt8])?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if let block = current {
                if line.hasPrefix("```") {
                    guard goldens[block.name] == nil else { throw GoldenDocumentError(description: "golden \(block.name) appears twice") }
                    goldens[block.name] = block.bytes
                    current = nil
                } else {
                    let hexPart = line.split(separator: ":", omittingEmptySubsequences: false).last ?? ""
                    current!.bytes += hex(hexPart.filter { !$0.isWhitespace })
                }
            } else if line.hasPrefix("```golden ") {
                current = (String(line.dropFirst("```golden ".count)), [])
            }
        }
        guard current == nil else { throw GoldenDocumentError(description: "unterminated golden block") }
        return goldens
    }

    /// Lowercase or uppercase hex, with or without 0x, to bytes. Traps on bad hex: vectors are fixed.
    public static func hex(_ s: String) -> [UInt8] {
        var str = Substring(s)
        if str.hasPrefix("0x") { str = str.dropFirst(2) }
        precondition(str.count % 2 == 0, "odd hex length in vector: \(s.prefix(20))")
        var out: [UInt8] = []
        out.reserveCapacity(str.count / 2)
        var it = str.utf8.makeIterator()
        while let h = it.next(), let l = it.next() {
            out.append(nibble(h) << 4 | nibble(l))
        }
        return out
    }

    public static func hexString(_ b: [UInt8]) -> String {
        b.map { String(format: "%02x", $0) }.joined()
    }

    private static func nibble(_ c: UInt8) -> UInt8 {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: preconditionFailure("bad hex digit in vector")
        }
    }
}
