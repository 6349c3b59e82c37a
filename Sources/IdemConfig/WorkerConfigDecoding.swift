import Foundation
import IdemCore

/// The schema of `worker.yaml`: which keys each section takes, their defaults and checks.
enum WorkerConfigDecoding {
    static func decode(_ root: ConfigValue, file: String) -> WorkerConfig? {
        guard
            let top = root.mapping(keys: [
                "postgres", "consumers", "shutdown", "logging", "metrics", "admin", "tracing",
            ])
        else {
            return nil
        }
        let postgres = top.required("postgres", what: "the PostgreSQL that holds the dedup table").flatMap(
            postgresSettings)
        let shutdown = top["shutdown"].map(shutdownSettings) ?? ShutdownSettings()
        let logging = top["logging"].map(loggingSettings) ?? LoggingSettings()
        let metrics = top["metrics"].map(metricsSettings) ?? MetricsSettings()
        let admin = top["admin"].map { adminSettings($0, metrics: metrics) } ?? AdminSettings()
        let tracing = top["tracing"].map(tracingSettings) ?? TracingSettings()
        var consumers: [ConsumerConfig]?
        if let list = top.required("consumers", what: "a list of consumers")?.list() {
            if list.isEmpty { top["consumers"]?.report("expected at least one consumer") }
            let decoded = list.map(consumer)
            consumers = decoded.compactMap { $0 }
            checkUniqueNames(list: list, consumers: consumers!)
            checkUniqueStaticMembers(list: list, consumers: consumers!)
        }
        guard let postgres, let consumers, let metrics, let admin, let tracing else { return nil }
        return WorkerConfig(
            postgres: postgres, consumers: consumers, shutdown: shutdown ?? ShutdownSettings(),
            logging: logging ?? LoggingSettings(), metrics: metrics, admin: admin, tracing: tracing, file: file)
    }

    private static func checkUniqueNames(list: [ConfigValue], consumers: [ConsumerConfig]) {
        var seen: Set<String> = []
        for (index, consumer) in consumers.enumerated() where !seen.insert(consumer.name).inserted {
            list[min(index, list.count - 1)].report(
                "consumer name '\(consumer.name)' is used twice; names scope message IDs and must be unique")
        }
    }

    /// Two consumers of one process in the same Kafka group with the same static member ID
    /// would fence each other off.
    private static func checkUniqueStaticMembers(list: [ConfigValue], consumers: [ConsumerConfig]) {
        var seen: [String: String] = [:]
        for (index, consumer) in consumers.enumerated() {
            guard case .kafka(let kafka) = consumer.source, let id = kafka.consumerProperties["group.instance.id"]
            else { continue }
            let key = "\(kafka.brokers)|\(kafka.group)|\(id)"
            if let other = seen[key] {
                list[min(index, list.count - 1)].report(
                    "consumers '\(other)' and '\(consumer.name)' are both member '\(id)' of Kafka group '\(kafka.group)'; a static member ID must be unique in its group (e.g. ${POD_NAME}-\(consumer.name))"
                )
            } else {
                seen[key] = consumer.name
            }
        }
    }

    // MARK: postgres

    static func postgresSettings(_ value: ConfigValue) -> PostgresSettings? {
        guard let map = value.mapping(keys: ["url", "table", "pool_size", "connect_timeout", "on_unavailable"]) else {
            return nil
        }
        let url = map.required("url", what: "a libpq URL such as postgres://idem@127.0.0.1:5432/idem")?.string()
        if let url, !(url.hasPrefix("postgres://") || url.hasPrefix("postgresql://")) {
            map["url"]?.report(
                "expected a URL starting with postgres:// or postgresql://, got \"\(Redaction.url(url))\"")
        }
        var settings = PostgresSettings(url: url ?? "")
        if let tableValue = map["table"], let table = tableValue.string() {
            if isSQLIdentifier(table) {
                settings.table = table
            } else {
                tableValue.report(
                    "expected a table name of letters, digits and underscores, optionally schema-qualified (schema.table), got \(tableValue.got)"
                )
            }
        }
        if let size = map["pool_size"]?.int(in: 1...256) { settings.poolSize = size }
        if let timeout = map["connect_timeout"]?.duration(atLeast: .milliseconds(100)) {
            settings.connectTimeout = timeout
        }
        if let policy = map["on_unavailable"]?.oneOf(PostgresSettings.UnavailablePolicy.self) {
            settings.onUnavailable = policy
        }
        return url == nil ? nil : settings
    }

