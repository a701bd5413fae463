// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "numbat",
    // macOS 15 for the Synchronization module's atomics (ReplySpinner); the server runs on Linux.
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "numbat", targets: ["numbat"]),
        .executable(name: "numbat-bench", targets: ["NumbatBench"]),
        .executable(name: "numbat-sim", targets: ["NumbatSim"]),
        .library(name: "ErlangTerm", targets: ["ErlangTerm"]),
        .library(name: "ErlangDist", targets: ["ErlangDist"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/attaswift/BigInt.git", from: "6.0.1"),
        .package(url: "https://github.com/adam-fowler/compress-nio.git", from: "1.5.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.1"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio-ssh.git", from: "0.15.1"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/modelcontextprotocol/swift-sdk", from: "0.12.1"),
    ],
    targets: [
        /// External Term Format: values, encoder, decoder. No I/O.
        .target(
            name: "ErlangTerm",
            dependencies: [
                .product(name: "BigInt", package: "BigInt"),
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        /// EPMD, handshake, connections, the local hidden node, mailboxes, rpc.
        .target(
            name: "ErlangDist",
            dependencies: [
                "ErlangTerm",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        /// IDs, the domain model, the event bus, store protocols, secrets. No I/O beyond the key file.
        .target(
            name: "NumbatCore",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        /// The REST API's request and response bodies as Codable types, shared by the server's
        /// routes and the CLI's client commands, so both sides agree on every field by construction.
        .target(name: "NumbatAPI", dependencies: ["NumbatCore"]),
        /// The stores: embedded SQLite (GRDB, WAL) and shared PostgreSQL (postgres-nio), both with
        /// versioned migrations, behind NumbatCore's store protocols.
        .target(
            name: "NumbatStore",
            dependencies: [
                "NumbatCore",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        /// Infrastructure providers behind one protocol: physical hosts over SSH (swift-nio-ssh),
        /// EC2 (Query API, SigV4), OpenStack, and Apache Libcloud through a bridge process.
        .target(
            name: "NumbatProviders",
            dependencies: [
                "NumbatCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSSH", package: "swift-nio-ssh"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            resources: [.copy("Libcloud/numbat_libcloud_bridge.py")]
        ),
        /// One folder per service (Topology, NodeManager, ...): routes, master part, per-node part.
        .target(
            name: "NumbatServices",
            dependencies: [
                "NumbatCore", "NumbatAPI", "ErlangDist", "NumbatProviders",
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "Logging", package: "swift-log"),
            ],
            resources: [.copy("Resources/agents")]
        ),
        /// The Hummingbird application: auth, errors, WebSocket hub, configuration, lifecycle.
        .target(
            name: "NumbatServer",
            dependencies: [
                "NumbatCore", "NumbatAPI", "NumbatStore", "NumbatServices", "NumbatProviders", "ErlangDist",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "MCP", package: "swift-sdk"),
            ],
            resources: [.copy("Resources/openapi.json"), .copy("Resources/dashboard")]
        ),
        .executableTarget(
            name: "numbat",
            dependencies: [
                "ErlangDist", "NumbatAPI", "NumbatCore", "NumbatServer", "NumbatServices",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
            ]
        ),
        /// `numbat-bench`: Swift-vs-Erlang benchmarks that print ratios (docs/benchmarks.md).
        .executableTarget(
            name: "NumbatBench",
            dependencies: [
                "ErlangDist", "NumbatCore", "NumbatServices", "NumbatStore", "NumbatProviders",
                "NumbatTestSupport",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        /// The node simulator for load tests: simulated Erlang nodes speaking the real distribution
        /// protocol, answering from a profile recorded on a real node. A simulator, named so.
        .target(
            name: "NumbatSimulator",
            dependencies: [
                "ErlangDist", "ErlangTerm", "NumbatServices",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            resources: [.copy("Resources/otp25.profile")]
        ),
        /// `numbat-sim`: runs the simulator (`run`) or records a profile from a real node (`record`).
        .executableTarget(
            name: "NumbatSim",
            dependencies: ["NumbatSimulator", "NumbatCore", "ErlangDist", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        /// libFuzzer target for the term decoder and parser (`scripts/fuzz.sh` builds it with
        /// `-sanitize=fuzzer`); a plain build gives the replayer, as for the targets below.
        .executableTarget(
            name: "ErlangTermFuzz",
            dependencies: ["FuzzSupport", "ErlangTerm"],
            path: "Fuzz/ErlangTermFuzz"
        ),
        /// What the fuzz targets share: libFuzzer's driver (under `-D FUZZING`) or the plain
        /// build's replayer with a short built-in mutation pass (`scripts/test.sh` runs it).
        .target(name: "FuzzSupport", path: "Fuzz/FuzzSupport"),
        /// libFuzzer targets, one per parser of untrusted bytes (`scripts/fuzz.sh TARGET SECONDS`;
        /// docs/reliability.md): the distribution handshake (both roles), the connection's frame
        /// receiver (atom cache, fragments), EPMD's replies and requests, the release tarball
        /// reader (gzip + tar), and the REST API's strict JSON bodies.
        .executableTarget(
            name: "HandshakeFuzz",
            dependencies: ["FuzzSupport", "ErlangDist", .product(name: "Crypto", package: "swift-crypto")],
            path: "Fuzz/HandshakeFuzz"
        ),
        .executableTarget(
            name: "FrameReceiverFuzz",
            dependencies: ["FuzzSupport", "ErlangDist", "ErlangTerm", .product(name: "NIOCore", package: "swift-nio")],
            path: "Fuzz/FrameReceiverFuzz"
        ),
        .executableTarget(name: "EPMDFuzz", dependencies: ["FuzzSupport", "ErlangDist"], path: "Fuzz/EPMDFuzz"),
        .executableTarget(name: "MetricBlockFuzz", dependencies: ["FuzzSupport", "NumbatServices"], path: "Fuzz/MetricBlockFuzz"),
        .executableTarget(
            name: "ReleaseArchiveFuzz",
            dependencies: [
                "FuzzSupport", "NumbatServices",
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Fuzz/ReleaseArchiveFuzz"
        ),
        .executableTarget(
            name: "StrictJSONFuzz",
            dependencies: ["FuzzSupport", "NumbatServices", "NumbatAPI", "NumbatCore"],
            path: "Fuzz/StrictJSONFuzz"
        ),
        /// Starts and stops real OTP nodes (OTP 25 from Debian, OTP 28 from PyPI) for tests and benchmarks.
        .target(
            name: "NumbatTestSupport",
            dependencies: ["ErlangDist", "NumbatCore"],
            path: "Tests/Support",
            // Erlang sources compiled by the tests at run time, found by path.
            exclude: ["erlang"]
        ),
        .testTarget(name: "ErlangTermTests", dependencies: ["ErlangTerm", "NumbatTestSupport"]),
        .testTarget(name: "ErlangDistTests", dependencies: [
            "ErlangDist", "NumbatTestSupport",
            .product(name: "NIOEmbedded", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        .testTarget(name: "NumbatProvidersTests", dependencies: ["NumbatProviders", "NumbatTestSupport"]),
        .testTarget(name: "NumbatCLITests", dependencies: ["NumbatTestSupport", "ErlangDist", "NumbatServices"]),
        .testTarget(name: "NumbatSimulatorTests", dependencies: ["NumbatSimulator", "NumbatTestSupport", "NumbatAPI", "NumbatCore", "ErlangDist", "ErlangTerm"]),
        .testTarget(
            name: "NumbatServerTests",
            dependencies: [
                "NumbatServer", "NumbatStore", "NumbatServices", "NumbatCore", "NumbatAPI", "NumbatTestSupport", "ErlangDist", "NumbatProviders",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "HummingbirdWSTesting", package: "hummingbird-websocket"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "MCP", package: "swift-sdk"),
            ]
        ),
    ]
)
