/// The services' per-node workers' tasks running now (metrics and log collectors, alarm
/// watchers, command agents) and their repeated work between runs, for `/api/health`: see
/// `AgentOwner.running` and `PeriodicWork.active`.
public enum NodeWorkerTasks {
    public static var running: Int { AgentOwner.running.withLockedValue { $0 } + PeriodicWork.active.withLockedValue { $0 } }
}
