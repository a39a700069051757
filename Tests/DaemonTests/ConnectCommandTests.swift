import Enode
import Foundation
import Sockets
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// `stockade connect PEER TARGET` as ssh's ProxyCommand: a real ssh session to a private sshd
/// behind a second daemon, and the exit statuses of the ways a connect fails.
final class ConnectCommandTests: XCTestCase {
    func testSSHThroughConnectAndItsFailures() throws {
        let sshd = try PrivateSSHD.start()
        defer { sshd.stop() }
        let closedPort = try freeLoopbackPort()

        let a = try DaemonProcess(["run"], config: TestConfig.toml())
        defer { a.stop() }
        a.logOnFailure(of: self, label: "entry A")
        try a.waitReady()
        let idA = try EnodeURL(parsing: a.enode()).nodeID.hex

        // B, the exit: its sshd is the service "ssh"; "web" exists but A may not open it.
        let exitRules = """
            [services]
            ssh = "127.0.0.1:\(sshd.port)"
            web = "127.0.0.1:\(closedPort)"
            [[allow]]
            peers = ["\(idA)"]
            targets = ["ssh", "127.0.0.1:\(closedPort)"]
            """
        let b = try DaemonProcess(["run", "--static", try a.enode()], config: TestConfig.toml() + exitRules + "\n")
        defer { b.stop() }
        b.logOnFailure(of: self, label: "exit B")
        try b.waitReady()
        let idB = try EnodeURL(parsing: b.enode()).nodeID.hex
        XCTAssertTrue(a.waitForLog("peer added: \(idB.prefix(16))…"), "B never connected to A")
        let prefixB = String(idB.prefix(10))
        let supervisorFDs = ProcessTable.fdCount(a.pid)

        // The ssh session itself, twice (the second proves the first left nothing behind that matters).
        for word in ["hi", "again"] {
            let ssh = try DaemonProcess.run("/usr/bin/ssh", [
                "-F", "/dev/null",
                "-o", "ProxyCommand=\(DaemonProcess.binary) connect --control-socket \(a.controlSocket) \(prefixB) ssh",
                "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes",
                "-o", "IdentitiesOnly=yes", "-o", "LogLevel=ERROR", "-i", sshd.clientKey, "-p", "\(sshd.port)",
                "\(sshd.user)@stk", "echo", word,
            ], timeout: 60)
            XCTAssertEqual(ssh.status, 0, "ssh through stockade connect failed: \(ssh)\nsshd: \(sshd.log)")
            XCTAssertEqual(ssh.stdout.trimmingCharacters(in: .whitespacesAndNewlines), word, "\(ssh)")
        }

        func connect(_ peer: String, _ target: String, socket: String? = nil) throws -> CLIResult {
            try DaemonProcess.stockade(["connect", "--control-socket", socket ?? a.controlSocket, peer, target], timeout: 40)
        }
        // Denied by the exit's rules: EX_NOPERM.
        let denied = try connect(prefixB, "web")
        XCTAssertEqual(denied.status, 77, "\(denied)")
        XCTAssertTrue(denied.stderr.contains("not allowed"), "\(denied)")
        // Allowed, but nothing listens there: EX_UNAVAILABLE, saying refused.
        let refused = try connect(prefixB, "127.0.0.1:\(closedPort)")
        XCTAssertEqual(refused.status, 69, "\(refused)")
        XCTAssertTrue(refused.stderr.contains("connection refused"), "\(refused)")
        // A peer this node does not know: EX_UNAVAILABLE, saying so.
        let unknown = try connect("0123456789abcdef", "ssh")
        XCTAssertEqual(unknown.status, 69, "\(unknown)")
        XCTAssertTrue(unknown.stderr.contains("no connected or static peer"), "\(unknown)")
        // Not a node ID at all, or a bad target: EX_USAGE.
        for (peer, target) in [("xyz", "ssh"), (prefixB, "bad host:")] {
            let usage = try connect(peer, target)
            XCTAssertEqual(usage.status, 64, "\(usage)")
        }
        // No daemon there: EX_UNAVAILABLE.
        let nothing = try connect(prefixB, "ssh", socket: a.stateDir.appendingPathComponent("absent.sock").path)
        XCTAssertEqual(nothing.status, 69, "\(nothing)")
        XCTAssertTrue(nothing.stderr.contains("cannot reach the daemon's control socket"), "\(nothing)")
        XCTAssertTrue(try a.control(["connect", "--help"]).stdout.contains("ProxyCommand"))

        // Nothing kept: the supervisor handed every connection over, the sessions are gone.
        XCTAssertTrue(a.waitFor(10) { _, _ in ProcessTable.fdCount(a.pid) <= supervisorFDs }, "supervisor fds \(ProcessTable.fdCount(a.pid)) > \(supervisorFDs)")
        let sessions = try a.control(["sessions"])
        XCTAssertEqual(sessions.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "no sessions", "\(sessions)")
        XCTAssertEqual(ProcessTable.zombies(of: a.pid), [])
    }
}

