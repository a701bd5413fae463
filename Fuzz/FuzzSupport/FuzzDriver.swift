// Compiled in only by `scripts/fuzz.sh` (`-sanitize=fuzzer -D FUZZING`): the link then has
// libFuzzer's runtime, whose entry point this calls.
#if FUZZING

/// The target's check, set once before libFuzzer starts; a C callback cannot capture it.
nonisolated(unsafe) private var currentCheck: FuzzCheck?

/// libFuzzer's entry point (`compiler-rt/lib/fuzzer/FuzzerInterface.h`): parses libFuzzer's
/// command line and runs the fuzzing loop with `callback`.
@_silgen_name("LLVMFuzzerRunDriver")
private func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

public enum FuzzDriver {
    /// Runs libFuzzer over `check`. A target calls this from its `<Module>_main` (SwiftPM links an
    /// executable's `main` under that name, which hides libFuzzer's own `main`).
    public static func run(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?, check: @escaping FuzzCheck) -> CInt {
        currentCheck = check
        var argc = argc
        var argv = argv
        return LLVMFuzzerRunDriver(&argc, &argv) { data, size in
            let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
            _ = currentCheck!(bytes)
            return 0
        }
    }
}

#endif
