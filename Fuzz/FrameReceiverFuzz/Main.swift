import FuzzSupport

// `scripts/fuzz.sh FrameReceiverFuzz` builds this with `-sanitize=fuzzer -D FUZZING` and runs
// libFuzzer; a plain build is the replayer (`FuzzReplayer`).
#if FUZZING
@_cdecl("FrameReceiverFuzz_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    FuzzDriver.run(argc, argv) { FrameReceiverProperties.check($0) }
}
#else
@main
enum Replayer {
    static func main() { FuzzReplayer.main(name: "FrameReceiverFuzz") { FrameReceiverProperties.check($0) } }
}
#endif
