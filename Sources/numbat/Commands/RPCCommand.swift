import ArgumentParser
import ErlangDist
import ErlangTerm
import Foundation

/// `numbat rpc NODE MODULE FUNCTION [ARGS...]`: calls a function and prints the result.
struct RPCCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rpc",
        abstract: "Call MODULE:FUNCTION(ARGS...) on a node and print the result in Erlang syntax.",
        discussion: "Each ARG is one Erlang term: numbat rpc app@127.0.0.1 lists reverse '[1,2,3]'")

    @Argument(help: "The node, e.g. app@127.0.0.1; app@host:9100 for a node without EPMD.")
    var node: String

    @Argument(help: "Module name.")
    var module: String

    @Argument(help: "Function name.")
    var function: String

    @Argument(help: "Arguments, one Erlang term each.")
    var arguments: [String] = []

    @OptionGroup var options: DistributionOptions

    func run() async throws {
        var terms: [Term] = []
        for argument in arguments {
            do {
                terms.append(try TermParser.parse(argument))
            } catch {
                throw ValidationError("argument \(terms.count + 1) '\(argument)': \(error)")
            }
        }
        let tls = try options.tls()
        let local = try options.makeNode()
        do {
            let result = try await local.rpc(try options.peer(node, on: local, tls: tls), Atom(module), Atom(function), terms, timeout: options.timeoutDuration)
            print(result.erlangDescription)
            await local.shutdown()
        } catch {
            await local.shutdown()
            throw fail(error)
        }
    }
}
