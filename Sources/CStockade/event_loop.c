// Helpers for the poll(2) loop: eventfd and pipe2 live behind _GNU_SOURCE, and a signal handler
// must be async-signal-safe C, not Swift.
#define _GNU_SOURCE
#include "CStockade.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

int stockade_eventfd_nonblocking(unsigned int initial) {
    return eventfd(initial, EFD_NONBLOCK | EFD_CLOEXEC);
}

int stockade_pipe_nonblocking(int fds[2]) { return pipe2(fds, O_NONBLOCK | O_CLOEXEC); }

// One write end per signal number (self-pipe trick). The handler may run on any thread of the
// process, so the table is atomic; -1 means "not forwarded".
static _Atomic int forward_fd[NSIG];
static struct sigaction previous_action[NSIG];
static atomic_flag table_initialised = ATOMIC_FLAG_INIT;

static void initialise_table(void) {
    // Only the first caller fills the table; later calls see it filled. Callers are the loops'
    // own threads, which register signals before running, so contention is not a concern.
    if (atomic_flag_test_and_set(&table_initialised)) return;
    for (int i = 0; i < NSIG; i++) atomic_store(&forward_fd[i], -1);
}

static void forward_signal(int signo) {
    int saved_errno = errno;
    int fd = atomic_load(&forward_fd[signo]);
    if (fd >= 0) {
        unsigned char byte = (unsigned char)signo;
        // A full pipe drops the byte: the loop already has this signal pending, and signals
        // coalesce anyway.
        (void)write(fd, &byte, 1);
    }
    errno = saved_errno;
}

int stockade_signal_forward(int signo, int write_fd) {
    if (signo <= 0 || signo >= NSIG || signo > 255 || write_fd < 0) {
        errno = EINVAL;
        return -1;
    }
    initialise_table();
    int expected = -1;
    if (!atomic_compare_exchange_strong(&forward_fd[signo], &expected, write_fd)) {
        errno = EBUSY;
        return -1;
    }
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = forward_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    if (sigaction(signo, &action, &previous_action[signo]) != 0) {
        int saved_errno = errno;
        atomic_store(&forward_fd[signo], -1);
        errno = saved_errno;
        return -1;
    }
    return 0;
}

int stockade_signal_unforward(int signo, int write_fd) {
    if (signo <= 0 || signo >= NSIG) {
        errno = EINVAL;
        return -1;
    }
    initialise_table();
    if (atomic_load(&forward_fd[signo]) != write_fd) {
        errno = ENOENT;
        return -1;
    }
    // Restore the handler first, so no handler writes to a pipe that is about to be closed.
    int result = sigaction(signo, &previous_action[signo], NULL);
    atomic_store(&forward_fd[signo], -1);
    return result;
}
