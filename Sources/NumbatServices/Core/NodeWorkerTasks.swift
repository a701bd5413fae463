/// The services' per-node workers' tasks running now (metrics and log collectors, alarm
/// watchers, command agents), for `/api/health`: see `AgentOwner.running`.
public enum NodeWorkerTasks {
    public static var running: Int { AgentOwner.running.withLockedValue { $0 } }
}
