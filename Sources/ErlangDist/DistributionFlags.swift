/// Capability flags exchanged in the handshake (`DFLAG_*` in OTP's erts/emulator/beam/dist.h).
public struct DistributionFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    public static let published = Self(rawValue: 0x1)
    public static let atomCache = Self(rawValue: 0x2)
    public static let extendedReferences = Self(rawValue: 0x4)
    public static let distMonitor = Self(rawValue: 0x8)
    public static let funTags = Self(rawValue: 0x10)
    public static let distMonitorName = Self(rawValue: 0x20)
    public static let hiddenAtomCache = Self(rawValue: 0x40)
    public static let newFunTags = Self(rawValue: 0x80)
    public static let extendedPidsPorts = Self(rawValue: 0x100)
    public static let exportPtrTag = Self(rawValue: 0x200)
    public static let bitBinaries = Self(rawValue: 0x400)
    public static let newFloats = Self(rawValue: 0x800)
    public static let unicodeIO = Self(rawValue: 0x1000)
    public static let distHeaderAtomCache = Self(rawValue: 0x2000)
    public static let smallAtomTags = Self(rawValue: 0x4000)
    public static let utf8Atoms = Self(rawValue: 0x10000)
    public static let mapTag = Self(rawValue: 0x20000)
    public static let bigCreation = Self(rawValue: 0x40000)
    public static let sendSender = Self(rawValue: 0x80000)
    public static let bigSeqtraceLabels = Self(rawValue: 0x100000)
    public static let exitPayload = Self(rawValue: 0x400000)
    public static let fragments = Self(rawValue: 0x800000)
    public static let handshake23 = Self(rawValue: 0x1000000)
    public static let unlinkID = Self(rawValue: 0x2000000)
    public static let mandatory25Digest = Self(rawValue: 0x4000000)
    public static let spawn = Self(rawValue: 1 << 32)
    public static let nameMe = Self(rawValue: 1 << 33)
    public static let v4NC = Self(rawValue: 1 << 34)
    public static let alias = Self(rawValue: 1 << 35)
    /// OTP 28's `ALTACT_SIG_SEND`; not offered, so OTP 28 keeps using `ALIAS_SEND`.
    public static let altactSig = Self(rawValue: 1 << 37)

    /// What OTP 25 requires of every peer (`DFLAG_DIST_MANDATORY_25`).
    public static let mandatory25: Self = [
        .extendedReferences, .funTags, .newFunTags, .extendedPidsPorts, .exportPtrTag, .bitBinaries,
        .newFloats, .utf8Atoms, .mapTag, .bigCreation, .handshake23,
    ]

    /// What OTP 26+ adds to the mandatory set.
    public static let mandatory26: Self = [.v4NC, .unlinkID]

    /// What Numbat offers: everything mandatory through OTP 28, plus the optional features it
    /// implements. Not `.published`: Numbat is a hidden node, invisible in the peers' `nodes()`.
    public static let numbat: Self = mandatory25.union(mandatory26).union([
        .distMonitor, .distMonitorName, .distHeaderAtomCache, .smallAtomTags, .sendSender,
        .bigSeqtraceLabels, .exitPayload, .fragments, .spawn, .alias, .unicodeIO, .mandatory25Digest,
    ])
}
