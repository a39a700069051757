import NodeConfig
import XCTest

extension XCTestCase {
    /// The issues `text` produces (failing the test if it parses).
    func issues(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> [ConfigIssue] {
        do {
            _ = try NodeConfig.parse(text)
            XCTFail("parsed without error:\n\(text)", file: file, line: line)
            return []
        } catch {
            return error.issues
        }
    }
}
