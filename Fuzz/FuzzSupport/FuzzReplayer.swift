#if !FUZZING
import Foundation

/// What a plain `swift build` makes of a fuzz target:
///
///     <Target> [--verbose] [--mutate SECONDS] [--seed N] FILE|DIRECTORY...
///
/// runs the target's check over files (a crash libFuzzer saved, or a committed corpus under
/// `Fuzz/Corpora/<Target>/`) without libFuzzer, so an input replays and debugs in an ordinary
/// build. `--mutate SECONDS` then mutates the replayed inputs for that long with a small
/// built-in mutator (bit flips, boundary bytes, big-endian lengths, insertions, deletions,
/// splices): CI's short mutation pass, which needs no sanitizer build. The debug build's bounds
/// and overflow checks trap where AddressSanitizer would report; the input being checked is then
/// written to `fuzz-crash-<Target>` in the working directory before the process dies.
public enum FuzzReplayer {
    public static func main(name: String, check: FuzzCheck) {
        var arguments = Array(CommandLine.arguments.dropFirst())
        var verbose = false
        var mutateSeconds = 0.0
        var seed = UInt64(UInt32.random(in: .min ... .max))
        var paths: [String] = []
        while !arguments.isEmpty {
            let argument = arguments.removeFirst()
            switch argument {
            case "--verbose": verbose = true
            case "--mutate":
                guard let value = arguments.first.flatMap({ Double($0) }) else { usage(name) }
                mutateSeconds = value
                arguments.removeFirst()
            case "--seed":
                guard let value = arguments.first.flatMap({ UInt64($0) }) else { usage(name) }
                seed = value
                arguments.removeFirst()
            default: paths.append(argument)
            }
        }
        guard !paths.isEmpty else { usage(name) }
        var inputs: [(name: String, bytes: [UInt8])] = []
        for path in paths {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                print("\(path): no such file or directory")
                exit(2)
            }
            let files = isDirectory.boolValue
                ? ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted().map { "\(path)/\($0)" }
                : [path]
            for file in files {
                guard let data = FileManager.default.contents(atPath: file) else {
                    print("cannot read \(file)")
                    exit(2)
                }
                inputs.append((file, [UInt8](data)))
            }
        }
        CrashCapture.install(path: "fuzz-crash-\(name)")
        var accepted = 0
        for input in inputs {
            CrashCapture.hold(input.bytes)
            let ok = check(input.bytes)
            if ok { accepted += 1 }
            if verbose { print("\(input.name): \(ok ? "accepted" : "rejected")") }
        }
        print("\(name): replayed \(inputs.count) inputs: \(accepted) accepted, \(inputs.count - accepted) rejected, no property violated")
        guard mutateSeconds > 0 else { return }
        var mutator = Mutator(seed: seed, pool: inputs.map(\.bytes))
        let start = ContinuousClock.now
        let budget = Duration.milliseconds(Int64(mutateSeconds * 1000))
        var runs = 0
        var mutantsAccepted = 0
        while ContinuousClock.now - start < budget {
            for _ in 0..<64 {
                let mutant = mutator.next()
                CrashCapture.hold(mutant)
                if check(mutant) { mutantsAccepted += 1 }
                runs += 1
            }
        }
        print("\(name): \(runs) mutated inputs in \(mutateSeconds) s (seed \(seed)): \(mutantsAccepted) accepted, no property violated")
    }

    private static func usage(_ name: String) -> Never {
        print("usage: \(name) [--verbose] [--mutate SECONDS] [--seed N] FILE|DIRECTORY...  (scripts/fuzz.sh builds the libFuzzer target)")
        exit(2)
    }
}

/// A small deterministic mutator (SplitMix64 randomness) over a pool of inputs, growing the
/// pool with a few of its own mutants so mutations stack.
struct Mutator {
    private var state: UInt64
    private var pool: [[UInt8]]
    private let maxLength = 4096

    init(seed: UInt64, pool: [[UInt8]]) {
        state = seed
        self.pool = pool.isEmpty ? [[]] : pool
    }

