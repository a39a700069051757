import IPC
import PollLoop

extension PollLoop {
    /// Drives `channel` from this loop: always readable, writable only while frames are queued
    /// (the glue ipc/PROTOCOL.md describes). Closing the channel unregisters it.
    public func attach(_ channel: IPCChannel) throws(PollLoopError) {
        let fd = channel.fileDescriptor
        try register(fd: fd, interest: .readable) { [unowned channel] events in
            channel.handleReadiness(readable: events.allowsRead, writable: events.contains(.writable))
        }
        channel.onWriteInterestChange = { [weak self] wantsWritable in
            self?.setInterest(wantsWritable ? [.readable, .writable] : .readable, for: fd)
        }
        channel.onClose = { [weak self] in self?.unregister(fd: fd) }
        if channel.wantsWritable { setInterest([.readable, .writable], for: fd) }
    }
}
