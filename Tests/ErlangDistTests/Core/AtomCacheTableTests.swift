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

    @Test("atoms put in caches are interned by their bytes: one storage per name, canonically equivalent names kept apart")
    func sharedNames() {
        let name = "interned_metric_name_\(UInt32.random(in: 0...UInt32.max))"
        // Two copies of the same text in storage of their own, as two connections' headers make them.
        let first = SharedAtomNames.interned(Atom(String(decoding: Array(name.utf8), as: UTF8.self)))
        let second = SharedAtomNames.interned(Atom(String(decoding: Array(name.utf8), as: UTF8.self)))
        var (a, b) = (first.name, second.name)
        #expect(a.withUTF8 { $0.baseAddress } == b.withUTF8 { $0.baseAddress })
        let composed = SharedAtomNames.interned(Atom("caf\u{E9}_\(name)"))
        let decomposed = SharedAtomNames.interned(Atom("cafe\u{301}_\(name)"))
        #expect(composed != decomposed)
        #expect(Array(decomposed.name.utf8) == Array("cafe\u{301}_\(name)".utf8))
    }
}
