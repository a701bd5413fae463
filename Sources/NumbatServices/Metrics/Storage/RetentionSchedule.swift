/// How long metric points are kept, at which resolutions (seed 4.2.2): raw points for an hour,
/// then 5-minute averages (with minimum and maximum) for a day, then 15-minute averages for a
/// week, then nothing. Tier 0 is the raw tier; every later tier rolls up the raw points into
/// buckets of its resolution, aligned to the epoch.
public struct RetentionSchedule: Sendable, Equatable, Codable {
    public struct Tier: Sendable, Equatable, Codable {
        /// Bucket length in seconds; 0 for the raw tier (points as collected).
        public var resolutionSeconds: Int
        /// How long the tier's points are kept, in seconds.
        public var keepSeconds: Int
        /// Length of one stored block, in seconds: a block is one row holding every series of a
        /// node; it is deleted once its newest possible point is past `keepSeconds`.
        public var blockSeconds: Int

        public init(resolutionSeconds: Int, keepSeconds: Int, blockSeconds: Int? = nil) {
            self.resolutionSeconds = resolutionSeconds
            self.keepSeconds = keepSeconds
            self.blockSeconds = blockSeconds ?? Self.defaultBlockSeconds(resolution: resolutionSeconds, keep: keepSeconds)
        }

        /// About 60 to 100 points per series per block, never more than the retention.
        static func defaultBlockSeconds(resolution: Int, keep: Int) -> Int {
            let points = max(resolution, 60) * 64
            return max(60, min(keep, points))
        }

        enum CodingKeys: String, CodingKey {
            case resolutionSeconds = "resolution_seconds"
            case keepSeconds = "keep_seconds"
            case blockSeconds = "block_seconds"
        }
    }

    public var tiers: [Tier]

    public init(tiers: [Tier]) { self.tiers = tiers }

    /// 1 hour raw, 5-minute roll-ups for a day, 15-minute roll-ups for a week.
    public static let standard = RetentionSchedule(tiers: [
        Tier(resolutionSeconds: 0, keepSeconds: 3600, blockSeconds: 3600),
        Tier(resolutionSeconds: 300, keepSeconds: 86_400, blockSeconds: 6 * 3600),
        Tier(resolutionSeconds: 900, keepSeconds: 7 * 86_400, blockSeconds: 86_400),
    ])

    /// Why a schedule cannot be used, or nil.
    public var problem: String? {
        guard let raw = tiers.first, raw.resolutionSeconds == 0 else { return "the first tier must be the raw tier (resolution 0)" }
        for (index, tier) in tiers.enumerated() {
            if tier.keepSeconds <= 0 || tier.blockSeconds <= 0 { return "tier \(index): keep and block lengths must be positive" }
            guard index > 0 else { continue }
            let previous = tiers[index - 1]
            if tier.resolutionSeconds <= previous.resolutionSeconds { return "tier \(index): resolutions must grow" }
            if tier.keepSeconds < previous.keepSeconds { return "tier \(index): a coarser tier cannot be kept for less time" }
            if previous.resolutionSeconds > 0, tier.resolutionSeconds % previous.resolutionSeconds != 0 {
                return "tier \(index): the resolution must be a multiple of the previous tier's"
            }
        }
        return nil
    }

    /// Points of `tier` at or after this time (ms) are kept; older ones are gone.
    func oldestKept(tier: Int, now: Int64) -> Int64 { now - Int64(tiers[tier].keepSeconds) * 1000 }

    /// The start (ms) of the block of `tier` that holds `time`.
    func blockStart(tier: Int, time: Int64) -> Int64 {
        let span = Int64(tiers[tier].blockSeconds) * 1000
        return floorDivide(time, span) * span
    }

    func blockSpan(tier: Int) -> Int64 { Int64(tiers[tier].blockSeconds) * 1000 }

    /// The start (ms) of the roll-up bucket of `tier` that holds `time`.
    func bucketStart(tier: Int, time: Int64) -> Int64 {
        let span = Int64(tiers[tier].resolutionSeconds) * 1000
        return floorDivide(time, span) * span
    }
}

func floorDivide(_ a: Int64, _ b: Int64) -> Int64 {
    let quotient = a / b
    return (a % b != 0 && (a < 0) != (b < 0)) ? quotient - 1 : quotient
}

extension RetentionSchedule {
    /// Reads `raw:1h,5m:1d,15m:1w` (the raw tier's retention, then `resolution:retention` per
    /// roll-up tier; units s, m, h, d, w), as `numbat serve --metrics-retention` takes it.
    public init(parsing text: String) throws {
        var tiers: [Tier] = []
        for (index, part) in text.split(separator: ",").enumerated() {
            let fields = part.split(separator: ":").map { $0.trimmingCharacters(in: .whitespaces) }
            guard fields.count == 2 else { throw RetentionError("'\(part)' is not resolution:retention") }
            let resolution = fields[0] == "raw" ? 0 : try Self.seconds(fields[0])
            if (index == 0) != (resolution == 0) { throw RetentionError("the first tier, and only it, is raw:RETENTION") }
            tiers.append(Tier(resolutionSeconds: resolution, keepSeconds: try Self.seconds(fields[1])))
        }
        self.init(tiers: tiers)
        if let problem { throw RetentionError(problem) }
    }

    /// `90s`, `5m`, `1h`, `1d`, `1w` as seconds.
    public static func seconds(_ text: String) throws -> Int {
        let units: [Character: Int] = ["s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 7 * 86_400]
        guard let unit = text.last.flatMap({ units[$0] }), let count = Int(text.dropLast()), count > 0 else {
            throw RetentionError("'\(text)' is not a duration such as 90s, 5m, 1h, 1d or 1w")
        }
        return count * unit
    }
}

public struct RetentionError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = "metrics retention: " + description }
}
