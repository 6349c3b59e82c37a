/// What a handler says about one message.
///
/// A handler that throws, or that does not answer within its timeout, counts as
/// ``retry(_:)``: a transient failure.
public enum HandlerResult: Sendable, Hashable {
    /// The effect is done.
    case success
    /// A transient failure: try again later, while attempts are left.
    case retry(String)
    /// A permanent failure: dead-letter the message now, with this reason.
    case reject(String)
}
