/// Writes a frame body: big-endian integers, and length-prefixed fields that are checked
/// against their bound before they are written.
///
/// Variable-length fields (bytes, strings) and list counts use a u16 prefix: the whole body is at
/// most IPCLimits.maxBodyLength, so no single field can need more.
public struct IPCBodyWriter: Sendable {
    public private(set) var bytes: [UInt8] = []

    public init() {}

    public mutating func writeU8(_ value: UInt8) { bytes.append(value) }

    public mutating func writeU16(_ value: UInt16) {
        bytes.append(UInt8(truncatingIfNeeded: value >> 8))
        bytes.append(UInt8(truncatingIfNeeded: value))
    }

    public mutating func writeU32(_ value: UInt32) {
        for shift in stride(from: 24, through: 0, by: -8) {
            bytes.append(UInt8(truncatingIfNeeded: value >> UInt32(shift)))
        }
    }

    public mutating func writeU64(_ value: UInt64) {
        for shift in stride(from: 56, through: 0, by: -8) {
            bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift)))
        }
    }

    /// A boolean as one byte, 0 or 1.
    public mutating func writeBool(_ value: Bool) { writeU8(value ? 1 : 0) }

    /// u16 length, then the bytes; `bound` is the field's own limit (at most UInt16.max).
    public mutating func writeBytes(_ value: [UInt8], field: String, bound: Int) throws(IPCEncodingError) {
        precondition(bound <= Int(UInt16.max), "IPC field bound \(bound) does not fit a u16 prefix")
        guard value.count <= bound else {
            throw .fieldTooLong(field: field, length: value.count, bound: bound)
        }
        writeU16(UInt16(value.count))
        bytes.append(contentsOf: value)
    }

    /// Exactly `count` bytes, no prefix (a node id).
    public mutating func writeFixedBytes(_ value: [UInt8], count: Int, field: String) throws(IPCEncodingError) {
        guard value.count == count else { throw .invalidLength(field: field, length: value.count) }
        bytes.append(contentsOf: value)
    }

    /// A UTF-8 string with a u16 length prefix; `bound` counts UTF-8 bytes.
    public mutating func writeString(_ value: String, field: String, bound: Int) throws(IPCEncodingError) {
        try writeBytes(Array(value.utf8), field: field, bound: bound)
    }

    /// A textual IPv4 or IPv6 address, as a string of at most IPCLimits.maxAddressTextLength.
    public mutating func writeAddress(_ value: String, field: String) throws(IPCEncodingError) {
        guard AddressText.isValid(value) else { throw .invalidAddress(field: field) }
        try writeString(value, field: field, bound: IPCLimits.maxAddressTextLength)
    }

    /// The u16 entry count that precedes a list.
    public mutating func writeCount(_ count: Int, field: String, bound: Int) throws(IPCEncodingError) {
        precondition(bound <= Int(UInt16.max), "IPC list bound \(bound) does not fit a u16 count")
        guard count <= bound else { throw .tooManyEntries(field: field, count: count, bound: bound) }
        writeU16(UInt16(count))
    }
}
