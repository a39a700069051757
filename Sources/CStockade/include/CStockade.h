#ifndef CSTOCKADE_H
#define CSTOCKADE_H
// What Swift cannot import directly (see ../shared/design/SWIFT-NOTES.md): CMSG_* macros,
// variadic prctl, and _GNU_SOURCE-only symbols. Each helper is tiny and returns -1 with errno
// set, like the call it wraps.
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/// prctl(PR_SET_NO_NEW_PRIVS, 1): no setuid gain across exec, required before seccomp.
int stockade_set_no_new_privs(void);
/// prctl(PR_SET_PDEATHSIG, sig): the child gets `sig` when its parent dies (no orphans).
int stockade_set_parent_death_signal(int sig);
/// prctl(PR_SET_NAME): the name ps, top and systemd's logs show (15 bytes at most).
int stockade_set_process_name(const char *name);

/// Adds "close every descriptor from `lowest` up" to a posix_spawn_file_actions_t (glibc's
/// posix_spawn_file_actions_addclosefrom_np, 2.34+, which Swift's Glibc module does not show).
int stockade_spawn_add_closefrom(void *actions, int lowest);
/// accept4 with SOCK_NONBLOCK | SOCK_CLOEXEC.
int stockade_accept_nonblocking(int fd, void *addr, unsigned int *addrlen);
/// The uid of the process at the other end of a Unix socket (SO_PEERCRED; struct ucred is
/// _GNU_SOURCE-only). 0 on success.
int stockade_peer_uid(int fd, unsigned int *uid);
/// The connected Unix socket peer's pid (SO_PEERCRED), for naming who asked.
int stockade_peer_pid(int fd, int *pid);

// --- IPC sockets (ipc_socket.c) ------------------------------------------------------------

/// The most fds one control message may carry in either direction. Larger than the IPC header
/// allows (4) so that a sender attaching a few too many is detected rather than truncated.
#define STOCKADE_MAX_CONTROL_FDS 16

/// socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC): each send is one record, and fds sent
/// with a record arrive with exactly that record.
int stockade_seqpacket_pair(int sv[2]);
/// sendmsg of one record with `nfds` (0...STOCKADE_MAX_CONTROL_FDS) fds attached as
/// SCM_RIGHTS, with MSG_NOSIGNAL; retries EINTR. The caller keeps its own copies of the fds.
ssize_t stockade_send_with_fds(int sock, const void *buf, size_t len, const int *fds, int nfds);
/// recvmsg of one record with MSG_CMSG_CLOEXEC; retries EINTR. Stores at most `maxfds`
/// (0...STOCKADE_MAX_CONTROL_FDS) received fds in `fds` and their number in `*nfds`, closes
/// every other received fd, and sets `*flags_out` to the record's MSG_TRUNC / MSG_CTRUNC bits,
/// with MSG_CTRUNC also set when fds beyond `maxfds` were closed here.
ssize_t stockade_recv_with_fds(int sock, void *buf, size_t cap, int *fds, int maxfds, int *nfds,
                               int *flags_out);

// --- event loop (event_loop.c) -------------------------------------------------------------

/// eventfd(initial, EFD_NONBLOCK | EFD_CLOEXEC).
int stockade_eventfd_nonblocking(unsigned int initial);
/// pipe2(fds, O_NONBLOCK | O_CLOEXEC).
int stockade_pipe_nonblocking(int fds[2]);
/// Installs a handler for `signo` that writes the byte `signo` to `write_fd` (the self-pipe
/// trick; the handler is async-signal-safe and runs on whichever thread takes the signal).
/// Fails with EBUSY if the signal is already forwarded to another fd.
int stockade_signal_forward(int signo, int write_fd);
/// Restores the action `signo` had before stockade_signal_forward, if it forwards to `write_fd`
/// (ENOENT otherwise).
int stockade_signal_unforward(int signo, int write_fd);

// --- process inspection for tests (pidfd.c) -----------------------------------------------

/// A duplicate of descriptor `fd` of process `pid` (pidfd_open + pidfd_getfd, Linux 5.6+; needs
/// ptrace rights over `pid`). The end-to-end tests use it to write a broken IPC frame into a
/// live child's channel without any test hook in the daemon. -1 with errno on failure.
int stockade_steal_fd(int pid, int fd);

// epoll.c: a plain epoll loop's registration calls (close-on-exec instance; readable and peer
// hang-up interest, the fd as the event's data). -1 with errno on failure.
int stockade_epoll_create(void);
int stockade_epoll_add_readable(int epfd, int fd);
int stockade_epoll_remove(int epfd, int fd);

#endif
