import NodeConfig
import Sockets
import XCTest
@testable import Supervisor

/// The rule that matches systemd's sockets to the listeners (README "systemd").
final class EntrySocketsTests: XCTestCase {
    private func socket(_ fd: Int32, _ name: String, _ address: String) -> EntrySockets.Inherited {
        let hp = HostPort.parse(address)!
        return .init(fd: fd, name: name, address: SocketAddress(ip: hp.ip, port: hp.port))
    }

    private let forwards = [
        NodeConfig.Forward(listen: "127.0.0.1:8022", peer: String(repeating: "a", count: 128), target: "ssh"),
        NodeConfig.Forward(listen: "127.0.0.1:8080", peer: String(repeating: "a", count: 128), target: "web"),
        NodeConfig.Forward(listen: "127.0.0.2:8080", peer: String(repeating: "a", count: 128), target: "web"),
    ]

    func testNamesThenAddressesThenDevp2p() {
        let a = EntrySockets.assign([
            socket(3, "devp2p", "127.0.0.1:30303"),
            socket(4, "socks5", "127.0.0.1:1080"),
            socket(5, "forward-8022", "0.0.0.0:8022"),        // by name: the only forward on 8022
            socket(6, "forward-8080", "127.0.0.2:8080"),      // two forwards on 8080: the address decides
            socket(7, "stockade-fwd.socket", "127.0.0.1:8080"), // unnamed: by address
            socket(8, "stockade.socket", "127.0.0.1:30304"),  // unnamed, no entry there: devp2p
        ], socks5: .init(listen: "", defaultExit: ""), forwards: forwards)
        XCTAssertEqual(a.devp2p, [3, 8])
        XCTAssertEqual(a.entries, [
            .init(kind: .socks5, listen: "127.0.0.1:1080", fd: 4),
            .init(kind: .forward, listen: "127.0.0.1:8022", fd: 5),
            .init(kind: .forward, listen: "127.0.0.2:8080", fd: 6),
            .init(kind: .forward, listen: "127.0.0.1:8080", fd: 7),
        ])
        XCTAssertTrue(a.unmatched.isEmpty)
    }

    func testSOCKS5ByAddressAndWhatNothingWants() {
        let a = EntrySockets.assign([
            socket(3, "unknown", "127.0.0.1:1080"),
            socket(4, "forward-9999", "127.0.0.1:9999"),
            socket(5, "socks5", "127.0.0.1:1081"),
        ], socks5: .init(listen: "127.0.0.1:1080", defaultExit: ""), forwards: forwards)
        XCTAssertEqual(a.devp2p, [])
        XCTAssertEqual(a.entries, [.init(kind: .socks5, listen: "127.0.0.1:1080", fd: 3)])
        XCTAssertEqual(a.unmatched.map(\.fd), [4, 5], "\(a.unmatched)")
    }
}
