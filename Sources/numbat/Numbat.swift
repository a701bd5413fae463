import ArgumentParser

@main
struct Numbat: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "numbat",
        abstract: "Operations and maintenance for Erlang and Elixir clusters.",
        discussion: """
            Numbat joins Erlang clusters as a hidden node over the Erlang distribution protocol.
            Exit codes: 0 success, 64 usage, 69 node unreachable, 77 authentication failed,
            70 the remote call failed, 75 timed out.
            """,
        subcommands: [PingCommand.self, RPCCommand.self]
    )
}
