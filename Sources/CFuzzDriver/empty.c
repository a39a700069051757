// The header is the whole target: libFuzzer provides the symbol when fuzzing.
