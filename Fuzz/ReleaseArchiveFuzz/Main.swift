import FuzzSupport

// `scripts/fuzz.sh ReleaseArchiveFuzz` builds this with `-sanitize=fuzzer -D FUZZING` and runs
// libFuzzer; a plain build is the replayer (`FuzzReplayer`).
#if FUZZING
@_cdecl("ReleaseArchiveFuzz_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    FuzzDriver.run(argc, argv) { ReleaseArchiveProperties.check($0) }
}
#else
@main
enum Replayer {
    static func main() { FuzzReplayer.main(name: "ReleaseArchiveFuzz") { ReleaseArchiveProperties.check($0) } }
}
#endif
