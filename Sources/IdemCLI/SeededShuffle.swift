/// A reproducible shuffle: SplitMix64 numbers and a Fisher–Yates pass written out here, so
/// that a seed gives the same order on every platform and toolchain (the standard
/// library's `shuffle(using:)` does not promise its algorithm).
struct SeededShuffle {
    private var state: UInt64

    /// A shuffle whose order `seed` fixes.
    init(seed: UInt64) {
        state = seed
    }

    /// The next SplitMix64 number.
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Shuffles `items` in place.
    mutating func shuffle<T>(_ items: inout [T]) {
        guard items.count > 1 else { return }
        for index in stride(from: items.count - 1, to: 0, by: -1) {
            let other = Int(next() % UInt64(index + 1))
            items.swapAt(index, other)
        }
    }
}
