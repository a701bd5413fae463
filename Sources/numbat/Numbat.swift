import ArgumentParser

@main
struct Numbat: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "numbat",
        abstract: "Operations and maintenance for Erlang and Elixir clusters.",
        discussion: """
            Numbat joins Erlang clusters as a hidden node over the Erlang distribution protocol.
            `numbat serve` runs the server; `node`, `family`, `provider`, `release`, `deploy`, `metrics`, `logs`, `alarms`, `top` and `token` talk to it over its REST API.
            `ping` and `rpc` talk to a node directly; their exit codes: 0 success, 64 usage,
            69 node unreachable, 77 authentication failed, 70 the remote call failed, 75 timed out.
            """,
        version: NumbatVersion.current,
        subcommands: [ServeCommand.self, NodeCommand.self, FamilyCommand.self, ProviderCommand.self, ReleaseCommand.self, DeployCommand.self, UpgradeCommand.self, MetricsCommand.self, LogsCommand.self, AlarmsCommand.self, AlertCommand.self, TopCommand.self, TokenCommand.self, ClusterCommand.self, TraceCommand.self, PingCommand.self, RPCCommand.self]
    )
}
