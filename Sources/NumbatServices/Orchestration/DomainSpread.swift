import Foundation

/// Where a deployment without a provider puts its nodes (seed 3.2, listing 2: `{"amount": 3}`
/// alone; the family knows its providers): over the family's domains, by the family's node
/// selection strategy. `round_robin` spreads evenly, each new node going to the domain with the
/// fewest nodes (ties to the older domain), so repeated small deployments stay balanced;
/// `random` picks a domain per node. Pure, so the choice is tested without a cloud.
struct DomainSpread {
    /// The family's domains, oldest first.
    var domains: [UUID]
    /// Nodes already deployed per domain.
    var deployed: [UUID: Int]
    var strategy: String

    /// The domain of each of `amount` new nodes.
    mutating func place(_ amount: Int, random: inout some RandomNumberGenerator) -> [UUID] {
        guard !domains.isEmpty else { return [] }
        return (0..<amount).map { _ in
            let domain: UUID
            if strategy == "random" {
                domain = domains.randomElement(using: &random)!
            } else {
                domain = domains.min { deployed[$0, default: 0] < deployed[$1, default: 0] }!
            }
            deployed[domain, default: 0] += 1
            return domain
        }
    }
}
