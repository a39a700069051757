// Socket helpers for the IPC channel: SCM_RIGHTS needs the CMSG_* macros, which Swift cannot
// import, and SOCK_SEQPACKET | SOCK_CLOEXEC is easiest to spell in C.
#define _GNU_SOURCE
#include "CStockade.h"
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

int stockade_seqpacket_pair(int sv[2]) {
    return socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv);
}

ssize_t stockade_send_with_fds(int sock, const void *buf, size_t len, const int *fds, int nfds) {
    if (nfds < 0 || nfds > STOCKADE_MAX_CONTROL_FDS || (nfds > 0 && fds == NULL)) {
        errno = EINVAL;
        return -1;
    }
    struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    // Aligned storage for one SCM_RIGHTS message of up to STOCKADE_MAX_CONTROL_FDS fds.
    union {
        char bytes[CMSG_SPACE(sizeof(int) * STOCKADE_MAX_CONTROL_FDS)];
        struct cmsghdr align;
    } control;
    if (nfds > 0) {
        memset(&control, 0, sizeof control);
        msg.msg_control = control.bytes;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
        struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
        cmsg->cmsg_level = SOL_SOCKET;
        cmsg->cmsg_type = SCM_RIGHTS;
        cmsg->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
        memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * (size_t)nfds);
    }
    // MSG_NOSIGNAL: a dead peer is an EPIPE to handle, not a SIGPIPE that kills this process.
    ssize_t sent;
    do {
        sent = sendmsg(sock, &msg, MSG_NOSIGNAL);
    } while (sent < 0 && errno == EINTR);
    return sent;
}

ssize_t stockade_recv_with_fds(int sock, void *buf, size_t cap, int *fds, int maxfds, int *nfds,
                               int *flags_out) {
    *nfds = 0;
    *flags_out = 0;
    if (maxfds < 0 || maxfds > STOCKADE_MAX_CONTROL_FDS || (maxfds > 0 && fds == NULL)) {
        errno = EINVAL;
        return -1;
    }
    struct iovec iov = {.iov_base = buf, .iov_len = cap};
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    // The control buffer is always sized for STOCKADE_MAX_CONTROL_FDS, not for maxfds, so that a
    // sender that attaches a few too many fds is seen (and its extras closed here) rather than
    // silently truncated; beyond that the kernel closes the rest and sets MSG_CTRUNC.
    union {
        char bytes[CMSG_SPACE(sizeof(int) * STOCKADE_MAX_CONTROL_FDS)];
        struct cmsghdr align;
    } control;
    memset(&control, 0, sizeof control);
    msg.msg_control = control.bytes;
    msg.msg_controllen = sizeof control.bytes;

    ssize_t received;
    do {
        // MSG_CMSG_CLOEXEC: a received fd never leaks into a child spawned before the caller
        // decides what to do with it.
        received = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    } while (received < 0 && errno == EINTR);
    if (received < 0) return -1;

    int flags = msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC);
    // Every fd the kernel installed is either handed to the caller or closed here: even when
    // the control data was truncated, the fds that did fit are real and must not leak.
    for (struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg); cmsg != NULL; cmsg = CMSG_NXTHDR(&msg, cmsg)) {
        if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS) continue;
        size_t count = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        const unsigned char *data = CMSG_DATA(cmsg);
        for (size_t i = 0; i < count; i++) {
            int fd;
            memcpy(&fd, data + i * sizeof(int), sizeof(int));
            if (*nfds < maxfds) {
                fds[(*nfds)++] = fd;
            } else {
                close(fd);
                flags |= MSG_CTRUNC;
            }
        }
    }
    *flags_out = flags;
    return received;
}
