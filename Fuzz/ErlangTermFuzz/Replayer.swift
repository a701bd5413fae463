#if !FUZZING
import ErlangTerm
import Foundation

/// What a plain `swift build` makes of the fuzz target: `ErlangTermFuzz FILE|DIRECTORY...` runs
/// `DecoderProperties` over files (a crash libFuzzer saved, or a corpus directory) without
/// libFuzzer, so a crash can be replayed and debugged in an ordinary build.
@main
enum Replayer {
    static func main() {
        var paths = Array(CommandLine.arguments.dropFirst())
        let verbose = paths.first == "--verbose"
        if verbose { paths.removeFirst() }
        guard !paths.isEmpty else {
            print("usage: ErlangTermFuzz [--verbose] FILE|DIRECTORY...  (scripts/fuzz.sh builds the libFuzzer target)")
            exit(2)
        }
        var files: [URL] = []
        for path in paths {
            let url = URL(fileURLWithPath: path)
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
                let entries = (try? FileManager.default.contentsOfDirectory(at: url, includingPropertiesForKeys: nil)) ?? []
                files += entries.sorted { $0.path < $1.path }
            } else {
                files.append(url)
            }
        }
        var decoded = 0
        for file in files {
            guard let data = FileManager.default.contents(atPath: file.path) else {
                print("cannot read \(file.path)")
                exit(2)
            }
            let bytes = [UInt8](data)
            if DecoderProperties.check(bytes) {
                decoded += 1
                if verbose { print("\(file.lastPathComponent): decodes") }
            } else if verbose {
                do throws(TermDecodingError) { _ = try DecoderProperties.decoder.decode(bytes) } catch {
                    print("\(file.lastPathComponent): \(error)")
                }
                if bytes.first != 131, let text = String(validating: bytes, as: UTF8.self) {
                    do throws(TermParseError) {
                        print("\(file.lastPathComponent): as text, reads as \(try TermParser.parse(text))")
                    } catch {
                        print("\(file.lastPathComponent): as text, \(error)")
                    }
                }
            }
        }
        print("replayed \(files.count) inputs: \(decoded) decoded, \(files.count - decoded) rejected, no property violated")
    }
}
#endif
