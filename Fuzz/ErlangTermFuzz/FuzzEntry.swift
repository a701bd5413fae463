// `scripts/fuzz.sh` compiles this target with `-sanitize=fuzzer -D FUZZING`. A plain build leaves
// this file out and gets the replayer (`Replayer.swift`) instead.
#if FUZZING

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    DecoderProperties.check(bytes)
    return 0
}

/// libFuzzer's entry point (`compiler-rt/lib/fuzzer/FuzzerInterface.h`): parses libFuzzer's
/// command line and runs the fuzzing loop with `callback`.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

/// SwiftPM links an executable with `main` defined as `<module>_main` (so that tests can link the
/// module), which hides libFuzzer's own `main`; this is that symbol, handing over to libFuzzer.
@_cdecl("ErlangTermFuzz_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzTestOneInput(data, size) }
}

#endif
