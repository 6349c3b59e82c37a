/// Why the dedup store could not answer: a ``Code`` for callers to act on, and a
/// sentence for people.
///
/// The codes are static members of a struct rather than enum cases, so that a store can
/// report a new kind of failure without breaking a caller's `switch`.
public struct DedupStoreError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of failure it is.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }

        /// The store cannot be reached; the consumer pauses and waits for it.
        public static let unavailable = Code("unavailable")
        /// A deadlock or serialization failure rolled the transaction back; retry.
        public static let conflict = Code("conflict")
        /// The schema is missing or older than this version of idem.
        public static let schemaOutdated = Code("schemaOutdated")
        /// Anything else the store refused.
        public static let failed = Code("failed")

        /// The code's name.
        public var description: String { name }
    }

    /// What kind of failure it is.
    public var code: Code
    /// What the store said.
    public var detail: String
    /// For ``Code/schemaOutdated``: the schema version found and the one required.
    public var schemaVersions: (found: Int, required: Int)? {
        guard let found = foundVersion, let required = requiredVersion else { return nil }
        return (found, required)
    }
    private var foundVersion: Int?
    private var requiredVersion: Int?

    /// An error of `code` saying `detail`.
    public init(code: Code, detail: String) {
        self.code = code
        self.detail = detail
    }

    /// The store cannot be reached.
    public static func unavailable(_ detail: String) -> DedupStoreError {
        DedupStoreError(code: .unavailable, detail: detail)
    }

    /// A deadlock or serialization failure rolled the transaction back.
    public static func conflict(_ detail: String) -> DedupStoreError {
        DedupStoreError(code: .conflict, detail: detail)
    }

    /// The schema is at version `found`; this idem needs `required`.
    public static func schemaOutdated(found: Int, required: Int) -> DedupStoreError {
        var error = DedupStoreError(
            code: .schemaOutdated,
            detail:
                "the dedup schema is at version \(found), this idem needs \(required): run `idem migrate --config FILE`"
        )
        error.foundVersion = found
        error.requiredVersion = required
        return error
    }

    /// Anything else the store refused.
    public static func failed(_ detail: String) -> DedupStoreError {
        DedupStoreError(code: .failed, detail: detail)
    }

    /// A sentence naming what is wrong.
    public var description: String {
        switch code {
        case .unavailable: return "PostgreSQL is unavailable: \(detail)"
        case .conflict: return "transaction conflict: \(detail)"
        default: return detail
        }
    }
}
