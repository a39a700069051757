#ifndef CFUZZDRIVER_H
#define CFUZZDRIVER_H
#include <stddef.h>
#include <stdint.h>
// libFuzzer's driver entry point (present when linked with -sanitize=fuzzer): lets a Swift
// executable with its own main run the fuzzing loop (SWIFT-NOTES.md, "Testing tools").
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
#endif
