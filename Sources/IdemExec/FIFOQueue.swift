/// A first-in, first-out queue over an array with a moving head: appends and removals at the
/// front are amortised O(1) and the storage is reused once the queue drains.
struct FIFOQueue<Element> {
    private var items: [Element] = []
    private var head = 0

    /// Creates an empty queue.
    init() {}

    /// Whether the queue holds nothing.
    var isEmpty: Bool { head == items.count }

    /// The number of elements queued.
    var count: Int { items.count - head }

    /// The oldest element, or `nil`.
    var first: Element? { isEmpty ? nil : items[head] }

    /// Adds `element` at the back.
    mutating func append(_ element: Element) {
        items.append(element)
    }

    /// Removes and returns the oldest element, or `nil` when the queue is empty.
    mutating func popFirst() -> Element? {
        guard !isEmpty else { return nil }
        let element = items[head]
        head += 1
        if head == items.count {
            items.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 256 && head * 2 >= items.count {
            items.removeFirst(head)
            head = 0
        }
        return element
    }

    /// Removes and returns every element, oldest first.
    mutating func removeAll() -> [Element] {
        let remaining = Array(items[head...])
        items.removeAll(keepingCapacity: true)
        head = 0
        return remaining
    }
}

extension FIFOQueue: Sendable where Element: Sendable {}
