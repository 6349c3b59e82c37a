/// A snapshot of a ``PostgresPool``'s connections and callers.
public struct PostgresPoolStatistics: Sendable, Hashable {
    /// The most connections the pool opens.
    public var size: Int
    /// Established connections, idle or leased.
    public var open: Int
    /// Established connections waiting for a caller.
    public var idle: Int
    /// Connections in use by a ``PostgresPool/withConnection(_:)`` body.
    public var leased: Int
    /// Connections being opened (including retries after failed attempts).
    public var connecting: Int
    /// Callers waiting for a connection.
    public var waiting: Int

    /// Creates a snapshot; the pool normally builds these.
    public init(size: Int, open: Int, idle: Int, leased: Int, connecting: Int, waiting: Int) {
        self.size = size
        self.open = open
        self.idle = idle
        self.leased = leased
        self.connecting = connecting
        self.waiting = waiting
    }
}
