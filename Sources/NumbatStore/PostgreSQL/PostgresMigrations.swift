import Foundation
import Logging
import PostgresNIO

/// The PostgreSQL schema, as versioned migrations recorded in `numbat_migrations`. A migration,
/// once released, is never edited; changes come as new migrations. The tables mirror SQLite's
/// (`Migrations`) with PostgreSQL's types: `uuid`, `bytea`, `timestamptz`, identity columns.
///
/// Every server applies the missing ones when it starts, in one transaction that first takes a
/// transaction-scoped advisory lock: servers starting at once queue on the lock, and each one
/// after the first finds the migrations recorded and applies nothing.
enum PostgresMigrations {
    /// The advisory lock's key: "numbat-m" in ASCII, unlikely to meet another application's.
    static let lockKey: Int64 = 0x6E75_6D62_6174_2D6D

    static let all: [(name: String, statements: [String])] = [
        ("v1: nodes, families, tokens", [
            """
            CREATE TABLE node_family (
                id uuid PRIMARY KEY,
                name text NOT NULL,
                description text NOT NULL DEFAULT '',
                kind text NOT NULL,
                boot_script text UNIQUE,
                node_selection text NOT NULL,
                bootstrap_strategy text NOT NULL,
                bootstrap_strategy_opts text NOT NULL,
                created_at timestamptz NOT NULL,
                deleted boolean NOT NULL DEFAULT false)
            """,
            """
            CREATE TABLE node (
                id uuid PRIMARY KEY,
                name text NOT NULL UNIQUE,
                state text NOT NULL,
                family_id uuid REFERENCES node_family ON DELETE SET NULL,
                host text NOT NULL,
                otp_release text,
                boot_script text,
                discovered_from uuid,
                last_error text,
                added_at timestamptz NOT NULL,
                state_changed_at timestamptz NOT NULL,
                cookie_sealed bytea NOT NULL)
            """,
            """
            CREATE TABLE api_token (
                id uuid PRIMARY KEY,
                name text NOT NULL,
                role text NOT NULL,
                token_hash bytea NOT NULL UNIQUE,
                created_at timestamptz NOT NULL,
                last_used_at timestamptz)
            """,
        ]),
        ("v2: metric history", [
            "CREATE TABLE metric_name (id integer PRIMARY KEY, name text NOT NULL UNIQUE)",
            """
            CREATE TABLE metric_block (
                node_id uuid NOT NULL,
                tier integer NOT NULL,
                start bigint NOT NULL,
                sequence integer NOT NULL,
                "end" bigint NOT NULL,
                points integer NOT NULL,
                data bytea NOT NULL,
                PRIMARY KEY (node_id, tier, start, sequence))
            """,
            #"CREATE INDEX metric_block_by_end ON metric_block (tier, "end")"#,
        ]),
        ("v3: notifications", [
            """
            CREATE TABLE notification (
                id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                node_id uuid,
                node_name text NOT NULL,
                time double precision NOT NULL,
                severity integer NOT NULL,
                source text NOT NULL,
                message text NOT NULL,
                metadata text NOT NULL)
            """,
            "CREATE INDEX notification_by_node ON notification (node_id, id)",
            "CREATE INDEX notification_by_severity ON notification (severity, id)",
        ]),
        ("v4: alarms, settings", [
            """
            CREATE TABLE alarm (
                id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                node_id uuid,
                node_name text NOT NULL,
                key text NOT NULL,
                source text NOT NULL,
                severity integer NOT NULL,
                state text NOT NULL,
                summary text NOT NULL,
                details text NOT NULL,
                raised_at double precision NOT NULL,
                last_raised_at double precision NOT NULL,
                raise_count integer NOT NULL,
                acknowledged_at double precision,
                acknowledged_by text,
                cleared_at double precision)
            """,
            // Identity: one active alarm per node and key, enforced by the database itself.
            "CREATE UNIQUE INDEX alarm_active_identity ON alarm (node_id, key) WHERE state <> 'cleared'",
            "CREATE INDEX alarm_by_node ON alarm (node_id, id)",
            """
            CREATE TABLE alarm_event (
                id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                alarm_id bigint NOT NULL REFERENCES alarm ON DELETE CASCADE,
                time double precision NOT NULL,
                kind text NOT NULL,
                actor text,
                text text NOT NULL)
            """,
            "CREATE INDEX alarm_event_by_alarm ON alarm_event (alarm_id, id)",
            "CREATE TABLE setting (key text PRIMARY KEY, value bytea NOT NULL)",
        ]),
        ("v5: audit log", [
            """
            CREATE TABLE audit (
                id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                time double precision NOT NULL,
                actor text NOT NULL,
                node_id uuid,
                node_name text NOT NULL,
                command text NOT NULL,
                outcome text NOT NULL,
                result text NOT NULL,
                duration_ms double precision NOT NULL)
            """,
            "CREATE INDEX audit_by_node ON audit (node_id, id)",
        ]),
        ("v6: orchestration records", [
            """
            CREATE TABLE orch_record (
                kind text NOT NULL,
                id uuid NOT NULL,
                parent uuid,
                body bytea NOT NULL,
                secret_sealed bytea,
                created_at double precision NOT NULL,
                position bigint GENERATED ALWAYS AS IDENTITY,
                PRIMARY KEY (kind, id))
            """,
            "CREATE INDEX orch_record_by_parent ON orch_record (kind, parent)",
        ]),
        // The servers sharing the database and their leases on nodes (ClusterStore): a node's
        // lease goes with the node.
        ("v7: cluster servers and node leases", [
            """
            CREATE TABLE cluster_server (
                id uuid PRIMARY KEY,
                name text NOT NULL,
                node_name text NOT NULL,
                started_at timestamptz NOT NULL,
                heartbeat_at timestamptz NOT NULL)
            """,
            """
            CREATE TABLE node_lease (
                node_id uuid PRIMARY KEY REFERENCES node (id) ON DELETE CASCADE,
                server_id uuid NOT NULL,
                expires_at timestamptz NOT NULL)
            """,
            "CREATE INDEX node_lease_by_server ON node_lease (server_id)",
        ]),
        // Where each server's REST API is reached (per-node requests are forwarded to the
        // node's holder), and the shared event log that carries every server's events to the
        // others' WebSocket clients: rows live a few minutes; listeners are told of new ones by
        // NOTIFY (`PostgresStore+ClusterEvents.swift`).
        ("v8: server API addresses and the cluster event log", [
            "ALTER TABLE cluster_server ADD COLUMN api_url text",
            """
            CREATE TABLE cluster_event (
                id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                origin uuid NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now(),
                body bytea NOT NULL)
            """,
            "CREATE INDEX cluster_event_by_origin ON cluster_event (origin, id)",
            "CREATE INDEX cluster_event_by_age ON cluster_event (created_at)",
        ]),
        // A value sealed with the key of the first server that used the database: a server
        // whose secret.key differs (each server makes its own on first start) is refused at
        // start, instead of failing later on every cookie it cannot open.
        ("v9: the key check", [
            "CREATE TABLE key_check (id integer PRIMARY KEY CHECK (id = 1), sealed bytea NOT NULL)",
        ]),
        // The fixed distribution port of a node that runs without EPMD; NULL: ask EPMD.
        ("v10: nodes without EPMD", [
            "ALTER TABLE node ADD COLUMN port integer CHECK (port BETWEEN 1 AND 65535)",
        ]),
        // TLS distribution: `TLSCredentials` sealed whole (the key is in it), per node and per
        // family; NULL: none.
        ("v11: TLS distribution", [
            "ALTER TABLE node ADD COLUMN tls_sealed bytea",
            "ALTER TABLE node_family ADD COLUMN tls_sealed bytea",
        ]),
        // Alert routing, as SQLite's v9: rules and receivers as JSON documents (a receiver's
        // secret sealed apart), and the delivery queue keyed by each delivery's idempotency key.
        ("v12: alert routing", [
            "CREATE TABLE alert_rule (id uuid PRIMARY KEY, body bytea NOT NULL, created_at double precision NOT NULL)",
            "CREATE TABLE alert_receiver (id uuid PRIMARY KEY, body bytea NOT NULL, secret_sealed bytea, created_at double precision NOT NULL)",
            """
            CREATE TABLE alert_delivery (
                position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                id text NOT NULL UNIQUE,
                receiver_id uuid NOT NULL,
                alarm_id bigint NOT NULL,
                event text NOT NULL,
                status text NOT NULL,
                next_attempt_at double precision NOT NULL,
                lease_until double precision,
                body bytea NOT NULL)
            """,
            "CREATE INDEX alert_delivery_due ON alert_delivery (status, next_attempt_at)",
            "CREATE INDEX alert_delivery_by_alarm ON alert_delivery (alarm_id)",
            "CREATE INDEX alert_delivery_by_receiver ON alert_delivery (receiver_id, position)",
        ]),
        // Trace sessions and their events, as SQLite's v10.
        ("v13: trace sessions", [
            """
            CREATE TABLE trace_session (
                position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                id uuid NOT NULL UNIQUE,
                started_at double precision NOT NULL,
                body bytea NOT NULL)
            """,
            """
            CREATE TABLE trace_event (
                id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                session_id uuid NOT NULL,
                node_id uuid NOT NULL,
                time double precision NOT NULL,
                kind text NOT NULL,
                pid text NOT NULL,
                text text NOT NULL)
            """,
            "CREATE INDEX trace_event_by_session ON trace_event (session_id, id)",
        ]),
    ]

