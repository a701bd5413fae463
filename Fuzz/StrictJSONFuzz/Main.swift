import FuzzSupport

// `scripts/fuzz.sh StrictJSONFuzz` builds this with `-sanitize=fuzzer -D FUZZING` and runs
// libFuzzer; a plain build is the replayer (`FuzzReplayer`).
#if FUZZING
@_cdecl("StrictJSONFuzz_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    FuzzDriver.run(argc, argv) { StrictJSONProperties.check($0) }
}
#else
@main
enum Replayer {
    static func main() { FuzzReplayer.main(name: "StrictJSONFuzz") { StrictJSONProperties.check($0) } }
}
#endif
