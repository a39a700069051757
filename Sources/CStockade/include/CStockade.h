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
/// accept4 with SOCK_NONBLOCK | SOCK_CLOEXEC.
int stockade_accept_nonblocking(int fd, void *addr, unsigned int *addrlen);

#endif
