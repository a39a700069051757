/// Reads a frame body written by IPCBodyWriter. Every length is checked against both its
/// field's bound and the bytes that remain before anything is allocated for it, and
/// `finish()` rejects leftover bytes.
public struct IPCBodyReader: Sendable {
    private let body: ArraySlice<UInt8>
    private var position: Int

    public init(_ body: ArraySlice<UInt8>) {
        self.body = body
        self.position = body.startIndex
    }

    public init(_ body: [UInt8]) { self.init(body[...]) }

    /// Bytes not read yet.
    public var remaining: Int { body.endIndex - position }

    private mutating func take(_ count: Int, field: String) throws(IPCDecodingError) -> ArraySlice<UInt8> {
        guard count <= remaining else { throw .truncatedBody(field: field) }
        let slice = body[position..<position + count]
        position += count
        return slice
    }

    private mutating func readInteger<T: FixedWidthInteger>(_: T.Type, field: String) throws(IPCDecodingError) -> T {
        var value: T = 0
        for byte in try take(MemoryLayout<T>.size, field: field) {
            value = value << 8 | T(byte)
        }
        return value
    }

    public mutating func readU8(field: String) throws(IPCDecodingError) -> UInt8 {
        try readInteger(UInt8.self, field: field)
    }

    public mutating func readU16(field: String) throws(IPCDecodingError) -> UInt16 {
        try readInteger(UInt16.self, field: field)
    }

    public mutating func readU32(field: String) throws(IPCDecodingError) -> UInt32 {
        try readInteger(UInt32.self, field: field)
    }

    public mutating func readU64(field: String) throws(IPCDecodingError) -> UInt64 {
        try readInteger(UInt64.self, field: field)
    }

    /// One byte that must be 0 or 1.
    public mutating func readBool(field: String) throws(IPCDecodingError) -> Bool {
        switch try readU8(field: field) {
        case 0: return false
        case 1: return true
        case let other: throw .invalidValue(field: field, value: UInt64(other))
        }
    }

    /// u16 length, then that many bytes; the length is checked against `bound` first.
    public mutating func readBytes(field: String, bound: Int) throws(IPCDecodingError) -> [UInt8] {
        let length = Int(try readU16(field: field))
        guard length <= bound else { throw .fieldTooLong(field: field, length: length, bound: bound) }
        return Array(try take(length, field: field))
    }

    /// Exactly `count` bytes, no prefix.
    public mutating func readFixedBytes(count: Int, field: String) throws(IPCDecodingError) -> [UInt8] {
        Array(try take(count, field: field))
    }

    /// A u16-prefixed string of at most `bound` UTF-8 bytes, which must be valid UTF-8.
    public mutating func readString(field: String, bound: Int) throws(IPCDecodingError) -> String {
        let length = Int(try readU16(field: field))
        guard length <= bound else { throw .fieldTooLong(field: field, length: length, bound: bound) }
        let utf8 = try take(length, field: field)
        guard let text = String(validating: utf8, as: UTF8.self) else { throw .invalidUTF8(field: field) }
        return text
    }

    /// A string that must be a textual IPv4 or IPv6 address.
    public mutating func readAddress(field: String) throws(IPCDecodingError) -> String {
        let text = try readString(field: field, bound: IPCLimits.maxAddressTextLength)
        guard AddressText.isValid(text) else { throw .invalidAddress(field: field) }
        return text
    }

    /// The u16 entry count of a list, checked against `bound`.
    public mutating func readCount(field: String, bound: Int) throws(IPCDecodingError) -> Int {
        let count = Int(try readU16(field: field))
        guard count <= bound else { throw .tooManyEntries(field: field, count: count, bound: bound) }
        return count
    }

    /// Succeeds only when every byte of the body was read.
    public func finish() throws(IPCDecodingError) {
        guard remaining == 0 else { throw .trailingBytes(count: remaining) }
    }
}
