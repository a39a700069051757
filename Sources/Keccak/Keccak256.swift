/// Keccak-256 with the original Keccak padding (0x01), as Ethereum uses it; not SHA3-256.
///
/// The hasher is incremental and its whole internal state can be exported as bytes and
/// imported again bit-exact, because RLPx's ingress and egress MACs are running Keccak
/// states that move between processes with a live session.
public struct Keccak256: Sendable {
    /// Rate of Keccak-256 in bytes: 1600 − 2·256 bits (FIPS 202, section 5).
    public static let rate = 136
    public static let digestLength = 32

    @usableFromInline var lanes: KeccakLanes = KeccakLanes()
    @usableFromInline var buffer: KeccakBlock = KeccakBlock()
    @usableFromInline var buffered: Int = 0

    public init() {}

    public static func hash(_ bytes: [UInt8]) -> [UInt8] {
        var h = Keccak256()
        h.update(bytes)
        return h.digest()
    }

    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    public mutating func update(_ bytes: ArraySlice<UInt8>) {
        bytes.withUnsafeBytes { update($0) }
    }

    public mutating func update(_ input: UnsafeRawBufferPointer) {
        let count = input.count
        guard count > 0, let base = input.baseAddress else { return }
        var offset = 0
        if buffered > 0 {
            let take = min(Keccak256.rate - buffered, count)
            buffer.copy(from: input, offset: 0, count: take, to: buffered)
            buffered += take
            offset = take
            if buffered < Keccak256.rate { return }
            buffer.absorb(into: &lanes)
            buffered = 0
        }
        // Whole blocks straight from the caller's memory, all in one run of the permutation.
        let wholeBlocks = (count - offset) / Keccak256.rate
        if wholeBlocks > 0 {
            lanes.absorb(blocks: base + offset, count: wholeBlocks)
            offset += wholeBlocks * Keccak256.rate
        }
        if offset < count {
            buffer.copy(from: input, offset: offset, count: count - offset, to: 0)
            buffered = count - offset
        }
    }

    /// The digest of everything absorbed so far; the hasher itself is unchanged and can keep
    /// absorbing (RLPx reads the MAC digest after every update).
    public func digest() -> [UInt8] {
        var lanesCopy = lanes
        var block = buffer
        block.pad(from: buffered)
        block.absorb(into: &lanesCopy)
        return lanesCopy.squeeze32()
    }

    // MARK: state export

    /// Format tag of `exportState()`, so an incompatible future layout is refused, not misread.
    static let stateFormat: UInt8 = 1
    /// 1 format byte, 200 lane bytes (little-endian), 1 count byte, 136 buffer bytes.
    public static let exportedStateLength = 1 + 200 + 1 + rate

    public func exportState() -> [UInt8] {
        var out: [UInt8] = [Keccak256.stateFormat]
        out.reserveCapacity(Keccak256.exportedStateLength)
        for i in 0..<25 {
            let lane = lanes[i]
            for b in 0..<8 { out.append(UInt8(truncatingIfNeeded: lane >> (8 * UInt64(b)))) }
        }
        out.append(UInt8(buffered))
        // Only the buffered bytes are state; the rest of the block holds leftovers of earlier
        // input, which are written as zeros so equal states export equal bytes.
        for i in 0..<Keccak256.rate { out.append(i < buffered ? buffer[i] : 0) }
        return out
    }

    /// Why bytes are not an exported Keccak-256 state.
    public enum StateError: Error, Equatable, Sendable, CustomStringConvertible {
        case wrongLength(Int)
        case unknownFormat(UInt8)
        case badBufferCount(Int)
        case nonZeroBufferTail

        public var description: String {
            switch self {
            case .wrongLength(let n):
                return "keccak: exported state is \(n) bytes, expected \(Keccak256.exportedStateLength)"
            case .unknownFormat(let f): return "keccak: unknown exported state format \(f)"
            case .badBufferCount(let n): return "keccak: \(n) buffered bytes, at most \(Keccak256.rate - 1) possible"
            case .nonZeroBufferTail: return "keccak: exported state has bytes past its buffered count"
            }
        }
    }

    public init(exportedState s: [UInt8]) throws(StateError) {
        guard s.count == Keccak256.exportedStateLength else { throw .wrongLength(s.count) }
        guard s[0] == Keccak256.stateFormat else { throw .unknownFormat(s[0]) }
        let count = Int(s[201])
        guard count < Keccak256.rate else { throw .badBufferCount(count) }
        // exportState() writes zeros past the count; anything else was not made by it.
        guard s[(202 + count)...].allSatisfy({ $0 == 0 }) else { throw .nonZeroBufferTail }
        for i in 0..<25 {
            var lane: UInt64 = 0
            for b in 0..<8 { lane |= UInt64(s[1 + i * 8 + b]) << (8 * UInt64(b)) }
            lanes[i] = lane
        }
        buffered = count
        for i in 0..<Keccak256.rate { buffer[i] = s[202 + i] }
    }
}