    private mutating func random() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    private mutating func below(_ bound: Int) -> Int { bound <= 0 ? 0 : Int(random() % UInt64(bound)) }

    mutating func next() -> [UInt8] {
        var bytes = pool[below(pool.count)]
        for _ in 0...below(4) { mutate(&bytes) }
        if bytes.count > maxLength { bytes.removeLast(bytes.count - maxLength) }
        if below(16) == 0, pool.count < 4096 { pool.append(bytes) }
        return bytes
    }

    private mutating func mutate(_ bytes: inout [UInt8]) {
        let interesting: [UInt8] = [0, 1, 0x7F, 0x80, 0xFF, 0x20, 0x2F, 0x30, 0x2E, 131, 68, 69, 70]
        switch below(bytes.isEmpty ? 2 : 8) {
        case 0:
            bytes.insert(UInt8(truncatingIfNeeded: random()), at: below(bytes.count + 1))
        case 1:
            let other = pool[below(pool.count)]
            let from = below(other.count + 1)
            bytes.insert(contentsOf: other[from..<min(other.count, from + below(64))], at: below(bytes.count + 1))
        case 2:
            bytes[below(bytes.count)] ^= 1 << UInt8(below(8))
        case 3:
            bytes[below(bytes.count)] = interesting[below(interesting.count)]
        case 4:
            bytes[below(bytes.count)] = UInt8(truncatingIfNeeded: random())
        case 5:
            let from = below(bytes.count)
            bytes.removeSubrange(from..<min(bytes.count, from + 1 + below(16)))
        case 6:
            let from = below(bytes.count)
            let run = bytes[from..<min(bytes.count, from + 1 + below(32))]
            bytes.insert(contentsOf: run, at: below(bytes.count + 1))
        default:
            // A big-endian 16- or 32-bit field set to a boundary value: lengths and counts.
            let width = below(2) == 0 ? 2 : 4
            guard bytes.count >= width else { return }
            let at = below(bytes.count - width + 1)
            let values: [UInt64] = [0, 1, UInt64(bytes.count), UInt64(bytes.count - at), 0xFF, 0x100, 0x7FFF, 0xFFFF, 0x7FFF_FFFF, 0xFFFF_FFFF]
            let value = values[below(values.count)] &+ UInt64(bitPattern: Int64(below(3) - 1))
            for index in 0..<width {
                bytes[at + index] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(width - 1 - index)))
            }
        }
    }
}

/// Writes the input being checked to a file when a check traps (SIGILL/SIGTRAP from a Swift
/// runtime check, SIGSEGV, SIGABRT), with only async-signal-safe calls in the handler.
enum CrashCapture {
    nonisolated(unsafe) private static var buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: 1 << 16)
    nonisolated(unsafe) private static var count = 0
    nonisolated(unsafe) private static var path: UnsafeMutablePointer<CChar>?

    static func install(path: String) {
        Self.path = strdup(path)
        for sig in [SIGILL, SIGTRAP, SIGSEGV, SIGABRT, SIGBUS] {
            signal(sig) { sig in
                if let path = CrashCapture.path {
                    let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
                    if descriptor >= 0 {
                        _ = write(descriptor, CrashCapture.buffer, CrashCapture.count)
                        _ = close(descriptor)
                    }
                    let note: StaticString = "fuzz: a property was violated; the input is saved in "
                    _ = write(2, note.utf8Start, note.utf8CodeUnitCount)
                    _ = write(2, path, strlen(path))
                    let newline: StaticString = "\n"
                    _ = write(2, newline.utf8Start, 1)
                }
                signal(sig, SIG_DFL)
                raise(sig)
            }
        }
    }

    static func hold(_ bytes: [UInt8]) {
        count = min(bytes.count, 1 << 16)
        guard count > 0 else { return }
        bytes.withUnsafeBufferPointer { buffer.update(from: $0.baseAddress!, count: count) }
    }
}
#endif
