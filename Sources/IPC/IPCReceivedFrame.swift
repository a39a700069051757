/// A frame taken off an IPCChannel, with the fds that arrived with it.
public struct IPCReceivedFrame: Sendable {
    public var frame: IPCFrame
    /// Exactly `frame.message.type.descriptorCount` fds, opened close-on-exec. They belong to
    /// the caller from here on: the channel will not close them.
    public var descriptors: [CInt]

    public var message: IPCMessage { frame.message }
    public var requestID: UInt32 { frame.requestID }
}