    static func isSQLIdentifier(_ text: String) -> Bool {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count) else { return false }
        return parts.allSatisfy { part in
            guard let first = part.unicodeScalars.first, part.count <= 63 else { return false }
            let isStart = first == "_" || (first.isASCII && first.properties.isAlphabetic)
            return isStart
                && part.unicodeScalars.allSatisfy {
                    $0 == "_" || ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0)))
                }
        }
    }

    // MARK: process

    static func shutdownSettings(_ value: ConfigValue) -> ShutdownSettings? {
        guard let map = value.mapping(keys: ["grace_period"]) else { return nil }
        var settings = ShutdownSettings()
        if let grace = map["grace_period"]?.duration(atLeast: .zero) { settings.gracePeriod = grace }
        return settings
    }

    static func loggingSettings(_ value: ConfigValue) -> LoggingSettings? {
        guard let map = value.mapping(keys: ["level", "format"]) else { return nil }
        var settings = LoggingSettings()
        if let level = map["level"]?.oneOf(LoggingSettings.Level.self) { settings.level = level }
        if let format = map["format"]?.oneOf(LoggingSettings.Format.self) { settings.format = format }
        return settings
    }

    static func metricsSettings(_ value: ConfigValue) -> MetricsSettings? {
        guard let map = value.mapping(keys: ["enabled", "listen"]) else { return nil }
        var settings = MetricsSettings()
        if let enabled = map["enabled"]?.bool() { settings.enabled = enabled }
        if let listenValue = map["listen"], let listen = listenValue.string() {
            guard let (host, port) = MetricsSettings.parseListen(listen) else {
                listenValue.report(
                    "expected host:port such as 127.0.0.1:9464, 0.0.0.0:9464 or [::1]:9464, got \(listenValue.got)")
                return nil
            }
            settings.host = host
            settings.port = port
        }
        return settings
    }

    static func adminSettings(_ value: ConfigValue, metrics: MetricsSettings?) -> AdminSettings? {
        guard let map = value.mapping(keys: ["enabled", "listen", "token", "token_file"]) else { return nil }
        var settings = AdminSettings()
        if let enabled = map["enabled"]?.bool() { settings.enabled = enabled }
        if let listenValue = map["listen"], let listen = listenValue.string() {
            if listen == "metrics" {
                settings.listen = .metrics
                if let metrics, !metrics.enabled {
                    listenValue.report(
                        "the admin API cannot share the operations listener while metrics.enabled is false; give it its own host:port, e.g. 127.0.0.1:9465"
                    )
                    return nil
                }
            } else if let (host, port) = MetricsSettings.parseListen(listen) {
                settings.listen = .address(host: host, port: port)
                if let metrics, metrics.enabled, metrics.port != 0, metrics.host == host, metrics.port == port {
                    listenValue.report(
                        "the admin API and metrics.listen are both \(listen); write 'listen: metrics' to serve the admin API on the operations listener, or choose another port"
                    )
                    return nil
                }
            } else {
                listenValue.report(
                    "expected host:port such as 127.0.0.1:9465, or 'metrics' for the operations listener, got \(listenValue.got)"
                )
                return nil
            }
        }
        // Off, the token is not read: `${IDEM_ADMIN_TOKEN}` may stay unset.
        guard settings.enabled else { return settings }
        // The token's text is a secret: errors say what is wrong with it, never what it is.
        switch (map["token"], map["token_file"]) {
        case (.some, .some):
            value.report("expected one of token or token_file, got both")
            return nil
        case (let tokenValue?, nil):
            guard let token = tokenValue.secretText() else { return nil }
            settings.token = token
        case (nil, let fileValue?):
            guard let path = fileValue.string() else { return nil }
            guard let data = FileManager.default.contents(atPath: path) else {
                fileValue.report("cannot read the admin token file \(path): no such file, or not readable")
                return nil
            }
            settings.token = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            if settings.token.isEmpty {
                fileValue.report("the admin token file \(path) is empty")
                return nil
            }
        case (nil, nil):
            value.report(
                "the admin API needs a bearer token: set token: ${IDEM_ADMIN_TOKEN} or token_file: /run/secrets/idem-admin-token"
            )
            return nil
        }
        if settings.token.count < AdminSettings.minimumTokenLength
            || settings.token.contains(where: { $0.isWhitespace || !$0.isASCII })
        {
            (map["token"] ?? map["token_file"] ?? value).report(
                "the admin token must be at least \(AdminSettings.minimumTokenLength) printable ASCII characters without spaces (this one has \(settings.token.count)); make one with: openssl rand -hex 32"
            )
            return nil
        }
        return settings
    }

    static func tracingSettings(_ value: ConfigValue) -> TracingSettings? {
        guard
            let map = value.mapping(keys: [
                "enabled", "endpoint", "encoding", "service_name", "sample_ratio", "headers",
            ])
        else { return nil }
        var settings = TracingSettings()
        var valid = true
        if let enabled = map["enabled"]?.bool() { settings.enabled = enabled }
        if let endpointValue = map["endpoint"] {
            if let endpoint = endpointValue.string(), let url = URL(string: endpoint),
                ["http", "https"].contains(url.scheme?.lowercased() ?? ""), !(url.host ?? "").isEmpty
            {
                settings.endpoint = endpoint
            } else {
                endpointValue.report(
                    "expected the collector's OTLP/HTTP traces URL, such as \(TracingSettings.defaultEndpoint), got \(endpointValue.got)"
                )
                valid = false
            }
        }
        if let encoding = map["encoding"]?.oneOf(TracingSettings.Encoding.self) { settings.encoding = encoding }
        if let name = map["service_name"]?.string() { settings.serviceName = name }
        if let ratio = map["sample_ratio"]?.double(in: 0...1) { settings.sampleRatio = ratio }
        if let headers = map["headers"]?.stringMap() { settings.headers = headers }
        return valid ? settings : nil
    }

    // MARK: consumers

    static let consumerKeys = [
        "name", "source", "id", "handler", "dedup", "retry", "concurrency", "batch", "max_body_bytes",
    ]

    static func consumer(_ value: ConfigValue) -> ConsumerConfig? {
        guard let map = value.mapping(keys: consumerKeys) else { return nil }
        let nameValue = map.required("name", what: "the consumer's name, which scopes its message IDs")
        let name = nameValue?.string()
        if let name, let nameValue, !isConsumerName(name) {
            nameValue.report("expected a name of letters, digits, '.', '_' or '-' (at most 100), got \(nameValue.got)")
        }
        let source = map.required("source", what: "amqp: or kafka: settings").flatMap(sourceConfig)
        let identity: IdentityChain?
        if let idValue = map["id"] {
            identity = identityChain(idValue, source: source)
        } else {
            identity = source.map { IdentityChain($0.kind == .amqp ? [.messageId] : [.offset]) }
        }
        let handler = map.required("handler", what: "sql:, exec:, plugin: or swift:").flatMap(handlerConfig)
        // Handlers that run outside the dedup transaction (exec, plugin) default to lease
        // mode: their effects leave PostgreSQL (docs/design.md).
        let defaultMode: DedupMode
        switch handler?.kind {
        case .exec, .plugin: defaultMode = .lease
        default: defaultMode = .transactional
        }
        let dedup = map["dedup"].map { dedupSettings($0, defaultMode: defaultMode) } ?? DedupSettings(mode: defaultMode)
        let retry = map["retry"].map(retryPolicy) ?? RetryPolicy.default
        let concurrency = map["concurrency"].map { $0.int(in: 1...1024) } ?? 4
        let batch = map["batch"].map(batchSettings) ?? BatchSettings()
        let maxBody = map["max_body_bytes"].map { $0.byteSize(in: 1...(1 << 30)) } ?? (16 << 20)

        if let handler, let dedup, case .sql = handler.kind, dedup.mode == .lease {
            (map["dedup"] ?? value).report(
                "the sql handler runs inside the dedup transaction and needs dedup mode 'transactional', not 'lease'")
        }
        guard let name, let source, let identity, let handler, let dedup, let retry, let concurrency,
            let batch, let maxBody, isConsumerName(name)
        else { return nil }
        let consumer = ConsumerConfig(
            name: name, source: source, identity: identity, handler: handler, dedup: dedup, retry: retry,
            concurrency: concurrency, batch: batch, maxBodyBytes: maxBody)
        for problem in SafetyChecks.problems(consumer) {
            let node: ConfigValue?
            switch problem.at {
            case .source: node = map["source"]
            case .handler: node = map["handler"]
            }
            (node ?? value).report(problem.message)
        }
        return consumer
    }

    static func isConsumerName(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 100
            && name.unicodeScalars.allSatisfy {
                $0.isASCII
                    && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "._-".unicodeScalars.contains($0))
            }
    }

    // MARK: source

    static func sourceConfig(_ value: ConfigValue) -> SourceConfig? {
        guard let map = value.mapping(keys: ["amqp", "kafka"]) else { return nil }
        switch (map["amqp"], map["kafka"]) {
        case (let amqp?, nil): return amqpSource(amqp).map(SourceConfig.amqp)
        case (nil, let kafka?): return kafkaSource(kafka).map(SourceConfig.kafka)
        case (.some, .some):
            value.report("expected exactly one of amqp or kafka, got both")
            return nil
        case (nil, nil):
            value.report("expected exactly one of amqp or kafka")
            return nil
        }
    }

    static func amqpSource(_ value: ConfigValue) -> AMQPSourceConfig? {
        guard
            let map = value.mapping(keys: [
                "url", "queue", "prefetch", "declare", "dead_letter_exchange", "dead_letter_routing_key",
                "retry_via", "heartbeat", "connection_name", "tls", "queue_type", "delivery_limit",
                "consumer_timeout", "stream",
            ])
        else { return nil }
        let url = map.required("url", what: "an amqp:// or amqps:// URL")?.string()
        if let url, !(url.hasPrefix("amqp://") || url.hasPrefix("amqps://")) {
            map["url"]?.report("expected a URL starting with amqp:// or amqps://, got \"\(Redaction.url(url))\"")
        }
        let queue = map.required("queue", what: "the queue to consume")?.string()
        guard let url, let queue else { return nil }
        var config = AMQPSourceConfig(url: url, queue: queue)
        if let prefetch = map["prefetch"]?.int(in: 1...65535) { config.prefetch = prefetch }
        if let declare = map["declare"]?.bool() { config.declare = declare }
        if let exchange = map["dead_letter_exchange"]?.string(nonEmpty: false) { config.deadLetterExchange = exchange }
        if let key = map["dead_letter_routing_key"]?.string() { config.deadLetterRoutingKey = key }
        if let via = map["retry_via"]?.oneOf(AMQPSourceConfig.RetryVia.self) { config.retryVia = via }
        if let heartbeat = map["heartbeat"]?.duration(atLeast: .zero) { config.heartbeat = heartbeat }
        if let name = map["connection_name"]?.string() { config.connectionName = name }
        if let tlsValue = map["tls"], let tls = tlsSettings(tlsValue) { config.tls = tls }
        if let type = map["queue_type"]?.oneOf(AMQPSourceConfig.QueueType.self) { config.queueType = type }
        if let limitValue = map["delivery_limit"], let limit = limitValue.int(in: 1...1_000_000) {
            if config.queueType == .quorum {
                config.deliveryLimit = limit
            } else {
                limitValue.report("delivery_limit is a quorum queue's setting; set queue_type: quorum, or leave it out")
            }
        }
        if let timeout = map["consumer_timeout"]?.duration(atLeast: .seconds(1)) { config.consumerTimeout = timeout }
        if let streamValue = map["stream"] {
            if config.queueType == .stream {
                streamSettings(streamValue, into: &config)
            } else {
                streamValue.report("stream settings are a stream's; set queue_type: stream, or leave them out")
            }
        }
        if config.queueType == .stream, let via = map["retry_via"] {
            via.report(
                "a stream retries in place (idem reads it again from the record after the delay): RabbitMQ refuses a nack on a stream and does not dead-letter into one, so neither requeue nor delay_queue can; leave retry_via out"
            )
        }
        return config
    }

    static func streamSettings(_ value: ConfigValue, into config: inout AMQPSourceConfig) {
        guard let map = value.mapping(keys: ["start", "max_age", "max_length_bytes"]) else { return }
        if let start = map["start"]?.oneOf(AMQPSourceConfig.StreamStart.self) { config.streamStart = start }
        if let age = map["max_age"]?.duration(atLeast: .seconds(1)) { config.streamMaxAge = age }
        if let bytes = map["max_length_bytes"]?.int(in: 1...Int.max) { config.streamMaxLengthBytes = Int64(bytes) }
    }

    static func tlsSettings(_ value: ConfigValue) -> TLSSettings? {
        guard let map = value.mapping(keys: ["ca_file", "cert_file", "key_file", "verify"]) else { return nil }
        var tls = TLSSettings()
        tls.caFile = map["ca_file"]?.string()
        tls.certFile = map["cert_file"]?.string()
        tls.keyFile = map["key_file"]?.string()
        if let verify = map["verify"]?.bool() { tls.verify = verify }
        if (tls.certFile == nil) != (tls.keyFile == nil) {
            value.report("cert_file and key_file go together: give both for mutual TLS, or neither")
        }
        return tls
    }

    static func kafkaSource(_ value: ConfigValue) -> KafkaSourceConfig? {
        guard
            let map = value.mapping(keys: [
                "brokers", "topics", "group", "dead_letter_topic", "commit_interval", "properties",
                "group_instance_id", "session_timeout", "heartbeat_interval",
            ])
        else { return nil }
        let brokers = map.required("brokers", what: "host:port[,host:port…]")?.stringList()?.joined(separator: ",")
        let topics = map.required("topics", what: "a list of topics")?.stringList()
        if let topics, topics.isEmpty { map["topics"]?.report("expected at least one topic") }
        let group = map.required("group", what: "the consumer group id")?.string()
        guard let brokers, let topics, let group, !topics.isEmpty else { return nil }
        var config = KafkaSourceConfig(brokers: brokers, topics: topics, group: group)
        if let topic = map["dead_letter_topic"]?.string() { config.deadLetterTopic = topic }
        if let interval = map["commit_interval"]?.duration(atLeast: .milliseconds(10)) {
            config.commitInterval = interval
        }
        if let properties = map["properties"]?.stringMap() {
            let managed = ["bootstrap.servers", "group.id", "enable.auto.commit", "enable.auto.offset.store"]
            for key in properties.keys where managed.contains(key) {
                map["properties"]?.report(
                    "property '\(key)' is set by idem itself (use brokers and group, or leave it out)")
            }
            if let check = map.value.decoder.kafkaPropertyCheck, let value = map["properties"] {
                for (key, reason) in check(properties).sorted(by: { $0.key < $1.key }) {
                    value.report("librdkafka refuses it: \(reason)", atKey: key)
                }
            }
            config.properties = properties
        }
        if let value = map["group_instance_id"], let id = value.string() {
            if id.isEmpty || id.count > 249 || id.contains(where: { $0.isWhitespace }) {
                value.report("expected a member ID of 1 to 249 characters without spaces (e.g. ${POD_NAME})")
            } else {
                config.groupInstanceID = id
            }
        }
        if let timeout = map["session_timeout"]?.duration(atLeast: .seconds(1)) { config.sessionTimeout = timeout }
        if let interval = map["heartbeat_interval"]?.duration(atLeast: .milliseconds(100)) {
            config.heartbeatInterval = interval
        }
        for (key, property) in [
            ("group_instance_id", "group.instance.id"), ("session_timeout", "session.timeout.ms"),
            ("heartbeat_interval", "heartbeat.interval.ms"),
        ] where map[key] != nil && config.properties[property] != nil {
            map["properties"]?.report("property '\(property)' is also set by \(key): keep one of them", atKey: property)
        }
        if config.groupInstanceID != nil, config.properties["group.instance.id"] != nil {
            config.groupInstanceID = nil
        }
        let session = config.properties["session.timeout.ms"].flatMap { Int64($0) }.map { Duration.milliseconds($0) }
        let heartbeat =
            config.properties["heartbeat.interval.ms"].flatMap { Int64($0) }.map { Duration.milliseconds($0) }
        if (heartbeat ?? config.heartbeatInterval) * 3 > (session ?? config.sessionTimeout) {
            (map["heartbeat_interval"] ?? map["session_timeout"] ?? map.value).report(
                "the heartbeat interval must be at most a third of the session timeout")
        }
        return config
    }

    // MARK: identity

    static func identityChain(_ value: ConfigValue, source sourceConfig: SourceConfig?) -> IdentityChain? {
        guard let items = value.list() else { return nil }
        if items.isEmpty {
            value.report("expected at least one ID source")
            return nil
        }
        var sources: [IDSource] = []
        for item in items {
            guard let source = idSource(item) else { continue }
            if let config = sourceConfig, !config.features.isSuperset(of: source.requiredFeatures) {
                item.report("ID source '\(source)' never yields a value for a \(config.kind) consumer")
                continue
            }
            sources.append(source)
        }
        return sources.count == items.count ? IdentityChain(sources) : nil
    }

    static let idSourceNames = ["message_id", "key", "offset", "content_hash", "header", "json"]

    static func idSource(_ value: ConfigValue) -> IDSource? {
        if case .scalar = value.node {
            guard let name = value.string() else { return nil }
            switch name {
            case "message_id": return .messageId
            case "key": return .key
            case "offset": return .offset
            case "content_hash": return .contentHash
            case "header", "json":
                value.report("'\(name)' needs a value: write '\(name): \(name == "header" ? "NAME" : "/pointer")'")
                return nil
            default:
                var message =
                    "expected an ID source (message_id, key, offset, content_hash, header: NAME or json: /pointer), got \(value.got)"
                if let suggestion = KeySuggestion.nearest(to: name, in: idSourceNames) {
                    message += "; did you mean '\(suggestion)'?"
                }
                value.report(message)
                return nil
            }
        }
        guard let map = value.mapping(keys: ["header", "json"]) else { return nil }
        switch (map["header"], map["json"]) {
        case (let header?, nil):
            return header.string().map(IDSource.header)
        case (nil, let json?):
            guard let text = json.text(expected: "a JSON pointer such as /order/id") else { return nil }
            do {
                return .json(try JSONPointer(text))
            } catch {
                json.report("expected a JSON pointer such as /order/id: \(error.reason)")
                return nil
            }
        default:
            value.report("expected exactly one of 'header: NAME' or 'json: /pointer'")
            return nil
        }
    }

    // MARK: handler

    static func handlerConfig(_ value: ConfigValue) -> HandlerConfig? {
        let kindKeys = ["sql", "exec", "plugin", "swift"]
        let ownKeys: [String: [String]] = [
            "sql": ["params"], "exec": ["processes", "in_flight", "env"], "plugin": ["config"], "swift": [],
        ]
        let allKeys = kindKeys + ["timeout", "concurrency", "params", "processes", "in_flight", "env", "config"]
        guard let map = value.mapping(keys: allKeys) else { return nil }
        let present = kindKeys.filter { map.has($0) }
        guard present.count == 1, let kind = present.first else {
            value.report(
                present.isEmpty
                    ? "expected one of sql, exec, plugin or swift"
                    : "expected exactly one of sql, exec, plugin or swift, got \(present.joined(separator: " and "))")
            return nil
        }
        var valid = true
        for (other, keys) in ownKeys where other != kind {
            for key in keys where map.has(key) {
                map[key]?.report("'\(key)' belongs to \(other) handlers, not to a \(kind) handler")
                valid = false
            }
        }
        let timeout = map["timeout"].map { $0.duration(atLeast: .milliseconds(1)) } ?? .seconds(30)
        let decoded: HandlerConfig.Kind?
        switch kind {
        case "sql": decoded = sqlHandler(map)
        case "exec": decoded = execHandler(map)
        case "plugin":
            let path = map["plugin"]?.string()
            let config = map["config"].map { jsonText(of: $0) } ?? "{}"
            decoded = path.flatMap { path in config.map { .plugin(path: path, config: $0) } }
        default:
            decoded = map["swift"]?.string().map { .swift(name: $0) }
        }
        let concurrency = map["concurrency"].map { $0.int(in: 1...4096) }
        if case .some(.none) = concurrency { return nil }
        guard valid, let decoded, let timeout else { return nil }
        return HandlerConfig(kind: decoded, timeout: timeout, concurrency: concurrency ?? nil)
    }

    static func sqlHandler(_ map: ConfigMapping) -> HandlerConfig.Kind? {
        guard let statementValue = map["sql"], let statement = statementValue.string() else { return nil }
        var parameters: [SQLParameterSource] = []
        var valid = true
        if let list = map["params"]?.list() {
            for item in list {
                guard let text = item.string() else {
                    valid = false
                    continue
                }
                do {
                    parameters.append(try SQLParameterSource(parsing: text))
                } catch {
                    item.report(
                        "expected a parameter source (id, body, fence, attempt, source, json:/pointer, header:NAME), got \(item.got)"
                    )
                    valid = false
                }
            }
        }
        let highest = SQLPlaceholders.highestIndex(in: statement)
        if valid, highest != parameters.count {
            let target = map["params"] ?? statementValue
            target.report(
                "the statement uses \(highest == 0 ? "no placeholders" : "placeholders up to $\(highest)") but params lists \(parameters.count) value\(parameters.count == 1 ? "" : "s")"
            )
            valid = false
        }
        return valid ? .sql(statement: statement, parameters: parameters) : nil
    }

    static func execHandler(_ map: ConfigMapping) -> HandlerConfig.Kind? {
        guard let commandValue = map["exec"], let command = commandValue.stringList() else { return nil }
        guard !command.isEmpty, !command[0].isEmpty else {
            commandValue.report("expected a command: a program and its arguments")
            return nil
        }
        var settings = ExecHandlerSettings(command: command)
        if let value = map["processes"] {
            guard let processes = value.int(in: 1...256) else { return nil }
            settings.processes = processes
        }
        if let value = map["in_flight"] {
            guard let inFlight = value.int(in: 1...4096) else { return nil }
            settings.inFlight = inFlight
        }
        if let value = map["env"] {
            guard let env = value.stringMap() else { return nil }
            settings.environment = env
        }
        return .exec(settings)
    }

    /// A YAML subtree as compact JSON, for plugin configuration.
    static func jsonText(of value: ConfigValue) -> String? {
        switch value.node {
        case .scalar(let scalar):
            guard let text = value.text(expected: "a value") else { return nil }
            if scalar.style == .plain {
                if ["true", "false", "null"].contains(text) { return text }
                if case .number = (try? JSONValue(parsing: Array(text.utf8))) { return text }
            }
            return JSONValue.string(text).jsonText
        case .sequence:
            guard let items = value.list() else { return nil }
            let parts = items.compactMap(jsonText(of:))
            return parts.count == items.count ? "[" + parts.joined(separator: ",") + "]" : nil
        case .mapping(let mapping):
            var parts: [String] = []
            for (key, child) in mapping {
                let name = key.scalar?.string ?? ""
                guard
                    let text = jsonText(
                        of: ConfigValue(node: child, path: value.path.appending(name), decoder: value.decoder))
                else { return nil }
                parts.append(JSONValue.string(name).jsonText + ":" + text)
            }
            return "{" + parts.joined(separator: ",") + "}"
        case .alias:
            value.report("YAML aliases are not supported here")
            return nil
        }
    }

    // MARK: policies

    static func dedupSettings(_ value: ConfigValue, defaultMode: DedupMode) -> DedupSettings? {
        guard
            let map = value.mapping(keys: [
                "mode", "lease", "on_payload_conflict", "retention", "sweep_interval", "sweep_batch",
            ])
        else { return nil }
        var settings = DedupSettings(mode: defaultMode)
        if let mode = map["mode"]?.oneOf(DedupMode.self) { settings.mode = mode }
        if let lease = map["lease"]?.duration(atLeast: .seconds(1)) { settings.lease = lease }
        if let action = map["on_payload_conflict"]?.oneOf(PayloadConflictAction.self) {
            settings.onPayloadConflict = action
        }
        if let retention = map["retention"]?.duration(atLeast: .seconds(60)) { settings.retention = retention }
        if let interval = map["sweep_interval"]?.duration(atLeast: .milliseconds(100)) {
            settings.sweepInterval = interval
        }
        if let batch = map["sweep_batch"]?.int(in: 1...100_000) { settings.sweepBatch = batch }
        return settings
    }

    static func retryPolicy(_ value: ConfigValue) -> RetryPolicy? {
        guard
            let map = value.mapping(keys: ["max_attempts", "initial_backoff", "max_backoff", "multiplier", "jitter"])
        else { return nil }
        let base = RetryPolicy.default
        let attempts = map["max_attempts"].map { $0.int(in: 1...1000) } ?? base.maxAttempts
        let initial = map["initial_backoff"].map { $0.duration(atLeast: .zero) } ?? base.initialBackoff
        let maximum = map["max_backoff"].map { $0.duration(atLeast: .zero) } ?? base.maxBackoff
        let multiplier = map["multiplier"].map { $0.double(in: 1...100) } ?? base.multiplier
        let jitter = map["jitter"].map { $0.double(in: 0...1) } ?? base.jitter
        guard let attempts, let initial, let maximum, let multiplier, let jitter else { return nil }
        if maximum < initial {
            map["max_backoff"]?.report(
                "max_backoff (\(DurationParser.format(maximum))) is shorter than initial_backoff (\(DurationParser.format(initial)))"
            )
            return nil
        }
        return RetryPolicy(
            maxAttempts: attempts, initialBackoff: initial, multiplier: multiplier, maxBackoff: maximum, jitter: jitter)
    }

    static func batchSettings(_ value: ConfigValue) -> BatchSettings? {
        guard let map = value.mapping(keys: ["size", "max_size", "max_wait"]) else { return nil }
        var settings = BatchSettings()
        if let size = map["size"]?.int(in: 1...10000) { settings.size = size }
        if let maxSize = map["max_size"]?.int(in: 1...10000) {
            if maxSize < settings.size {
                map["max_size"]?.report("max_size (\(maxSize)) is smaller than size (\(settings.size))")
                return nil
            }
            settings.maxSize = maxSize
        }
        if let wait = map["max_wait"]?.duration(atLeast: .zero) { settings.maxWait = wait }
        return settings
    }
}
