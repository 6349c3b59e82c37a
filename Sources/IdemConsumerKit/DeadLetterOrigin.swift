/// A dead letter in its broker adapter's own form (a delivery tag and properties, a
/// record): what the adapter's ``DeadLetterChannel`` needs to republish or remove it.
public protocol DeadLetterOrigin: Sendable {
    /// The origin without any copy of the body, for listings that keep many letters.
    func withoutBody() -> any DeadLetterOrigin
    /// Other names `idem dlq` accepts for the letter besides its position and location
    /// (a record's `LANE:OFFSET`); none by default.
    var aliases: [String] { get }
}

extension DeadLetterOrigin {
    /// None.
    public var aliases: [String] { [] }
}
