#if canImport(Glibc)
import Glibc
#endif

/// A process this load generator starts: another StockadeLoad (a `hold` process) talking over
/// its stdin/stdout, or a `stockade` control command whose run is timed.
final class SpawnedProcess {
    let pid: pid_t
    /// Our ends of the child's stdin and stdout (-1 when not piped).
    private(set) var input: Int32
    private let output: Int32
    private var buffer: [UInt8] = []

    /// Starts `path` with `arguments`. Piped: the child's stdin and stdout are pipes to us;
    /// otherwise its stdout goes to `stdoutPath` (or /dev/null). Its stderr stays ours.
    init(path: String, arguments: [String], piped: Bool, stdoutPath: String? = nil) throws(LoadError) {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var toChild: [Int32] = [-1, -1], fromChild: [Int32] = [-1, -1]
        if piped {
            guard pipe(&toChild) == 0, pipe(&fromChild) == 0 else {
                throw .setup("pipe: \(String(cString: strerror(errno)))")
            }
            // Not inherited by other children; the child's dup2'd 0 and 1 lose the flag.
            for fd in toChild + fromChild { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
            posix_spawn_file_actions_adddup2(&actions, toChild[0], 0)
            posix_spawn_file_actions_adddup2(&actions, fromChild[1], 1)
        } else {
            posix_spawn_file_actions_addopen(&actions, 1, stdoutPath ?? "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0o600)
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var child = pid_t()
        let rc = posix_spawn(&child, path, &actions, nil, argv, environ)
        if piped { close(toChild[0]); close(fromChild[1]) }
        guard rc == 0 else {
            if piped { close(toChild[1]); close(fromChild[0]) }
            throw .setup("cannot start \(path): \(String(cString: strerror(rc)))")
        }
        pid = child
        input = toChild[1]
        output = fromChild[0]
    }

    func send(_ line: String) { if input >= 0 { writeLine(input, line) } }

    /// The child's next stdout line, or nil at EOF or after `timeout`.
    func readLine(timeout: Duration) -> String? {
        let end = ContinuousClock.now + timeout
        var chunk = [UInt8](repeating: 0, count: 512)
        while true {
            if let nl = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffer[..<nl], as: UTF8.self)
                buffer.removeSubrange(...nl)
                return line
            }
            let left = end - ContinuousClock.now
            guard left > .zero else { return nil }
            var p = pollfd(fd: output, events: Int16(POLLIN), revents: 0)
            let ms = Int32(clamping: max(1, Int(Duration.seconds(left) * 1000)))
            guard poll(&p, 1, ms) > 0 else { continue }
            let n = chunk.withUnsafeMutableBytes { read(output, $0.baseAddress, $0.count) }
            if n <= 0 { if n < 0 && errno == EINTR { continue }; return nil }
            buffer += chunk[..<n]
        }
    }

    /// Waits for the child to exit, up to `timeout`, then kills it; its exit status, if it exited.
    @discardableResult
    func wait(timeout: Duration) -> Int32? {
        let end = ContinuousClock.now + timeout
        var status: Int32 = 0
        while ContinuousClock.now < end {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid { return status }
            if r < 0 { return nil }
            usleep(5_000)
        }
        kill(pid, SIGKILL)
        _ = waitpid(pid, &status, 0)
        return nil
    }

    /// `quit` on stdin, then EOF; waits for the exit (killing it after `timeout`).
    func stop(timeout: Duration) {
        send("quit")
        if input >= 0 { close(input); input = -1 }
        wait(timeout: timeout)
        if output >= 0 { close(output) }
    }

    /// Runs `path arguments` to completion (bounded by `timeout`); wall seconds and its stdout.
    static func timedRun(path: String, arguments: [String], timeout: Duration) throws(LoadError) -> (seconds: Double, exitStatus: Int32?, stdout: [UInt8]) {
        let file = "/tmp/stockade-load-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).out"
        defer { unlink(file) }
        let start = ContinuousClock.now
        let child = try SpawnedProcess(path: path, arguments: arguments, piped: false, stdoutPath: file)
        let status = child.wait(timeout: timeout)
        let seconds = Duration.seconds(ContinuousClock.now - start)
        var out: [UInt8] = []
        let fd = open(file, O_RDONLY | O_CLOEXEC)
        if fd >= 0 {
            var chunk = [UInt8](repeating: 0, count: 64 * 1024)
            // Bounded: a listing of 10,000 peers is a few MB.
            while out.count < 256 << 20 {
                let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n <= 0 { break }
                out += chunk[..<n]
            }
            close(fd)
        }
        return (seconds, status, out)
    }
}
