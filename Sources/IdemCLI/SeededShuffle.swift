import IdemConcurrency

/// A reproducible shuffle: SplitMix64 numbers and a Fisher–Yates pass written out here, so
/// that a seed gives the same order on every platform and toolchain (the standard
/// library's `shuffle(using:)` does not promise its algorithm).
struct SeededShuffle {
    private var random: SplitMix64

    /// A shuffle whose order `seed` fixes.
    init(seed: UInt64) {
        random = SplitMix64(seed: seed)
    }

    /// The next SplitMix64 number.
    mutating func next() -> UInt64 {
        random.next()
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
