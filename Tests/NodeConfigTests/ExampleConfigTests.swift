import Foundation
import NodeConfig
import TestVectors
import XCTest

/// units/stockade.toml, the commented example the systemd unit reads as
/// /etc/stockade/stockade.toml: as shipped it is the defaults; every key the daemon knows is in
/// it, commented out (`#key = value`) with its default; uncommenting every such line still
/// parses, gives the defaults, and turns the stream examples into valid rules.
final class ExampleConfigTests: XCTestCase {
    static var text: String {
        get throws { try String(contentsOf: TestVectors.repositoryFile("units/stockade.toml"), encoding: .utf8) }
    }

    /// The file with the # of every commented-out setting and table header removed.
    static func uncommented(_ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            guard line.hasPrefix("#"), let next = line.dropFirst().first, next == "[" || next.isLetter else { return String(line) }
            return String(line.dropFirst())
        }.joined(separator: "\n")
    }

    /// (table, `key = value`) for every setting line of a TOML text.
    static func settings(_ text: String) -> Set<String> {
        var table = ""
        var out: Set<String> = []
        for raw in text.split(separator: "\n") {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("[") { table = line; continue }
            if let first = line.first, first.isLetter, line.contains(" = ") { out.insert("\(table) \(line)") }
        }
        return out
    }

    func testAsShippedItIsTheDefaults() throws {
        XCTAssertEqual(try NodeConfig.parse(Self.text), NodeConfig.defaults)
    }

    func testEveryKeyIsThereWithItsDefault() throws {
        let example = Self.settings(Self.uncommented(try Self.text))
        let defaults = Self.settings(NodeConfig.defaultTOML)
        XCTAssertFalse(defaults.isEmpty)
        let missing = defaults.subtracting(example).sorted()
        XCTAssertEqual(missing, [], "keys of the defaults the example lacks (or shows with another value)")
        // Each has a line of meaning: the line before a setting is a comment or another setting.
        let lines = try Self.text.split(separator: "\n", omittingEmptySubsequences: false)
        for (i, line) in lines.enumerated() where line.hasPrefix("#") && line.dropFirst().first?.isLetter == true && i > 0 {
            let before = lines[i - 1]
            XCTAssertTrue(before.hasPrefix("#"), "no comment above \(line)")
        }
    }

    func testUncommentedItParsesToTheDefaultsAndValidStreamRules() throws {
        var all = try NodeConfig.parse(Self.uncommented(try Self.text))
        XCTAssertEqual(all.services.count, 2)
        XCTAssertEqual(all.allow.count, 1)
        XCTAssertEqual(all.deny.count, 1)
        XCTAssertEqual(all.forwards.count, 1)
        let d = NodeConfig.defaults
        all.services = d.services
        all.allow = d.allow
        all.deny = d.deny
        all.forwards = d.forwards
        XCTAssertEqual(all, d, "every uncommented key shows its default")
    }
}
