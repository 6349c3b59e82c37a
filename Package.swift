// swift-tools-version:6.1
import PackageDescription

/// The targets that make up idem, in the layering of docs/design.md:
/// C system libraries → client wrappers → core (pure Swift) → consumer kit → broker
/// adapters, PostgreSQL store, operations → runtime → command line → executable.
/// The runtime depends on no broker: the command line fills its broker registry.
let package = Package(
    name: "idem",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "idem", targets: ["idem"]),
        .executable(name: "idem-kafka-mock", targets: ["idem-kafka-mock"]),
        .library(name: "IdemCore", targets: ["IdemCore"]),
        .library(name: "IdemConfig", targets: ["IdemConfig"]),
        .library(name: "IdemRuntime", targets: ["IdemRuntime"]),
        // The embedding API: `IdemCommandLine.main(handlers:)` with your Swift handlers.
        .library(name: "IdemCLI", targets: ["IdemCLI"]),
        // The C ABI of `plugin` handlers: the header a plugin includes.
        .library(name: "CIdemPlugin", targets: ["CIdemPlugin"]),
        // Example plugins, loaded by the tests and shown in the docs.
        .library(name: "IdemExamplePluginC", type: .dynamic, targets: ["IdemExamplePluginC"]),
        .library(name: "IdemExamplePluginSwift", type: .dynamic, targets: ["IdemExamplePluginSwift"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/swift-otel/swift-w3c-trace-context", from: "1.0.0"),
        .package(url: "https://github.com/apple/swift-distributed-tracing", from: "1.7.3"),
        // OTLP span export over HTTP only (the gRPC trait would build grpc-swift too).
        .package(url: "https://github.com/swift-otel/swift-otel", from: "1.6.0", traits: ["OTLPHTTP"]),
    ],
    targets: [
        // MARK: C libraries (thin system-library targets)
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        .systemLibrary(
            name: "CRabbitMQ",
            pkgConfig: "librabbitmq",
            providers: [.apt(["librabbitmq-dev"])]
        ),
        .systemLibrary(
            name: "CRdKafka",
            pkgConfig: "rdkafka",
            providers: [.apt(["librdkafka-dev"])]
        ),

        // MARK: Shared pure-Swift support
        .target(
            name: "IdemConcurrency",
            dependencies: [.product(name: "DequeModule", package: "swift-collections")]
        ),

        // MARK: Client wrappers (the only targets that import the C libraries)
        .target(
            name: "IdemPostgres",
            dependencies: [
                "CLibPQ", "IdemConcurrency",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "IdemAMQP",
            dependencies: [
                "CRabbitMQ", "IdemConcurrency",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "IdemKafka",
            dependencies: [
                "CRdKafka", "IdemConcurrency",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // MARK: Handler plugins: the C ABI, the exec and plugin handlers, examples
        .target(name: "CIdemPlugin"),
        .target(
            name: "IdemExec",
            dependencies: ["IdemCore", "IdemConcurrency", .product(name: "Logging", package: "swift-log")]
        ),
        .target(
            name: "IdemPlugins",
            dependencies: [
                "IdemCore", "IdemConcurrency", "CIdemPlugin", .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(name: "IdemExamplePluginC", dependencies: ["CIdemPlugin"], path: "Examples/Plugins/CExample"),
        .target(
            name: "IdemExamplePluginSwift", dependencies: ["CIdemPlugin"], path: "Examples/Plugins/SwiftExample"),

        // MARK: Command-line support: progress lines on a terminal
        .target(name: "IdemTerminal"),

        // MARK: Core: no C, no broker types
        .target(
            name: "IdemCore",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "W3CTraceContext", package: "swift-w3c-trace-context"),
            ]
        ),
        .target(
            name: "IdemConfig",
            dependencies: ["IdemCore", "Yams"]
        ),

        // MARK: Consumer kit: what every broker adapter builds on (no broker, no C)
        .target(
            name: "IdemConsumerKit",
            dependencies: [
                "IdemCore", "IdemConfig", "IdemConcurrency",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ]
        ),

        // MARK: The dedup store over PostgreSQL
        .target(
            name: "IdemPostgresStore",
            dependencies: [
                "IdemCore", "IdemConfig", "IdemConsumerKit", "IdemPostgres",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),

        // MARK: Operations: /healthz, /readyz, /metrics (the only NIO HTTP user)
        .target(
            name: "IdemOperations",
            dependencies: [
                "IdemConsumerKit", "IdemCore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),

        // MARK: Broker adapters: one consumer target per broker
        .target(
            name: "IdemAMQPConsumer",
            dependencies: [
                "IdemCore", "IdemConfig", "IdemConsumerKit", "IdemAMQP",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "IdemKafkaConsumer",
            dependencies: [
                "IdemCore", "IdemConfig", "IdemConsumerKit", "IdemConcurrency", "IdemKafka",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // librdkafka's mock cluster, for tests and `idem-kafka-mock` (not in the worker).
        .target(
            name: "IdemKafkaMock",
            dependencies: ["CRdKafka", "IdemConcurrency", "IdemKafka", .product(name: "Logging", package: "swift-log")]
        ),

        // MARK: Runtime (no broker target) and executables
        .target(
            name: "IdemRuntime",
            dependencies: [
                "IdemCore", "IdemConfig", "IdemConsumerKit", "IdemPostgresStore", "IdemOperations", "IdemPostgres",
                "IdemExec", "IdemPlugins",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ]
        ),
        .target(
            name: "IdemCLI",
            dependencies: [
                "IdemCore", "IdemConfig", "IdemConsumerKit", "IdemPostgresStore", "IdemRuntime", "IdemAMQP",
                "IdemKafka", "IdemAMQPConsumer", "IdemKafkaConsumer", "IdemTerminal", "IdemOperations",
                "IdemConcurrency",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "OTel", package: "swift-otel"),
            ]
        ),
        .executableTarget(name: "idem", dependencies: ["IdemCLI"]),
        // A program embedding idem with its own Swift handler (built and tested by CI).
        .executableTarget(
            name: "idem-embedded-example",
            dependencies: ["IdemCLI", "IdemCore"],
            path: "Examples/EmbeddedWorker"
        ),
        .executableTarget(
            name: "idem-kafka-mock",
            dependencies: [
                "IdemKafkaMock",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        .executableTarget(name: "idem-bench-worker", dependencies: ["IdemCLI"]),
        .executableTarget(
            name: "idem-bench",
            dependencies: [
                "IdemAMQP", "IdemCore", "IdemKafka", "IdemPostgres", "IdemPostgresStore", "IdemRuntime", "IdemTerminal",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // MARK: Tests
        .testTarget(name: "IdemCoreTests", dependencies: ["IdemCore", "IdemConcurrency"]),
        .testTarget(name: "IdemConcurrencyTests", dependencies: ["IdemConcurrency"]),
        .testTarget(name: "IdemConfigTests", dependencies: ["IdemConfig", "IdemCore"]),
        .testTarget(
            name: "IdemServiceTests",
            dependencies: [
                "IdemPostgres", "IdemAMQP", "IdemKafka", "IdemKafkaMock", "IdemConcurrency", "IdemTestSupport",
                "IdemLogCapture", .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "IdemCLITests", dependencies: ["idem", "IdemTestSupport"]),
        // One log-capture helper for every test target.
        .target(
            name: "IdemLogCapture", dependencies: [.product(name: "Logging", package: "swift-log")],
            path: "Tests/IdemLogCapture"),
        // An in-memory broker and dedup store: consumer logic tested without services.
        .target(
            name: "IdemConsumerKitTestSupport",
            dependencies: [
                "IdemConsumerKit", "IdemConfig", "IdemCore", "IdemConcurrency", "IdemLogCapture",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Tests/IdemConsumerKitTestSupport"
        ),
        .testTarget(
            name: "IdemConsumerKitTests",
            dependencies: [
                "IdemConsumerKit", "IdemConsumerKitTestSupport", "IdemConfig", "IdemCore", "IdemLogCapture",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "InMemoryTracing", package: "swift-distributed-tracing"),
            ]
        ),
        .target(
            name: "IdemTestSupport",
            dependencies: [
                "IdemAMQP", "IdemKafka", "IdemKafkaMock", "IdemPostgres",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "Tests/IdemTestSupport"
        ),
        .testTarget(
            name: "IdemDisruptiveTests",
            dependencies: [
                "idem", "IdemAMQP", "IdemKafka", "IdemKafkaMock", "IdemPostgres", "IdemTestSupport",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "IdemKafkaConsumerTests",
            dependencies: [
                "idem", "IdemKafka", "IdemKafkaConsumer", "IdemPostgres", "IdemTestSupport",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "IdemAMQPConsumerTests",
            dependencies: [
                "idem", "IdemAMQP", "IdemAMQPConsumer", "IdemCore", "IdemPostgres", "IdemTestSupport",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "IdemExecTests",
            dependencies: ["IdemExec", "IdemCore", "IdemLogCapture", .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(
            name: "IdemPluginTests",
            dependencies: ["IdemPlugins", "IdemCore", .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(
            name: "IdemHandlerEndToEndTests",
            dependencies: [
                "idem", "idem-embedded-example", "IdemAMQP", "IdemPostgres", "IdemTestSupport",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "IdemStoreTests",
            dependencies: [
                "IdemConsumerKit", "IdemPostgresStore", "IdemPostgres", "IdemCore", "IdemConfig", "IdemTestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ]
        ),
    ]
)
