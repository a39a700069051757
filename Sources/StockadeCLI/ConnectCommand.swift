#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import Control
import Foundation

/// `stockade connect PEER TARGET`: stdin and stdout joined to one session (as `ssh -W` or
/// `nc`), so that ssh's ProxyCommand reaches a remote node's sshd through Stockade. The daemon
/// answers the request with one status line and then carries raw bytes on the same connection.
struct ConnectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "connect",
        abstract: "Join stdin/stdout to a session to TARGET on PEER (as ssh -W or nc).",
        discussion: """
        For ssh, as its ProxyCommand (the exit names its sshd `ssh` in [services]):

          ssh -o ProxyCommand='stockade connect 1a2b3c4d ssh' user@node-b

        End of input on stdin is passed on as a half-close; the command ends when the \
        session's other direction ends. Exit status (sysexits): 0 the session ran; 64 usage \
        (bad or ambiguous PEER, bad TARGET); 69 the daemon, the peer or the target cannot be \
        reached (peer not connected, connection refused, timed out, unreachable: the message \
        says which); 77 the exit's rules deny TARGET to this node; 74 an I/O error mid-session.
        """)

    @OptionGroup var control: ControlOptions
    @Argument(help: "The exit peer: node ID, a unique prefix of 8+ hex digits, or an enode URL.") var peer: String
    @Argument(help: "A service name of the exit (e.g. ssh), or host:port as the exit sees it.") var target: String

    /// sysexits.h.
    static let usage: Int32 = 64, unavailable: Int32 = 69, ioError: Int32 = 74, noPermission: Int32 = 77

    /// How long the status line may take: the daemon's open deadline ([mux] open_timeout_ms,
    /// 15 s by default, a static peer's dial included) with a margin.
    static let replyTimeoutSeconds: Int32 = 60

    func run() throws {
        // A reader (ssh) that goes away must end us with a status, not a signal.
        signal(SIGPIPE, SIG_IGN)
        let client: ControlClient
        let reply: ControlReply
        do {
            client = try ControlClient(path: control.controlSocket)
            reply = try client.call(ControlRequest(command: .connect, peer: peer, target: target), timeoutSeconds: Self.replyTimeoutSeconds)
        } catch {
            throw Self.fail(Self.unavailable, "\(error)")
        }
        guard reply.ok else {
            let status = Self.exitStatus(reply)
            throw Self.fail(status, reply.error ?? "the daemon refused the session")
        }
        let status = Self.relay(socket: client.fileDescriptor, first: client.takeBuffered())
        withExtendedLifetime(client) {}
        if status != 0 { throw ExitCode(status) }
    }

    /// The exit status a refused connect maps to.
    static func exitStatus(_ reply: ControlReply) -> Int32 {
        if reply.usage == true { return usage }
        // 0x02: the exit's allowlist denied the target (ipc/MUX.md).
        if reply.muxError == 0x02 { return noPermission }
        return unavailable
    }

    static func fail(_ status: Int32, _ message: String) -> ExitCode {
        FileHandle.standardError.write(Data("stockade connect: \(message)\n".utf8))
        return ExitCode(status)
    }

    /// stdin → socket on a thread of its own (its end of file becomes shutdown(SHUT_WR)), socket
    /// → stdout here until the session's end of file. Blocking I/O both ways: each direction
    /// waits only for its own reader, so a slow ssh never stalls the other direction.
    static func relay(socket fd: Int32, first: [UInt8]) -> Int32 {
        Thread.detachNewThread {
            var buffer = [UInt8](repeating: 0, count: 64 * 1024)
            while true {
                let n = buffer.withUnsafeMutableBytes { read(STDIN_FILENO, $0.baseAddress, $0.count) }
                if n < 0 && retry(STDIN_FILENO, Int16(POLLIN)) { continue }
                // End of input (or a stdin that cannot be read): the session's Fin.
                guard n > 0, writeAll(fd, buffer[0..<n], isSocket: true) else { break }
            }
            shutdown(fd, Int32(SHUT_WR))
        }
        guard writeAll(STDOUT_FILENO, first[...], isSocket: false) else { return 0 }
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && retry(fd, Int16(POLLIN)) { continue }
            if n < 0 {
                FileHandle.standardError.write(Data("stockade connect: session: \(String(cString: strerror(errno)))\n".utf8))
                return ioError
            }
            // The session ended (or our reader did: nothing more to deliver either way).
            if n == 0 || !writeAll(STDOUT_FILENO, buffer[0..<n], isSocket: false) { return 0 }
        }
    }

    /// Whether a failed read or write should be tried again: interrupted, or a descriptor
    /// someone made non-blocking (ssh may share its pipes so) that is not ready yet.
    private static func retry(_ fd: Int32, _ events: Int16) -> Bool {
        switch errno {
        case EINTR: return true
        case EAGAIN:
            var p = pollfd(fd: fd, events: events, revents: 0)
            _ = poll(&p, 1, -1)
            return true
        default: return false
        }
    }

    private static func writeAll(_ fd: Int32, _ bytes: ArraySlice<UInt8>, isSocket: Bool) -> Bool {
        var offset = bytes.startIndex
        while offset < bytes.endIndex {
            let n = bytes[offset...].withUnsafeBytes {
                isSocket ? send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) : write(fd, $0.baseAddress, $0.count)
            }
            if n < 0 && retry(fd, Int16(POLLOUT)) { continue }
            if n <= 0 { return false }
            offset += n
        }
        return true
    }
}
