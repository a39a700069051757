// epoll(7) for Swift code that wants a plain epoll loop (Swift's Glibc module has no
// <sys/epoll.h>): StockadeLoad's adopt-cost sets one against swift-nio's channel setup.
#include <sys/epoll.h>
#include "CStockade.h"

int stockade_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

int stockade_epoll_add_readable(int epfd, int fd) {
    struct epoll_event event = { .events = EPOLLIN | EPOLLRDHUP, .data = { .fd = fd } };
    return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &event);
}

int stockade_epoll_remove(int epfd, int fd) { return epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL); }
