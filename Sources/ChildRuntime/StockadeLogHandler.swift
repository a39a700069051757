#if canImport(Glibc)
import Glibc
#endif
import Foundation
@_exported import Logging

/// The one swift-log handler of every Stockade process (supervisor and children), writing
/// through `StandardStreams.write`: a line never blocks nor takes the process down.
///
/// Under systemd (stderr is the journal: `JOURNAL_STREAM` names stderr's device and inode)
/// each line starts with its sd-daemon priority (`<3>` error … `<7>` debug, sd-daemon(3)) and
/// carries no "stockade … [pid]" prefix, which the journal records itself; children keep their
/// role and pid, since the journal attributes every line of the stream to the supervisor. On a
/// terminal or a file the line is readable text: time, process, level word when not info.
public struct StockadeLogHandler: LogHandler {
    public enum Format: Sendable, Equatable {
        case journal
        case text
    }

    /// "supervisor", "worker[0]", "acceptor", "peer-manager".
    public let process: String
    public let format: Format
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    /// The destination; stderr except in tests.
    let fd: Int32

    public init(process: String, level: Logger.Level, format: Format, fd: Int32 = STDERR_FILENO) {
        self.process = process
        self.logLevel = level
        self.format = format
        self.fd = fd
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var all = metadata
        if let extra = event.metadata { all.merge(extra) { $1 } }
        StandardStreams.write(line(level: event.level, message: event.message.description, metadata: all) + "\n", to: fd)
    }

    /// One formatted line without its newline.
    public func line(level: Logger.Level, message: String, metadata: Logger.Metadata = [:], pid: Int32 = getpid(),
                     now: Date = Date()) -> String {
        let fields = metadata.isEmpty ? "" : " " + metadata.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        let word = Self.word(level).map { $0 + ": " } ?? ""
        // A message spanning lines would become several journal entries, all but the first at
        // the default priority: keep it one line.
        let text = (word + message + fields).replacingOccurrences(of: "\n", with: " | ")
        switch format {
        case .journal:
            return "<\(Self.priority(level))>" + (process == "supervisor" ? "" : "\(process) [\(pid)]: ") + text
        case .text:
            return "\(Self.timestamp(now)) stockade \(process) [\(pid)]: " + text
        }
    }

    /// sd-daemon(3)'s syslog priorities.
    public static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: return 7
        case .info: return 6
        case .notice: return 5
        case .warning: return 4
        case .error: return 3
        case .critical: return 2
        }
    }

    /// The word a line of this level starts with (none at info and notice, the normal lines).
    static func word(_ level: Logger.Level) -> String? {
        switch level {
        case .trace, .debug: return "debug"
        case .info, .notice: return nil
        case .warning: return "warning"
        case .error, .critical: return "error"
        }
    }

    private static func timestamp(_ now: Date) -> String {
        var t = time_t(now.timeIntervalSince1970)
        var parts = tm()
        localtime_r(&t, &parts)
        let ms = Int(now.timeIntervalSince1970 * 1000) % 1000
        return String(format: "%02d:%02d:%02d.%03d", parts.tm_hour, parts.tm_min, parts.tm_sec, ms)
    }

    /// Whether `fd` is the journal stream systemd connected: `JOURNAL_STREAM` is "DEV:INODE"
    /// of it (systemd.exec(5)); a stderr redirected elsewhere by the service does not match.
    public static func isJournal(fd: Int32 = STDERR_FILENO, environment: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
        guard let value = environment["JOURNAL_STREAM"] else { return false }
        let parts = value.split(separator: ":")
        guard parts.count == 2, let dev = UInt64(parts[0]), let ino = UInt64(parts[1]) else { return false }
        var st = stat()
        guard fstat(fd, &st) == 0 else { return false }
        return UInt64(st.st_dev) == dev && UInt64(st.st_ino) == ino
    }
}

/// The process's logger, set up once by `StockadeLog.bootstrap`.
public enum StockadeLog {
    /// The variable that carries the level from the supervisor to its children (set by the
    /// supervisor before it spawns them; children inherit its environment).
    public static let levelVariable = "STOCKADE_LOG_LEVEL"

    nonisolated(unsafe) private static var shared: Logger?
    private static let lock = NSLock()

    /// Installs the handler for this process (the first call wins; later ones only change nothing).
    public static func bootstrap(process: String, level: Logger.Level) {
        lock.withLock {
            guard shared == nil else { return }
            let format: StockadeLogHandler.Format = StockadeLogHandler.isJournal() ? .journal : .text
            LoggingSystem.bootstrap { _ in StockadeLogHandler(process: process, level: level, format: format) }
            shared = Logger(label: "stockade")
        }
    }

    /// The logger; a process that never bootstrapped (a test) gets an info-level text one.
    public static var logger: Logger {
        lock.withLock {
            if let shared { return shared }
            var l = Logger(label: "stockade") { _ in StockadeLogHandler(process: "stockade", level: .info, format: .text) }
            l.logLevel = .info
            return l
        }
    }

    /// The level a child runs at: the supervisor's, from the environment.
    public static var inheritedLevel: Logger.Level {
        ProcessInfo.processInfo.environment[levelVariable].flatMap(Logger.Level.init(rawValue:)) ?? .info
    }

    public static func log(_ level: Logger.Level, _ message: String) {
        logger.log(level: level, "\(message)")
    }
}
