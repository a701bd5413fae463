/// What every fuzz target in `Fuzz/` shares: a target is a property check over one input
/// (`check` returns whether the input was accepted, for the replayer's counts; a violated
/// property traps). A plain build runs it through `FuzzReplayer` (files, corpus directories, and
/// a short built-in mutation pass for CI); `scripts/fuzz.sh` builds it with `-sanitize=fuzzer
/// -D FUZZING` and hands it to libFuzzer through `FuzzDriver`.
public typealias FuzzCheck = ([UInt8]) -> Bool
