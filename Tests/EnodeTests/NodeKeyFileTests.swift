import XCTest
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Secp256k1
import TestVectors
@testable import Enode

final class NodeKeyFileTests: XCTestCase {
    var directory = ""

    override func setUpWithError() throws {
        var template = Array((NSTemporaryDirectory() + "/nodekey-test-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw XCTSkip("mkdtemp failed") }
        directory = String(cString: made)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func path(_ name: String = "nodekey") -> String { directory + "/" + name }

    private func writeRaw(_ text: String, mode: mode_t = 0o600, name: String = "nodekey") {
        XCTAssertTrue(FileManager.default.createFile(atPath: path(name), contents: Data(text.utf8)))
        chmod(path(name), mode)
    }

    private func mode(_ p: String) -> mode_t {
        var st = stat()
        stat(p, &st)
        return st.st_mode & 0o7777
    }

    private let keyHex = "49a7b37aa6f6645917e7b807e9d1c00d4fa71f18343b0d4122a4d2df64dd6fee"  // EIP-8 key A

    func testGoEthereumFormatLoads() throws {
        writeRaw(keyHex)
        let loaded = try NodeKeyFile.load(path: path())
        XCTAssertEqual(TestVectors.hexString(loaded.key.bytes), keyHex)
        XCTAssertFalse(loaded.isWorldReadable)
        XCTAssertFalse(loaded.generated)
        XCTAssertEqual(TestVectors.hexString(loaded.key.publicKey.raw64),
                       "fda1cff674c90c9a197539fe3dfb53086ace64f83ed7c6eabec741f7f381cc803e52ab2cd55d5569bce4347107a310dfd5f88a010cd2ffd1005ca406f1842877")
    }

    func testTrailingNewlineTolerated() throws {
        for suffix in ["\n", "\r\n"] {
            writeRaw(keyHex + suffix)
            XCTAssertEqual(TestVectors.hexString(try NodeKeyFile.load(path: path()).key.bytes), keyHex)
        }
        writeRaw(keyHex.uppercased())
        XCTAssertEqual(TestVectors.hexString(try NodeKeyFile.load(path: path()).key.bytes), keyHex)
    }

    func testMalformedFilesRejected() {
        for bad in [keyHex + "\n\n", keyHex + " ", String(keyHex.dropLast()), "", keyHex + keyHex, "0x" + String(keyHex.dropFirst(2))] {
            writeRaw(bad)
            XCTAssertThrowsError(try NodeKeyFile.load(path: path()), bad) { error in
                guard case .malformed = error as? NodeKeyFileError else { return XCTFail("\(error)") }
            }
        }
        writeRaw(String(repeating: "0", count: 64))
        XCTAssertThrowsError(try NodeKeyFile.load(path: path())) {
            XCTAssertEqual($0 as? NodeKeyFileError, .invalidKey(path: self.path(), .privateKeyOutOfRange))
        }
    }

    func testHugeFileReadIsBounded() throws {
        writeRaw(keyHex + String(repeating: "a", count: 1 << 20))
        XCTAssertThrowsError(try NodeKeyFile.load(path: path())) { error in
            guard case .malformed = error as? NodeKeyFileError else { return XCTFail("\(error)") }
        }
    }

    func testDirectoryAndMissingFileRefused() {
        XCTAssertThrowsError(try NodeKeyFile.load(path: directory)) {
            XCTAssertEqual($0 as? NodeKeyFileError, .notRegularFile(self.directory))
        }
        XCTAssertThrowsError(try NodeKeyFile.load(path: path("absent"))) {
            XCTAssertEqual($0 as? NodeKeyFileError, .system(operation: "open", path: self.path("absent"), errno: ENOENT))
        }
    }

    func testWorldReadableFlagged() throws {
        writeRaw(keyHex, mode: 0o644)
        let loaded = try NodeKeyFile.load(path: path())
        XCTAssertTrue(loaded.isWorldReadable)
        XCTAssertEqual(loaded.mode, 0o644)
    }

    func testWriteIsGoEthereumFormatWithMode0600() throws {
        let key = PrivateKey.generate()
        writeRaw("old content", mode: 0o644)
        try NodeKeyFile.write(key, to: path())
        let content = try String(contentsOfFile: path(), encoding: .utf8)
        XCTAssertEqual(content, TestVectors.hexString(key.bytes))   // no newline, as SaveECDSA
        XCTAssertEqual(mode(path()), 0o600)
        // Only the key file is left: the temporary was renamed, not copied.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory), ["nodekey"])
        XCTAssertEqual(try NodeKeyFile.load(path: path()).key.bytes, key.bytes)
    }

    func testWriteIntoMissingDirectoryFails() {
        XCTAssertThrowsError(try NodeKeyFile.write(PrivateKey.generate(), to: directory + "/no/such/nodekey")) { error in
            guard case .system(operation: "create", _, errno: ENOENT) = error as? NodeKeyFileError else { return XCTFail("\(error)") }
        }
    }

    func testGenerateOrLoad() throws {
        let first = try NodeKeyFile.loadOrGenerate(path: path())
        XCTAssertTrue(first.generated)
        XCTAssertEqual(mode(path()), 0o600)
        let second = try NodeKeyFile.loadOrGenerate(path: path())
        XCTAssertFalse(second.generated)
        XCTAssertEqual(second.key.bytes, first.key.bytes)
        // A malformed existing key is an error, never silently replaced.
        writeRaw("garbage")
        XCTAssertThrowsError(try NodeKeyFile.loadOrGenerate(path: path()))
        XCTAssertEqual(try String(contentsOfFile: path(), encoding: .utf8), "garbage")
    }
}
