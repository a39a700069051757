import XCTest
#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Secp256k1
@testable import RLPxHandshake

/// Both roles over a real TCP connection on 127.0.0.1, one thread each, plain POSIX sockets.
/// Every blocking call has a socket timeout, and the test waits for the responder thread with a
/// deadline, so a bug fails the test instead of hanging it.
final class TCPHandshakeTests: XCTestCase {
    /// Bytes the responder sends right after its ack, standing in for its first RLPx frame: the
    /// initiator must leave them unconsumed.
    static let afterAck: [UInt8] = Array("first frame".utf8)

    func testEIP8OverLoopback() throws { try runOverLoopback(format: .eip8) }
    func testLegacyOverLoopback() throws { try runOverLoopback(format: .legacy) }

    private func runOverLoopback(format: HandshakeFormat) throws {
        let keyA = PrivateKey.generate(), keyB = PrivateKey.generate()
        let (listener, port) = try Loopback.listen()
        defer { close(listener) }

        let box = ResultBox()
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            defer { done.signal() }
            do {
                let fd = try Loopback.accept(listener)
                defer { close(fd) }
                var responder = HandshakeResponder(staticKey: keyB)
                let (outcome, leftover) = try Loopback.read(fd) { try responder.receiveAuth($0) }
                try Loopback.writeAll(fd, outcome.ackPacket + TCPHandshakeTests.afterAck)
                box.set(.success((outcome.result, leftover)))
            } catch {
                box.set(.failure(error))
            }
        }
        thread.start()

        let fd = try Loopback.connect(port: port)
        defer { close(fd) }
        var initiator = try HandshakeInitiator(staticKey: keyA, remotePublicKey: keyB.publicKey, format: format)
        try Loopback.writeAll(fd, initiator.authPacket)
        let (result, afterPacket) = try Loopback.read(fd) { try initiator.receiveAck($0) }
        var leftover = afterPacket
        while leftover.count < Self.afterAck.count {
            leftover += try Loopback.readSome(fd)
        }
        XCTAssertEqual(leftover, Self.afterAck)

        XCTAssertEqual(done.wait(timeout: .now() + 30), .success, "responder thread did not finish")
        let (remote, responderLeftover) = try XCTUnwrap(box.get()).get()
        XCTAssertEqual(responderLeftover, [])
        XCTAssertEqual(result.remotePublicKey, keyB.publicKey)
        XCTAssertEqual(remote.remotePublicKey, keyA.publicKey)
        XCTAssertEqual(result.remoteFormat, format)
        XCTAssertEqual(remote.remoteFormat, format)
        XCTAssertEqual(result.secrets.aesSecret, remote.secrets.aesSecret)
        XCTAssertEqual(result.secrets.macSecret, remote.secrets.macSecret)
        XCTAssertEqual(result.secrets.egressMAC.digest(), remote.secrets.ingressMAC.digest())
        XCTAssertEqual(result.secrets.ingressMAC.digest(), remote.secrets.egressMAC.digest())
    }
}

final class ResultBox: @unchecked Sendable {
    typealias Value = Result<(HandshakeResult, [UInt8]), Error>
    private let lock = NSLock()
    private var value: Value?
    func set(_ v: Value) { lock.lock(); value = v; lock.unlock() }
    func get() -> Value? { lock.lock(); defer { lock.unlock() }; return value }
}

enum LoopbackError: Error, CustomStringConvertible {
    case call(String, Int32)
    case closedEarly
    var description: String {
        switch self {
        case .call(let name, let e): return "\(name) failed: \(String(cString: strerror(e)))"
        case .closedEarly: return "peer closed the connection mid-handshake"
        }
    }
}

/// Minimal blocking TCP on 127.0.0.1 for the test.
enum Loopback {
    /// Per-call socket timeout: bounds every blocking read and write.
    static let ioTimeoutSeconds = 10

    static func listen() throws -> (Int32, UInt16) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw LoopbackError.call("socket", errno) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { close(fd); throw LoopbackError.call("bind", errno) }
        guard Glibc.listen(fd, 1) == 0 else { close(fd); throw LoopbackError.call("listen", errno) }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        try setTimeouts(fd)  // accept() honours SO_RCVTIMEO on Linux
        return (fd, UInt16(bigEndian: addr.sin_port))
    }

    static func accept(_ listener: Int32) throws -> Int32 {
        let fd = Glibc.accept(listener, nil, nil)
        guard fd >= 0 else { throw LoopbackError.call("accept", errno) }
        try setTimeouts(fd)
        return fd
    }

    static func connect(port: UInt16) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw LoopbackError.call("socket", errno) }
        try setTimeouts(fd)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { close(fd); throw LoopbackError.call("connect", errno) }
        return fd
    }

    static func setTimeouts(_ fd: Int32) throws {
        var tv = timeval(tv_sec: ioTimeoutSeconds, tv_usec: 0)
        for option in [SO_RCVTIMEO, SO_SNDTIMEO] {
            guard setsockopt(fd, SOL_SOCKET, option, &tv, socklen_t(MemoryLayout<timeval>.size)) == 0 else {
                throw LoopbackError.call("setsockopt", errno)
            }
        }
    }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw LoopbackError.call("send", errno)
            }
            sent += n
        }
    }

    static func readSome(_ fd: Int32) throws -> [UInt8] {
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
            if n < 0 {
                if errno == EINTR { continue }
                throw LoopbackError.call("recv", errno)
            }
            if n == 0 { throw LoopbackError.closedEarly }
            return Array(chunk[0..<n])
        }
    }

    /// Reads as a real caller would: whatever the socket has, handed to the state machine until it
    /// finishes; returns the bytes read past the packet.
    static func read<V>(_ fd: Int32, _ step: ([UInt8]) throws -> HandshakeProgress<V>) throws -> (V, [UInt8]) {
        var buffer: [UInt8] = []
        while true {
            switch try step(buffer) {
            case .done(let value, let consumed): return (value, Array(buffer[consumed...]))
            case .needMore: buffer += try readSome(fd)
            }
        }
    }
}
