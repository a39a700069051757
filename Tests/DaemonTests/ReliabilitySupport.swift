import CStockade
import Enode
import Foundation
import PeerLink
import Secp256k1
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Which of a process's descriptors is its end of a channel to another process, found from
/// the kernel's own account: `ss -x` lists every Unix socket with its peer's inode, and
/// /proc/PID/fd names each descriptor's socket inode.
enum UnixChannels {
    /// Socket inode → its peer's inode, for every connected Unix socket (ss from iproute2).
    static func peers() -> [UInt64: UInt64] {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/ss")
        p.arguments = ["-x", "-a", "-n"]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return [:] }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        var map: [UInt64: UInt64] = [:]
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
            let f = line.split(separator: " ", omittingEmptySubsequences: true)
            // Netid State Recv-Q Send-Q Local-Address Port Peer-Address Port
            guard f.count >= 8, f[0].hasPrefix("u_"), let local = UInt64(f[5]), let peer = UInt64(f[7]) else { continue }
            map[local] = peer
        }
        return map
    }

    /// Descriptor number → socket inode, for every socket `pid` holds.
    static func sockets(of pid: Int32) -> [Int32: UInt64] {
        let dir = "/proc/\(pid)/fd"
        var out: [Int32: UInt64] = [:]
        for name in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] {
            guard let fd = Int32(name), let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "\(dir)/\(name)"),
                  target.hasPrefix("socket:["), let inode = UInt64(target.dropFirst(8).dropLast()) else { continue }
            out[fd] = inode
        }
        return out
    }

    /// The descriptor in `pid` whose socket's peer is held by `other`.
    static func descriptor(in pid: Int32, connectedTo other: Int32) -> Int32? {
        let peers = peers()
        let theirs = Set(sockets(of: other).values)
        return sockets(of: pid).first { _, inode in peers[inode].map(theirs.contains) ?? false }?.key
    }

    /// Writes one record into `pid`'s descriptor `fd` (taken with pidfd_getfd), so the
    /// process's neighbour receives it as if `pid` had sent it.
    static func inject(_ bytes: [UInt8], into pid: Int32, fd: Int32) throws {
        let stolen = stockade_steal_fd(pid, fd)
        guard stolen >= 0 else { throw DaemonTestError("pidfd_getfd(\(pid), \(fd)): \(String(cString: strerror(errno)))") }
        defer { close(stolen) }
        let sent = bytes.withUnsafeBytes { send(stolen, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        guard sent == bytes.count else { throw DaemonTestError("send into \(pid)'s fd \(fd): \(String(cString: strerror(errno)))") }
    }
}

extension DaemonProcess {
    /// `stockade run` for `test`, ready: its log printed if the test fails, stopped at teardown.
    static func ready(for test: XCTestCase, _ arguments: [String] = ["run"], config: String? = TestConfig.toml()) throws -> DaemonProcess {
        let daemon = try DaemonProcess(arguments, config: config)
        daemon.logOnFailure(of: test)
        test.addTeardownBlock { daemon.stop() }
        try daemon.waitReady()
        return daemon
    }
}

extension TestPeer {
    /// A live peer: dialed, and its link proven with one Ping.
    static func live(_ enode: EnodeURL, key: PrivateKey = .generate()) throws -> PeerLink {
        let link = try dial(enode, key: key)
        _ = try link.ping(timeout: .seconds(5))
        return link
    }
}
