import Foundation

/// `GET /api/nodes/{id}/processes`: the busiest processes by `sort`.
public struct ProcessListResponse: Codable, Sendable, Equatable {
    /// One process as the node's command agent summarises it.
    public struct Process: Codable, Sendable, Equatable {
        public var pid: String
        /// null (not absent) for an unregistered process, as the agent reports it.
        public var registeredName: String?
        public var memory: Int?
        public var reductions: Int?
        public var messageQueueLen: Int?
        public var currentFunction: String?
        public var initialCall: String?

        public init(pid: String, registeredName: String? = nil, memory: Int? = nil, reductions: Int? = nil, messageQueueLen: Int? = nil,
                    currentFunction: String? = nil, initialCall: String? = nil)
        {
            self.pid = pid
            self.registeredName = registeredName
            self.memory = memory
            self.reductions = reductions
            self.messageQueueLen = messageQueueLen
            self.currentFunction = currentFunction
            self.initialCall = initialCall
        }

        /// Leniently, from the agent's summary in JSON: a field of an unexpected shape is left
        /// out rather than failing the list (the server and the CLI both read it so).
        public init(fields: [String: JSONValue]) {
            pid = fields["pid"]?.stringValue ?? "?"
            registeredName = fields["registered_name"]?.stringValue
            memory = fields["memory"]?.intValue
            reductions = fields["reductions"]?.intValue
            messageQueueLen = fields["message_queue_len"]?.intValue
            currentFunction = fields["current_function"]?.stringValue
            initialCall = fields["initial_call"]?.stringValue
        }

        public init(from decoder: any Decoder) throws {
            self.init(fields: try decoder.singleValueContainer().decode([String: JSONValue].self))
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(pid, forKey: .pid)
            try container.encode(registeredName, forKey: .registeredName)
            try container.encodeIfPresent(memory, forKey: .memory)
            try container.encodeIfPresent(reductions, forKey: .reductions)
            try container.encodeIfPresent(messageQueueLen, forKey: .messageQueueLen)
            try container.encodeIfPresent(currentFunction, forKey: .currentFunction)
            try container.encodeIfPresent(initialCall, forKey: .initialCall)
        }

        enum CodingKeys: String, CodingKey {
            case pid, memory, reductions
            case registeredName = "registered_name"
            case messageQueueLen = "message_queue_len"
            case currentFunction = "current_function"
            case initialCall = "initial_call"
        }
    }

    public var node: UUID
    /// `memory`, `reductions` or `message_queue_len`.
    public var sort: String
    public var processes: [Process]

    public init(node: UUID, sort: String, processes: [Process]) {
        self.node = node
        self.sort = sort
        self.processes = processes
    }
}

/// `GET /api/nodes/{id}/processes/{pid}`: the process's `process_info/2` as the agent reports
/// it (status, links, monitors, current_stacktrace, ...; never its messages or dictionary),
/// atoms as strings and `undefined` as null.
public struct ProcessInfoResponse: Codable, Sendable, Equatable {
    public var node: UUID
    public var process: [String: JSONValue]

    public init(node: UUID, process: [String: JSONValue]) {
        self.node = node
        self.process = process
    }
}

/// `GET /api/nodes/{id}/ets`: the largest ETS tables by `sort`.
public struct ETSTableListResponse: Codable, Sendable, Equatable {
    /// One table; fields the node did not report are absent.
    public struct Table: Codable, Sendable, Equatable {
        public var id: String?
        public var name: String?
        public var size: Int?
        /// Bytes.
        public var memory: Int?
        public var owner: String?
        /// `set`, `ordered_set`, `bag` or `duplicate_bag`.
        public var type: String?
        public var protection: String?

        /// Leniently, from the agent's answer in JSON, as `ProcessListResponse.Process`.
        public init(fields: [String: JSONValue]) {
            id = fields["id"]?.stringValue
            name = fields["name"]?.stringValue
            size = fields["size"]?.intValue
            memory = fields["memory"]?.intValue
            owner = fields["owner"]?.stringValue
            type = fields["type"]?.stringValue
            protection = fields["protection"]?.stringValue
        }

        public init(from decoder: any Decoder) throws {
            self.init(fields: try decoder.singleValueContainer().decode([String: JSONValue].self))
        }
    }

    public var node: UUID
    /// `memory` or `size`.
    public var sort: String
    public var tables: [Table]

    public init(node: UUID, sort: String, tables: [Table]) {
        self.node = node
        self.sort = sort
        self.tables = tables
    }
}
