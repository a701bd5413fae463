import FuzzSupport

// `scripts/fuzz.sh MetricBlockFuzz` builds this with `-sanitize=fuzzer -D FUZZING` and runs
// libFuzzer; a plain build is the replayer (`FuzzReplayer`).
#if FUZZING
@_cdecl("MetricBlockFuzz_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    FuzzDriver.run(argc, argv) { MetricBlockProperties.check($0) }
}
#else
@main
enum Replayer {
    static func main() { FuzzReplayer.main(name: "MetricBlockFuzz") { MetricBlockProperties.check($0) } }
}
#endif
