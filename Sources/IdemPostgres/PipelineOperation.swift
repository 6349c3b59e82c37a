/// One protocol step of a pipeline as ``PostgresConnection`` sends it: each produces exactly
/// one libpq result (a ``sync`` produces `PGRES_PIPELINE_SYNC`).
enum PipelineOperation: Sendable {
    /// `DEALLOCATE name` of a statement evicted from the cache.
    case deallocate(name: String)
    /// Prepares statement `statement`'s SQL as `name` (`PQsendPrepare`).
    case prepare(name: String, statement: Int)
    /// Executes statement `statement`, prepared as `name`, or unprepared when `name` is nil.
    case execute(statement: Int, name: String?)
    /// A synchronisation point (`PQpipelineSync`): the server ends an implicit transaction
    /// there and resumes after an error.
    case sync
}
