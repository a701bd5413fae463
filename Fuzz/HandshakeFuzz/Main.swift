import FuzzSupport

// `scripts/fuzz.sh HandshakeFuzz` builds this with `-sanitize=fuzzer -D FUZZING` and runs
// libFuzzer; a plain build is the replayer (`FuzzReplayer`).
#if FUZZING
@_cdecl("HandshakeFuzz_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    FuzzDriver.run(argc, argv) { HandshakeProperties.check($0) }
}
#else
@main
enum Replayer {
    static func main() { FuzzReplayer.main(name: "HandshakeFuzz") { HandshakeProperties.check($0) } }
}
#endif
