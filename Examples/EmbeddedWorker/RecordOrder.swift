import IdemCore

/// An example Swift handler: records each order in the `embedded_orders` table, in the
/// dedup transaction (so the row commits together with the message's dedup row, and a
/// redelivered order is never recorded twice).
///
/// A body that is not a JSON object with a numeric `amount` is rejected (dead-lettered);
/// in lease mode, where there is no transaction, the handler asks for a retry.
struct RecordOrder: MessageHandler {
    func handle(_ message: Message, context: HandlerContext) async throws -> HandlerResult {
        guard let transaction = context.transaction else {
            return .retry("record-order writes in the dedup transaction: run it in transactional mode")
        }
        guard case .object = try? JSONValue(parsing: message.body),
            let amount = (try? JSONValue(parsing: message.body))?[member: "amount"]?.scalarText,
            Double(amount) != nil
        else {
            return .reject("the order has no numeric amount")
        }
        _ = try await transaction.execute(
            "INSERT INTO embedded_orders(id, amount, attempt) VALUES ($1, $2::numeric, $3::integer)",
            [context.id.value, amount, String(context.attempt)])
        return .success
    }
}
