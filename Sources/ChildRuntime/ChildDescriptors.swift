import IPC

/// Fixed descriptor numbers in every child (bgpd-style: a child finds its channels where it
/// expects them, nothing is discovered). Links to neighbours, first and after a restart, come
/// over the control channel as AttachChannel messages.
public enum ChildDescriptors {
    /// The control channel to the supervisor (SOCK_SEQPACKET socketpair end).
    public static let control: Int32 = 3
    /// The acceptor's first listening socket; further ones follow at 5, 6, …
    public static let firstListener: Int32 = 4
    /// Environment variable carrying the supervisor's pid, so that a child whose parent died
    /// before it could ask for PDEATHSIG notices and exits.
    public static let parentPIDVariable = "STOCKADE_SUPERVISOR_PID"
}

extension IPCMessage.Role: CustomStringConvertible {
    /// The argument `stockade child` takes for this role.
    public var argument: String {
        switch self {
        case .acceptor: return "acceptor"
        case .worker: return "worker"
        case .peerManager: return "peer-manager"
        }
    }

    public init?(argument: String) {
        guard let r = Self.allCases.first(where: { $0.argument == argument }) else { return nil }
        self = r
    }

    public var description: String { argument }
}