    /// Applies the missing migrations on `connection` and returns every applied one, oldest first.
    static func migrate(_ connection: PostgresConnection, location: PostgresLocation, logger: Logger) async throws -> [String] {
        do {
            return try await transaction(connection, location: location, logger: logger)
        } catch let error as PostgresTransactionError {
            throw error.closureError ?? error
        }
    }

    private static func transaction(_ connection: PostgresConnection, location: PostgresLocation, logger: Logger) async throws -> [String] {
        try await connection.withTransaction(logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(lockKey))", logger: logger)
            try await connection.query("""
                CREATE TABLE IF NOT EXISTS numbat_migrations (
                    version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())
                """, logger: logger)
            var applied: [Int: String] = [:]
            for row in try await PostgresStore.rows("SELECT version, name FROM numbat_migrations", on: connection, logger: logger) {
                applied[try row.value("version", as: Int.self)] = try row.value("name", as: String.self)
            }
            let unknown = applied.filter { $0.key > all.count }.sorted { $0.key < $1.key }.map(\.value)
            guard unknown.isEmpty else { throw PostgresStoreError.newerSchema(location: location.description, unknown: unknown) }
            for (index, migration) in all.enumerated() where applied[index + 1] == nil {
                for statement in migration.statements {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.query("INSERT INTO numbat_migrations (version, name) VALUES (\(index + 1), \(migration.name))",
                                           logger: logger)
                logger.info("store migrated", metadata: ["migration": "\(migration.name)"])
                applied[index + 1] = migration.name
            }
            return applied.sorted { $0.key < $1.key }.map(\.value)
        }
    }
}
