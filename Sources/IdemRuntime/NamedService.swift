import IdemConsumerKit
import IdemPostgresStore
import ServiceLifecycle

/// A service shown by name alone: swift-service-lifecycle logs the services it runs with
/// their description, and the default one would print their whole configuration,
/// connection URLs and passwords included.
struct NamedService: Service, CustomStringConvertible {
    /// What the logs call it, such as `consumer orders`.
    let description: String
    let service: any Service

    func run() async throws {
        try await service.run()
    }
}
