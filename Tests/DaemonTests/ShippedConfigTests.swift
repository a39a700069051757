import Enode
import Foundation
import Secp256k1
import TestVectors
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// What units/stockade.service does with /etc/stockade/stockade.toml, on the real binary: the
/// shipped example passes `check-config` (as shipped and with every setting uncommented), a
/// missing file under --config-optional starts the node on the defaults with a notice and a
/// reload reads the file once it exists, and anything else wrong with the file still fails.
final class ShippedConfigTests: XCTestCase {
    func testShippedExamplePassesCheckConfig() throws {
        // The unit reads the file this example is installed as, and tolerates its absence.
        let unit = try String(contentsOf: TestVectors.repositoryFile("units/stockade.service"), encoding: .utf8)
        XCTAssertTrue(unit.contains("\nExecStart=/usr/local/bin/stockade run --config /etc/stockade/stockade.toml --config-optional "), unit)
        let example = TestVectors.repositoryFile("units/stockade.toml").path
        let checked = try DaemonProcess.stockade(["check-config", example])
        XCTAssertEqual(checked.status, 0, "\(checked)")
        XCTAssertTrue(checked.stdout.contains("\(example): OK"), "\(checked)")

        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("stockade-example-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let uncommented = dir.appendingPathComponent("all.toml")
        let text = try String(contentsOfFile: example, encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> Substring in
            guard line.hasPrefix("#"), let next = line.dropFirst().first, next == "[" || next.isLetter else { return line }
            return line.dropFirst()
        }
        try Data(lines.joined(separator: "\n").utf8).write(to: uncommented)
        let all = try DaemonProcess.stockade(["check-config", uncommented.path])
        XCTAssertEqual(all.status, 0, "\(all)")
        XCTAssertTrue(all.stdout.contains("2 services, 1 allow and 1 deny rules, 1 forwards"), "\(all)")
    }

    func testMissingOptionalConfigRunsOnDefaultsAndReloadReadsItLater() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("stockade-optional-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("etc/stockade.toml").path

        let daemon = try DaemonProcess(["run", "--config", path, "--config-optional", "--no-dial"])
        defer { daemon.stop() }
        daemon.logOnFailure(of: self)
        try daemon.waitReady()
        XCTAssertTrue(daemon.stderr.contains("config file \(path) does not exist (--config-optional): running on the embedded defaults"),
                      daemon.stderr)

        // The file appears; a reload applies it.
        let trusted = "enode://\(NodeID(publicKey: PrivateKey.generate().publicKey).hex)@127.0.0.1:30399"
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data("[peers]\ntrusted = [\"\(trusted)\"]\n".utf8).write(to: URL(fileURLWithPath: path))
        daemon.signal(SIGHUP)
        XCTAssertTrue(daemon.waitForLog("reloaded \(path)"), daemon.stderr)
        let nodes = try daemon.control(["nodes", "--json"])
        XCTAssertTrue(nodes.stdout.contains(trusted), "\(nodes)")

        // Not optional, the same missing file is a configuration error (78) naming path and errno.
        let required = try DaemonProcess.stockade(["run", "--config", dir.appendingPathComponent("none.toml").path, "--listen", "127.0.0.1:0"])
        XCTAssertEqual(required.status, 78, "\(required)")
        XCTAssertTrue(required.stderr.contains("No such file or directory (errno 2)"), "\(required)")
        // Optional covers only absence: a directory in its place is still an error.
        let directory = try DaemonProcess.stockade(["run", "--config", dir.path, "--config-optional", "--listen", "127.0.0.1:0"])
        XCTAssertEqual(directory.status, 78, "\(directory)")
        XCTAssertTrue(directory.stderr.contains("is a directory"), "\(directory)")
        // And the flag alone means nothing.
        let alone = try DaemonProcess.stockade(["run", "--config-optional"])
        XCTAssertEqual(alone.status, 64, "\(alone)")
        XCTAssertTrue(alone.stderr.contains("--config-optional: needs --config FILE"), "\(alone)")
    }
}
