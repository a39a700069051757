#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Secp256k1

/// Why the node key file could not be read or written.
public enum NodeKeyFileError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A system call failed; `errno` says why.
    case system(operation: String, path: String, errno: Int32)
    /// Not a regular file (a directory, FIFO or device): refused before reading.
    case notRegularFile(String)
    /// The content is not 64 hex characters with at most a trailing newline.
    case malformed(path: String, reason: String)
    /// 64 valid hex characters, but not a valid secp256k1 private key.
    case invalidKey(path: String, Secp256k1Error)

    public var description: String {
        switch self {
        case .system(let op, let path, let e): return "node key \(path): \(op) failed: \(String(cString: strerror(e)))"
        case .notRegularFile(let path): return "node key \(path): not a regular file"
        case .malformed(let path, let reason): return "node key \(path): \(reason)"
        case .invalidKey(let path, let e): return "node key \(path): \(e)"
        }
    }
}

/// A node key read from disk, with what the caller should warn about.
public struct LoadedNodeKey: Sendable {
    public let key: PrivateKey
    /// The file's permission bits.
    public let mode: UInt32
    /// True when others may read the file (mode & 0o004). The key still loads (go-ethereum does
    /// not check at all); the caller should warn.
    public var isWorldReadable: Bool { mode & 0o004 != 0 }
    /// True when `loadOrGenerate` made a new key because the file did not exist.
    public let generated: Bool
}

/// go-ethereum's `nodekey` file format (`crypto.SaveECDSA` / `LoadECDSA`): the 32-byte key as 64
/// hex characters, no newline written; a trailing "\n" or "\r\n" is tolerated on read.
public enum NodeKeyFile {
    /// 64 hex characters + "\r\n"; one more byte than this means the file is too long. Reading
    /// stops there, so a huge file costs nothing.
    static let maxLength = 66

    public static func load(path: String) throws(NodeKeyFileError) -> LoadedNodeKey {
        // O_NONBLOCK so a FIFO at the path cannot hang us before the regular-file check.
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw .system(operation: "open", path: path, errno: errno) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw .system(operation: "stat", path: path, errno: errno) }
        guard st.st_mode & S_IFMT == S_IFREG else { throw .notRegularFile(path) }

        var buffer = [UInt8](repeating: 0, count: maxLength + 1)
        var count = 0
        while count < buffer.count {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress! + count, $0.count - count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .system(operation: "read", path: path, errno: errno)
            }
            if n == 0 { break }
            count += n
        }
        guard count <= maxLength else { throw .malformed(path: path, reason: "file is longer than \(maxLength) bytes") }
        let text = stripNewline(Array(buffer[0..<count]))
        guard text.count == 64 else { throw .malformed(path: path, reason: "want 64 hex characters, found \(text.count) bytes") }
        guard let bytes = Hex.decode(text) else { throw .malformed(path: path, reason: "not hexadecimal") }
        do {
            return LoadedNodeKey(key: try PrivateKey(bytes: bytes), mode: UInt32(st.st_mode & 0o7777), generated: false)
        } catch {
            throw .invalidKey(path: path, error)
        }
    }

    /// Writes the key atomically with mode 0600: a temporary file in the same directory is
    /// written, fsynced and renamed over `path`, so a crash leaves either the old file or the new.
    public static func write(_ key: PrivateKey, to path: String) throws(NodeKeyFileError) {
        let temp = path + ".tmp-\(getpid())-" + Hex.encode(SecureRandom.bytes(4))
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode_t(0o600))
        guard fd >= 0 else { throw .system(operation: "create", path: temp, errno: errno) }
        var ok = false
        defer { if !ok { unlink(temp) } }

        // The umask may only remove bits, and 0600 is what we want; fchmod makes it exact anyway.
        _ = fchmod(fd, 0o600)
        let content = Array(Hex.encode(key.bytes).utf8)
        var written = 0
        while written < content.count {
            let n = content.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + written, $0.count - written) }
            if n < 0 {
                if errno == EINTR { continue }
                let e = errno
                close(fd)
                throw .system(operation: "write", path: temp, errno: e)
            }
            written += n
        }
        if fsync(fd) != 0 {
            let e = errno
            close(fd)
            throw .system(operation: "fsync", path: temp, errno: e)
        }
        close(fd)
        guard rename(temp, path) == 0 else { throw .system(operation: "rename", path: path, errno: errno) }
        ok = true
        syncDirectory(of: path)
    }

    /// Loads the key at `path`, or, if there is no file, generates one and writes it.
    public static func loadOrGenerate(path: String) throws(NodeKeyFileError) -> LoadedNodeKey {
        do {
            return try load(path: path)
        } catch .system(operation: "open", path: _, errno: ENOENT) {
            let key = PrivateKey.generate()
            try write(key, to: path)
            return LoadedNodeKey(key: key, mode: 0o600, generated: true)
        }
    }

    private static func stripNewline(_ content: [UInt8]) -> [UInt8] {
        var text = content
        if text.last == UInt8(ascii: "\n") {
            text.removeLast()
            if text.last == UInt8(ascii: "\r") { text.removeLast() }
        }
        return text
    }

    /// Makes the rename durable. Best effort: some file systems refuse fsync on a directory.
    private static func syncDirectory(of path: String) {
        let dir: String
        if let slash = path.lastIndex(of: "/") {
            dir = slash == path.startIndex ? "/" : String(path[..<slash])
        } else {
            dir = "."
        }
        let fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 {
            _ = fsync(fd)
            close(fd)
        }
    }
}
