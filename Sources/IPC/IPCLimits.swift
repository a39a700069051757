/// Every bound of the IPC protocol, in one place. A reader checks each of them before it
/// allocates anything for the field it bounds; a writer refuses to encode past them.
public enum IPCLimits {
    /// The only protocol version this build speaks. Every process is the same binary (the
    /// supervisor re-executes itself), so there is never a mixed-version pair to negotiate.
    public static let protocolVersion: UInt8 = 1

    /// Fixed header: version, type, flags, fd count (1 byte each), body length, request id (u32).
    public static let headerSize = 12

    /// The largest body. The largest message is a peer handoff: two exported Keccak states of
    /// 338 bytes each, the cipher state, a Hello of at most 2 KiB (go-ethereum's
    /// baseProtocolMaxMsgSize) and at most 16 KiB of bytes read past Hello, which is well under
    /// 48 KiB of session state; 64 KiB leaves room for the other fields and stays one record in
    /// the default AF_UNIX send buffer.
    public static let maxBodyLength = 64 * 1024

    /// The largest record on the socket (header + largest body): the receive buffer's size.
    public static let maxRecordLength = headerSize + maxBodyLength

    /// The header's fd count field allows 0...4. Today's messages carry at most one; the margin
    /// lets a later message carry a small fixed set without a new header.
    public static let maxDescriptorsPerFrame = 4

    /// A counter name in a Heartbeat (Prometheus-style names are short).
    public static let maxCounterNameLength = 64
    /// Counters per Heartbeat: more than any role reports, small enough to bound the frame.
    public static let maxCounters = 64

    /// The JSON settings document in Configure.
    public static let maxConfigureLength = 32 * 1024

    /// An operator's command (ControlRequest): one command and an enode URL at most.
    public static let maxControlRequestLength = 4 * 1024
    /// The answer to a command (ControlReply): the peer list is the largest, about 300 bytes a
    /// peer; 60 KiB keeps the frame under the 64 KiB body bound with room for the header.
    public static let maxControlReplyLength = 60 * 1024

    /// `stockade connect`'s PEER and TARGET texts (an enode URL is about 170 bytes; a target
    /// is a service name or host:port, a DNS name being at most 253 bytes).
    public static let maxConnectArgumentLength = 512
    /// Bytes a `stockade connect` client sent after its request line, read by the supervisor
    /// before it handed the connection over: at most two of its 4 KiB reads.
    public static let maxConnectEarlyDataLength = 8 * 1024
    /// Where a handed-over connection comes from, for the log and `stockade sessions`.
    public static let maxConnectOriginLength = 128
    /// An entry listener's address as the config writes it (IP:port, [IPv6]:port).
    public static let maxListenAddressLength = 64

    /// Textual IP address: INET6_ADDRSTRLEN - 1, the longest IPv6 text (with embedded IPv4).
    public static let maxAddressTextLength = 45

    /// Free-text detail / reason strings (PeerEvent, HandshakeAborted, DialFailed).
    public static let maxDetailLength = 256

    /// devp2p capability name (go-ethereum's are 3-4 ASCII letters; 32 is generous).
    public static let maxCapabilityNameLength = 32
    /// Capabilities in one Hello that IPC will carry.
    public static let maxCapabilities = 64

    /// The client id string of a Hello.
    public static let maxClientIDLength = 256

    /// The opaque exported frame-codec state of a PeerHandoff, incl. bytes read past Hello
    /// (see maxBodyLength for what it holds).
    public static let maxSessionStateLength = 48 * 1024

    /// A devp2p node id: the 64-byte uncompressed secp256k1 public key without its 0x04 prefix.
    public static let nodeIDLength = 64
}
