import Testing

@testable import NumbatServices

/// Nodes whose metrics got slots in their first collection's order share one slots array.
@Suite("identity slots")
struct IdentitySlotsTests {
    @Test("0..<n in order is shared by length; any other order or a gap is kept as it is")
    func shared() {
        let count = 1_000 + Int.random(in: 0..<1_000)
        let first = IdentitySlots.shared(Array(0..<count)), second = IdentitySlots.shared(Array(0..<count))
        #expect(first == Array(0..<count))
        #expect(first.withUnsafeBufferPointer { $0.baseAddress } == second.withUnsafeBufferPointer { $0.baseAddress })
        let swapped = [1, 0] + Array(2..<count)
        #expect(IdentitySlots.shared(swapped) == swapped)
        let gap = Array(1...count)
        #expect(IdentitySlots.shared(gap) == gap)
        #expect(IdentitySlots.shared([]) == [])
    }
}