/// An sshd of Debian's openssh-server on 127.0.0.1, with its own host key, client key and
/// settings in a temp directory (`-f /dev/null`: the host's sshd_config plays no part).
final class PrivateSSHD {
    static let binary = "/usr/sbin/sshd"
    private(set) var pid: pid_t = 0
    let dir: URL
    let port: UInt16
    let clientKey: String
    let user: String
    private let logFile: URL

    static func start() throws -> PrivateSSHD {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: binary) && FileManager.default.isExecutableFile(atPath: "/usr/bin/ssh"),
                          "openssh-server and openssh-client are not installed (ops/install-deps.sh --test)")
        return try PrivateSSHD()
    }

    private init() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("stockade-sshd-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let hostKey = dir.appendingPathComponent("host_key").path
        clientKey = dir.appendingPathComponent("client_key").path
        for key in [hostKey, clientKey] {
            let r = try DaemonProcess.run("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", key])
            guard r.status == 0 else { throw DaemonTestError("ssh-keygen: \(r)") }
        }
        let authorized = dir.appendingPathComponent("authorized_keys")
        try FileManager.default.copyItem(atPath: clientKey + ".pub", toPath: authorized.path)
        // sshd's privilege-separation directory, which the package's service normally creates.
        try FileManager.default.createDirectory(atPath: "/run/sshd", withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        user = String(cString: getpwuid(geteuid()).pointee.pw_name)
        port = try freeLoopbackPort()
        logFile = dir.appendingPathComponent("sshd.log")
        let arguments = [Self.binary, "-D", "-f", "/dev/null", "-E", logFile.path,
                         "-o", "ListenAddress=127.0.0.1:\(port)", "-o", "HostKey=\(hostKey)",
                         "-o", "AuthorizedKeysFile=\(authorized.path)", "-o", "PidFile=\(dir.appendingPathComponent("sshd.pid").path)",
                         "-o", "StrictModes=no", "-o", "UsePAM=no", "-o", "PasswordAuthentication=no",
                         "-o", "KbdInteractiveAuthentication=no", "-o", "PermitRootLogin=prohibit-password"]
        // posix_spawn, not Foundation's Process: sshd closes every descriptor it inherits, and
        // Process takes its monitoring socket closing for the child's exit, then blocks its one
        // reaping thread in waitpid on the live sshd, so no other Process is ever reaped.
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        let argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var spawned: pid_t = 0
        let rc = posix_spawn(&spawned, Self.binary, &actions, nil, argv, environ)
        guard rc == 0 else { throw DaemonTestError("posix_spawn sshd: \(String(cString: strerror(rc)))") }
        pid = spawned
        // Listening once a TCP connect succeeds.
        let end = Date().addingTimeInterval(10)
        while Date() < end {
            if let address = SocketAddress(ip: "127.0.0.1", port: port), (try? RawConnection(to: address)) != nil { return }
            usleep(50_000)
        }
        stop()
        throw DaemonTestError("sshd did not listen on \(port): \(log)")
    }

    var log: String { (try? String(contentsOf: logFile, encoding: .utf8)) ?? "" }

    func stop() {
        if pid > 0 {
            kill(pid, SIGTERM)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
            pid = 0
        }
        try? FileManager.default.removeItem(at: dir)
    }
}
