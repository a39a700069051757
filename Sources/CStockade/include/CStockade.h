#ifndef CSTOCKADE_H
#define CSTOCKADE_H
// What Swift cannot import directly (see ../shared/design/SWIFT-NOTES.md): CMSG_* macros,
// variadic prctl, and _GNU_SOURCE-only symbols. Each helper is tiny and returns -1/errno
// like the call it wraps.
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#endif
