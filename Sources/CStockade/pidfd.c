#define _GNU_SOURCE
#include "CStockade.h"
#include <sys/syscall.h>
#include <unistd.h>
#include <fcntl.h>

int stockade_steal_fd(int pid, int fd) {
#if defined(SYS_pidfd_open) && defined(SYS_pidfd_getfd)
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (pidfd < 0) return -1;
    int copy = (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
    close(pidfd);
    return copy;
#else
    (void)pid; (void)fd;
    return -1;
#endif
}
