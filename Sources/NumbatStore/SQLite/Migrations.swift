import GRDB

/// The schema, as versioned migrations: a migration, once released, is never edited; changes
/// come as new migrations so every existing data directory upgrades in place.
enum Migrations {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: nodes, families, tokens") { db in
            try db.create(table: "node_family") { table in
                table.column("id", .blob).primaryKey()
                table.column("name", .text).notNull()
                table.column("description", .text).notNull().defaults(to: "")
                table.column("kind", .text).notNull()
                table.column("boot_script", .text).unique()
                table.column("node_selection", .text).notNull()
                table.column("bootstrap_strategy", .text).notNull()
                table.column("bootstrap_strategy_opts", .text).notNull()
                table.column("created_at", .datetime).notNull()
                table.column("deleted", .boolean).notNull().defaults(to: false)
            }
            try db.create(table: "node") { table in
                table.column("id", .blob).primaryKey()
                table.column("name", .text).notNull().unique()
                table.column("state", .text).notNull()
                table.column("family_id", .blob).references("node_family", onDelete: .setNull)
                table.column("host", .text).notNull()
                table.column("otp_release", .text)
                table.column("boot_script", .text)
                table.column("discovered_from", .blob)
                table.column("last_error", .text)
                table.column("added_at", .datetime).notNull()
                table.column("state_changed_at", .datetime).notNull()
                // AES-GCM sealed (SecretBox); never leaves the store unsealed except to connect.
                table.column("cookie_sealed", .blob).notNull()
            }
            try db.create(table: "api_token") { table in
                table.column("id", .blob).primaryKey()
                table.column("name", .text).notNull()
                table.column("role", .text).notNull()
                // SHA-256 of the token: the token itself is shown once, at creation.
                table.column("token_hash", .blob).notNull().unique()
                table.column("created_at", .datetime).notNull()
                table.column("last_used_at", .datetime)
            }
        }
        migrator.registerMigration("v2: metric history") { db in
            try db.create(table: "metric_name") { table in
                table.column("id", .integer).primaryKey()
                table.column("name", .text).notNull().unique()
            }
            // Rows of a node's tier and time window; `data` is the metrics service's compressed
            // block (every series of the node in that window). Sequence 0 is a compacted block,
            // 1, 2, ... the chunks appended while the window is open.
            try db.create(table: "metric_block", options: [.withoutRowID]) { table in
                table.column("node_id", .blob).notNull()
                table.column("tier", .integer).notNull()
                table.column("start", .integer).notNull()
                table.column("sequence", .integer).notNull()
                table.column("end", .integer).notNull()
                table.column("points", .integer).notNull()
                table.column("data", .blob).notNull()
                table.primaryKey(["node_id", "tier", "start", "sequence"])
            }
            try db.create(index: "metric_block_by_end", on: "metric_block", columns: ["tier", "end"])
        }
        migrator.registerMigration("v3: notifications") { db in
            // Rows in arrival order: the newest N are the last N ids, read backwards by the
            // primary key whatever the table's size.
            try db.create(table: "notification") { table in
                table.autoIncrementedPrimaryKey("id")
                table.column("node_id", .blob)
                table.column("node_name", .text).notNull()
                table.column("time", .double).notNull()
                table.column("severity", .integer).notNull()
                table.column("source", .text).notNull()
                table.column("message", .text).notNull()
                table.column("metadata", .text).notNull()
            }
            try db.create(index: "notification_by_node", on: "notification", columns: ["node_id", "id"])
            try db.create(index: "notification_by_severity", on: "notification", columns: ["severity", "id"])
        }
        migrator.registerMigration("v4: alarms, settings") { db in
            try db.create(table: "alarm") { table in
                table.autoIncrementedPrimaryKey("id")
                table.column("node_id", .blob)
                table.column("node_name", .text).notNull()
                table.column("key", .text).notNull()
                table.column("source", .text).notNull()
                table.column("severity", .integer).notNull()
                table.column("state", .text).notNull()
                table.column("summary", .text).notNull()
                table.column("details", .text).notNull()
                table.column("raised_at", .double).notNull()
                table.column("last_raised_at", .double).notNull()
                table.column("raise_count", .integer).notNull()
                table.column("acknowledged_at", .double)
                table.column("acknowledged_by", .text)
                table.column("cleared_at", .double)
            }
            // Identity: one active alarm per node and key, enforced by the database itself.
            try db.execute(sql: "CREATE UNIQUE INDEX alarm_active_identity ON alarm (node_id, key) WHERE state != 'cleared'")
            try db.create(index: "alarm_by_node", on: "alarm", columns: ["node_id", "id"])
            try db.create(table: "alarm_event") { table in
                table.column("alarm_id", .integer).notNull().references("alarm", onDelete: .cascade)
                table.column("time", .double).notNull()
                table.column("kind", .text).notNull()
                table.column("actor", .text)
                table.column("text", .text).notNull()
            }
            try db.create(index: "alarm_event_by_alarm", on: "alarm_event", columns: ["alarm_id"])
            try db.create(table: "setting") { table in
                table.column("key", .text).primaryKey()
                table.column("value", .blob).notNull()
            }
        }
        migrator.registerMigration("v5: audit log") { db in
            try db.create(table: "audit") { table in
                table.autoIncrementedPrimaryKey("id")
                table.column("time", .double).notNull()
                table.column("actor", .text).notNull()
                table.column("node_id", .blob)
                table.column("node_name", .text).notNull()
                table.column("command", .text).notNull()
                table.column("outcome", .text).notNull()
                table.column("result", .text).notNull()
                table.column("duration_ms", .double).notNull()
            }
            try db.create(index: "audit_by_node", on: "audit", columns: ["node_id", "id"])
        }
        migrator.registerMigration("v6: orchestration records") { db in
            try db.create(table: "orch_record") { table in
                table.column("kind", .text).notNull()
                table.column("id", .blob).notNull()
                table.column("parent", .blob)
                table.column("body", .blob).notNull()
                table.column("secret_sealed", .blob)
                table.column("created_at", .double).notNull()
                table.primaryKey(["kind", "id"])
            }
            try db.create(index: "orch_record_by_parent", on: "orch_record", columns: ["kind", "parent"])
        }
        migrator.registerMigration("v7: nodes without EPMD") { db in
            try db.alter(table: "node") { table in
                table.add(column: "port", .integer)
            }
        }
        // TLS distribution: `TLSCredentials` sealed whole (the key is in it), per node and per
        // family; NULL: none.
        migrator.registerMigration("v8: TLS distribution") { db in
            try db.alter(table: "node") { table in
                table.add(column: "tls_sealed", .blob)
            }
            try db.alter(table: "node_family") { table in
                table.add(column: "tls_sealed", .blob)
            }
        }
        // Alert routing: rules and receivers as JSON documents (a receiver's secret sealed
        // apart), and the delivery queue, keyed by each delivery's idempotency key; the columns
        // beside the document are what the queue is searched by.
        migrator.registerMigration("v9: alert routing") { db in
            try db.create(table: "alert_rule") { table in
                table.column("id", .blob).primaryKey()
                table.column("body", .blob).notNull()
                table.column("created_at", .double).notNull()
            }
            try db.create(table: "alert_receiver") { table in
                table.column("id", .blob).primaryKey()
                table.column("body", .blob).notNull()
                table.column("secret_sealed", .blob)
                table.column("created_at", .double).notNull()
            }
            try db.create(table: "alert_delivery") { table in
                table.autoIncrementedPrimaryKey("position")
                table.column("id", .text).notNull().unique()
                table.column("receiver_id", .blob).notNull()
                table.column("alarm_id", .integer).notNull()
                table.column("event", .text).notNull()
                table.column("status", .text).notNull()
                table.column("next_attempt_at", .double).notNull()
                table.column("lease_until", .double)
                table.column("body", .blob).notNull()
            }
            try db.create(index: "alert_delivery_due", on: "alert_delivery", columns: ["status", "next_attempt_at"])
            try db.create(index: "alert_delivery_by_alarm", on: "alert_delivery", columns: ["alarm_id"])
            try db.create(index: "alert_delivery_by_receiver", on: "alert_delivery", columns: ["receiver_id", "position"])
        }
        // Trace sessions (the session whole, as JSON: its node parts change as they end) and the
        // events each kept, read in pages by id.
        migrator.registerMigration("v10: trace sessions") { db in
            try db.create(table: "trace_session") { table in
                table.autoIncrementedPrimaryKey("position")
                table.column("id", .blob).notNull().unique()
                table.column("started_at", .double).notNull()
                table.column("body", .blob).notNull()
            }
            try db.create(table: "trace_event") { table in
                table.autoIncrementedPrimaryKey("id")
                table.column("session_id", .blob).notNull()
                table.column("node_id", .blob).notNull()
                table.column("time", .double).notNull()
                table.column("kind", .text).notNull()
                table.column("pid", .text).notNull()
                table.column("text", .text).notNull()
            }
            try db.create(index: "trace_event_by_session", on: "trace_event", columns: ["session_id", "id"])
        }
        // The metric history's rows in a rowid table, found by a unique index of their key. As
        // a WITHOUT ROWID table, whose cells hold the whole row, a row past about 1,000 bytes (a
        // chunk of one collection is ~1.5 KB, a merged row tens of KB) spilled into overflow
        // pages, a table page held two or three rows, and every key comparison of a seek read
        // the compared row whole, overflow pages and all: 9,800 instructions a seek, and
        // SQLite's work 15 % of a metric collection's (docs/benchmarks.md, nineteenth pass;
        // 8.8 % with this table and the smaller chunks). Here a row of
        // up to ~4 KB stays in its page and seeks compare the index's small keys.
        migrator.registerMigration("v11: metric history in a rowid table") { db in
            // The implicit rowid, no AUTOINCREMENT (which writes `sqlite_sequence` at each insert).
            try db.create(table: "metric_block_rows") { table in
                table.column("node_id", .blob).notNull()
                table.column("tier", .integer).notNull()
                table.column("start", .integer).notNull()
                table.column("sequence", .integer).notNull()
                table.column("end", .integer).notNull()
                table.column("points", .integer).notNull()
                table.column("data", .blob).notNull()
            }
            try db.execute(sql: """
                INSERT INTO metric_block_rows (node_id, tier, start, sequence, "end", points, data)
                SELECT node_id, tier, start, sequence, "end", points, data FROM metric_block ORDER BY node_id, tier, start, sequence
                """)
            try db.drop(table: "metric_block")
            try db.rename(table: "metric_block_rows", to: "metric_block")
            try db.create(index: "metric_block_by_key", on: "metric_block", columns: ["node_id", "tier", "start", "sequence"], unique: true)
            try db.create(index: "metric_block_by_end", on: "metric_block", columns: ["tier", "end"])
        }
        return migrator
    }
}
