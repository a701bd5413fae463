/// The services' per-node workers running now (metrics and log collectors, alarm watchers,
/// command agents), for `/api/health`: their tasks (`AgentOwner.running`), their repeated work
/// (`PeriodicWork.active`) and the inboxes of their agents' messages (`SerialInboxes.active`),
/// each counted from its start to its stop.
public enum NodeWorkerTasks {
    public static var running: Int {
        AgentOwner.running.withLockedValue { $0 } + PeriodicWork.active.withLockedValue { $0 }
            + SerialInboxes.active.withLockedValue { $0 }
    }
}
