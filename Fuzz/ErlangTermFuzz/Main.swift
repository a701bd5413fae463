import FuzzSupport

// `scripts/fuzz.sh ErlangTermFuzz` builds this with `-sanitize=fuzzer -D FUZZING` and runs
// libFuzzer; a plain build is the replayer (`FuzzReplayer`), which `scripts/test.sh` runs over
// the committed corpus with a short mutation pass.
#if FUZZING
@_cdecl("ErlangTermFuzz_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    FuzzDriver.run(argc, argv) { DecoderProperties.check($0) }
}
#else
@main
enum Replayer {
    static func main() { FuzzReplayer.main(name: "ErlangTermFuzz") { DecoderProperties.check($0) } }
}
#endif
