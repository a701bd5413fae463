import Foundation

/// The application versions of each family's UP members, for the family check
/// (`BuiltInChecks.versionMismatch`): tallied per family, application and version, so that one
/// node's check costs the same in a family of 10,000 nodes as in a family of two (comparing with
/// every other member made a collection cycle quadratic in the family's size). Pure.
struct FamilyVersions: Sendable {
    private struct Member {
        var family: UUID?
        var name: String
        var versions: [String: String]
    }

    /// A version of an application other than this node's, and who runs it.
    struct Elsewhere: Equatable {
        var version: String
        /// Up to three of the members running it (in name order among those shown).
        var examples: [String]
        var count: Int
    }

    /// One application whose version differs somewhere in the family.
    struct Difference: Equatable {
        var application: String
        var here: String
        var elsewhere: [Elsewhere]
    }

    private var members: [UUID: Member] = [:]
    /// family -> application -> version -> names of the members running it.
    private var tally: [UUID: [String: [String: Set<String>]]] = [:]

    /// Records a member's latest applications (replacing what it had before). Nothing to do
    /// when they are what it had: the usual case, as every alarm check of every node records
    /// them, and taking them out of the tally and in again was two thirds of a check's family
    /// comparison (docs/benchmarks.md).
    mutating func record(_ id: UUID, family: UUID?, name: String, versions: [String: String]) {
        if let known = members[id], known.family == family, known.name == name, known.versions == versions { return }
        remove(id)
        members[id] = Member(family: family, name: name, versions: versions)
        guard let family else { return }
        for (application, version) in versions {
            tally[family, default: [:]][application, default: [:]][version, default: []].insert(name)
        }
    }

    /// Forgets a member (DOWN, removed, handed to another server).
    mutating func remove(_ id: UUID) {
        guard let member = members.removeValue(forKey: id), let family = member.family else { return }
        for (application, version) in member.versions {
            tally[family]?[application]?[version]?.remove(member.name)
            if tally[family]?[application]?[version]?.isEmpty == true { tally[family]?[application]?[version] = nil }
            if tally[family]?[application]?.isEmpty == true { tally[family]?[application] = nil }
        }
        if tally[family]?.isEmpty == true { tally[family] = nil }
    }

    /// The applications of member `id` that run in another version on another member of its
    /// family, in application then version order.
    func differences(of id: UUID) -> [Difference] {
        guard let member = members[id], let family = member.family, let applications = tally[family] else { return [] }
        return member.versions.sorted { $0.key < $1.key }.compactMap { application, here in
            let elsewhere = (applications[application] ?? [:]).filter { $0.key != here }.sorted { $0.key < $1.key }.map { version, names in
                Elsewhere(version: version, examples: Array(names.prefix(3)).sorted(), count: names.count)
            }
            return elsewhere.isEmpty ? nil : Difference(application: application, here: here, elsewhere: elsewhere)
        }
    }
}
