import Keccak

/// Why an exported frame session could not be written or restored.
public enum FrameStateError: Error, Equatable, Sendable, CustomStringConvertible {
    case truncated(needed: Int, available: Int)
    case badMagic
    case unsupportedVersion(UInt8)
    case invalidMACState(Keccak256.StateError)
    case invalidFrameSizeLimit(Int)
    case invalidPendingHeader
    case lengthMismatch(expected: Int, actual: Int)
    /// The decoder already failed (bad MAC or oversize frame): such a session must be dropped,
    /// not moved.
    case sessionFailed(FrameError)

    public var description: String {
        switch self {
        case .truncated(let needed, let available):
            return "frame state: needs \(needed) more bytes, \(available) remain"
        case .badMagic: return "frame state: not an RLPx frame session state"
        case .unsupportedVersion(let v): return "frame state: unsupported format version \(v)"
        case .invalidMACState(let e): return "frame state: invalid MAC state (\(e))"
        case .invalidFrameSizeLimit(let n): return "frame state: invalid frame size limit \(n)"
        case .invalidPendingHeader: return "frame state: invalid pending-header fields"
        case .lengthMismatch(let expected, let actual):
            return "frame state: expected \(expected) bytes in total, got \(actual)"
        case .sessionFailed(let e): return "frame state: the session already failed (\(e))"
        }
    }
}

/// The byte format of an exported `FrameCodec` (version 1). All integers are big-endian.
///
///     offset  size  field
///     0       4     magic "SKFS" (Stockade frame session)
///     4       1     format version = 1
///     5       32    aes-secret
///     37      32    mac-secret
///     69      8     egress cipher position (keystream bytes used; a partial block included)
///     77      338   egress MAC Keccak-256 state (Keccak256.exportState)
///     415     8     ingress cipher position
///     423     338   ingress MAC Keccak-256 state
///     761     4     ingress maximum frame size (<= 2^24 - 1)
///     765     1     pending header: 0 none, 1 a header is decoded and its body awaited
///     766     4     pending frame size (0 when none; <= 2^24 - 1)
///     770     4     N, buffered ingress bytes not yet returned in a frame
///     774     N     those bytes
///
/// Restoring checks every field and that the total length is exactly 774 + N, so a truncated,
/// padded or foreign blob is refused instead of silently desynchronising the session.
extension FrameCodec {
    static let stateMagic: [UInt8] = Array("SKFS".utf8)
    static let stateVersion: UInt8 = 1
    static let stateFixedLength = 4 + 1 + 32 + 32 + 2 * (8 + Keccak256.exportedStateLength) + 4 + 1 + 4 + 4

    public func exportState() throws(FrameStateError) -> [UInt8] {
        if let failure = decoder.failure { throw .sessionFailed(failure) }
        var out: [UInt8] = []
        out.reserveCapacity(Self.stateFixedLength + decoder.bufferedByteCount)
        out += Self.stateMagic
        out.append(Self.stateVersion)
        out += encoder.cipher.key.bytes
        out += encoder.mac.key.bytes
        Self.appendBigEndian(encoder.cipher.position, byteCount: 8, to: &out)
        out += encoder.mac.state.exportState()
        Self.appendBigEndian(decoder.cipher.position, byteCount: 8, to: &out)
        out += decoder.mac.state.exportState()
        Self.appendBigEndian(UInt64(decoder.maximumFrameSize), byteCount: 4, to: &out)
        out.append(decoder.pendingFrameSize == nil ? 0 : 1)
        Self.appendBigEndian(UInt64(decoder.pendingFrameSize ?? 0), byteCount: 4, to: &out)
        Self.appendBigEndian(UInt64(decoder.bufferedByteCount), byteCount: 4, to: &out)
        out += decoder.buffer[decoder.readIndex...]
        return out
    }

    public init(exportedState state: [UInt8]) throws(FrameStateError) {
        var reader = StateReader(bytes: state)
        guard try reader.take(4) == Self.stateMagic else { throw .badMagic }
        let version = try reader.take(1)[0]
        guard version == Self.stateVersion else { throw .unsupportedVersion(version) }
        let aes = AESKey(try reader.take(32))
        let macKey = AESKey(try reader.take(32))

        let egressPosition = try reader.bigEndian(8)
        let egressMAC = try Self.macState(try reader.take(Keccak256.exportedStateLength))
        let ingressPosition = try reader.bigEndian(8)
        let ingressMAC = try Self.macState(try reader.take(Keccak256.exportedStateLength))

        let limit = Int(try reader.bigEndian(4))
        guard limit <= FrameLayout.maximumFrameSize else { throw .invalidFrameSizeLimit(limit) }
        let hasPending = try reader.take(1)[0]
        let pendingSize = Int(try reader.bigEndian(4))
        guard hasPending <= 1, pendingSize <= FrameLayout.maximumFrameSize, hasPending == 1 || pendingSize == 0 else {
            throw .invalidPendingHeader
        }
        let bufferedCount = Int(try reader.bigEndian(4))
        // The count is checked against what is actually present before anything is copied.
        guard reader.remaining == bufferedCount else {
            throw .lengthMismatch(expected: Self.stateFixedLength + bufferedCount, actual: state.count)
        }
        let buffered = try reader.take(bufferedCount)

        let encoder = FrameEncoder(cipher: FrameCipherStream(key: aes, position: egressPosition),
                                   mac: FrameMAC(state: egressMAC, key: macKey))
        var decoder = FrameDecoder(cipher: FrameCipherStream(key: aes, position: ingressPosition),
                                   mac: FrameMAC(state: ingressMAC, key: macKey), maximumFrameSize: limit)
        decoder.pendingFrameSize = hasPending == 1 ? pendingSize : nil
        decoder.buffer = buffered
        self.init(encoder: encoder, decoder: decoder)
    }

    private static func macState(_ bytes: [UInt8]) throws(FrameStateError) -> Keccak256 {
        do {
            return try Keccak256(exportedState: bytes)
        } catch {
            throw .invalidMACState(error)
        }
    }

    private static func appendBigEndian(_ value: UInt64, byteCount: Int, to out: inout [UInt8]) {
        for i in (0..<byteCount).reversed() { out.append(UInt8(truncatingIfNeeded: value >> (8 * UInt64(i)))) }
    }
}

/// Sequential, bounds-checked reads over an exported state.
private struct StateReader {
    let bytes: [UInt8]
    var offset = 0

    var remaining: Int { bytes.count - offset }

    mutating func take(_ count: Int) throws(FrameStateError) -> [UInt8] {
        guard remaining >= count else { throw .truncated(needed: count, available: remaining) }
        defer { offset += count }
        return Array(bytes[offset..<(offset + count)])
    }

    mutating func bigEndian(_ count: Int) throws(FrameStateError) -> UInt64 {
        var value: UInt64 = 0
        for byte in try take(count) { value = value << 8 | UInt64(byte) }
        return value
    }
}
