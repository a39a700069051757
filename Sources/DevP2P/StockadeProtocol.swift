/// The capability Stockade nodes advertise in Hello. Peers that share no capability are
/// dropped with UselessPeer (go-ethereum's addPeerChecks), so Stockade nodes find each other
/// by this one. Message ids 0x10…0x1f are reserved for it (the Mux.Cool streams to come).
public enum StockadeProtocol {
    public static let capability = Capability(name: "stk", version: 1)
    /// Message ids the capability occupies after the base protocol's 16.
    public static let length: UInt64 = 16
    public static let localProtocols = [LocalProtocol(capability: capability, length: length)]
    /// Client id in Hello (go-ethereum's Config.Name shows "Geth/v1.x/…").
    public static let clientID = "stockade/0.1.0"
}
