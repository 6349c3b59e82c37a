import IdemCore

/// One line of a replay corpus (or of `idem publish`'s samples): the message, how many
/// times to send it and, for Kafka, a fixed partition.
struct CorpusEntry: Sendable {
    /// The 1-based line number in the file.
    var line: Int
    /// The message, as the target's broker will carry it.
    var message: Message
    /// How many copies to send (`times`, or `copies`): 1 to 10,000.
    var times: Int
    /// The Kafka partition to produce to; nil lets the key (or the partitioner) choose.
    var partition: Int32?
}
