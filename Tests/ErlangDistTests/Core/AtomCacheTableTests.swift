@testable import ErlangDist
import ErlangTerm
import Testing

/// The atom cache's open-addressing table answers as a dictionary keyed by slot would.
@Suite("atom cache table")
struct AtomCacheTableTests {
    @Test("filled, replaced and read in random orders, it answers as a dictionary does", arguments: [1, 7, 200, 2048])
    func likeADictionary(distinct: Int) {
        var random = SystemRandomNumberGenerator()
        var table = AtomCacheTable<Atom>()
        var reference: [UInt16: Atom] = [:]
        // Slots spread as the BEAM's hashes spread them, and slots that collide in the low bits.
        let slots = (0..<AtomCacheSlots.count).map(UInt16.init).shuffled(using: &random).prefix(distinct / 2)
            + (0..<distinct - distinct / 2).map { UInt16(($0 * 256) % AtomCacheSlots.count + $0 / 8) }
        for round in 0..<3 {
            for slot in slots.shuffled(using: &random) {
                let atom = Atom("a\(slot)_\(round)")
                table[slot] = atom
                reference[slot] = atom
                #expect(table[slot] == atom)
            }
        }
        #expect(table.count == reference.count)
        for slot in 0..<UInt16(AtomCacheSlots.count) {
            #expect(table[slot] == reference[slot], "slot \(slot)")
        }
    }

    @Test("an empty table has nothing in any slot")
    func empty() {
        let table = AtomCacheTable<Atom>()
        #expect((0..<UInt16(AtomCacheSlots.count)).allSatisfy { table[$0] == nil })
    }

    @Test("names put in caches are shared by their bytes: one index and one storage per name, canonically equivalent names kept apart")
    func sharedNames() throws {
        let name = "interned_metric_name_\(UInt32.random(in: 0...UInt32.max))"
        /// The shared name, as a receiver reads it back by index.
        func shared(_ text: String) throws -> (index: UInt16, atom: Atom) {
            let index = try #require(SharedAtomNames.index(of: Atom(text)))
            return (index, SharedAtomNames.byIndex[Int(index)])
        }
        // Two copies of the same text in storage of their own, as two connections' headers make them.
        let first = try shared(String(decoding: Array(name.utf8), as: UTF8.self))
        let second = try shared(String(decoding: Array(name.utf8), as: UTF8.self))
        #expect(first.index == second.index)
        var (a, b) = (first.atom.name, second.atom.name)
        #expect(a == name && a.withUTF8 { $0.baseAddress } == b.withUTF8 { $0.baseAddress })
        let composed = try shared("caf\u{E9}_\(name)")
        let decomposed = try shared("cafe\u{301}_\(name)")
        #expect(composed.index != decomposed.index && composed.atom != decomposed.atom)
        #expect(Array(decomposed.atom.name.utf8) == Array("cafe\u{301}_\(name)".utf8))
    }
}
