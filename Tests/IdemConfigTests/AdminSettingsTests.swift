import Foundation
import Testing

@testable import IdemConfig

private func loadAdding(_ extra: String, env: [String: String] = [:]) throws(ConfigError) -> WorkerConfig {
    try load(minimal + "\n" + extra + "\n", env: env)
}

private func messages(_ extra: String, env: [String: String] = [:]) -> [String] {
    issues(minimal + "\n" + extra + "\n", env: env).map(\.description)
}

/// The `admin:` section: off by default, a token always, never the metrics port by accident.
@Suite("Configuration: admin API")
struct AdminSettingsTests {
    private let token = "0123456789abcdef0123"

    @Test func offByDefaultAndOnItsOwnPortWhenEnabled() throws {
        #expect(try loadAdding("").admin == AdminSettings())
        #expect(try loadAdding("").admin.enabled == false)
        let config = try loadAdding(
            "admin: {enabled: true, token: \"${IDEM_ADMIN_TOKEN}\"}", env: ["IDEM_ADMIN_TOKEN": token])
        #expect(config.admin.enabled)
        #expect(config.admin.token == token)
        #expect(config.admin.listen == .address(host: "127.0.0.1", port: 9465))
        #expect(config.interpolatedVariables.contains("IDEM_ADMIN_TOKEN"), "treated as a secret")
        let shared = try loadAdding("admin: {enabled: true, listen: metrics, token: \(token)}")
        #expect(shared.admin.listen == .metrics)
    }

    @Test func aTokenFileIsReadAndTrimmed() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("idem-admin-\(UUID().uuidString)")
        try Data("\(token)\n".utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let config = try loadAdding("admin: {enabled: true, token_file: \(file.path)}")
        #expect(config.admin.token == token)
        let missing = messages("admin: {enabled: true, token_file: /nonexistent/idem-token}")
        #expect(
            missing.first?.contains("admin.token_file: cannot read the admin token file /nonexistent/idem-token")
                == true, "\(missing)")
    }

    @Test func enabledWithoutATokenIsAnError() {
        let found = messages("admin: {enabled: true}")
        #expect(found.count == 1)
        #expect(found.first?.contains("admin: the admin API needs a bearer token") == true, "\(found)")
    }

    @Test func aShortTokenIsRefusedWithoutQuotingIt() {
        let found = messages("admin: {enabled: true, token: hunter2}")
        #expect(found.count == 1)
        #expect(found.first?.contains("at least 16 printable ASCII characters") == true, "\(found)")
        #expect(found.first?.contains("hunter2") == false, "the secret is not quoted: \(found)")
    }

    @Test func tokenAndTokenFileTogetherIsAnError() {
        let found = messages("admin: {enabled: true, token: \(token), token_file: /tmp/x}")
        #expect(found.first?.contains("expected one of token or token_file, got both") == true, "\(found)")
    }

    @Test func theMetricsAddressIsRefusedUnlessSaidSo() {
        let found = messages(
            "metrics: {listen: \"127.0.0.1:9464\"}\nadmin: {enabled: true, listen: \"127.0.0.1:9464\", token: \(token)}"
        )
        #expect(found.first?.contains("write 'listen: metrics'") == true, "\(found)")
        let off = messages("metrics: {enabled: false}\nadmin: {enabled: true, listen: metrics, token: \(token)}")
        #expect(off.first?.contains("while metrics.enabled is false") == true, "\(off)")
        let bad = messages("admin: {enabled: true, listen: \"nowhere\", token: \(token)}")
        #expect(bad.first?.contains("expected host:port such as 127.0.0.1:9465, or 'metrics'") == true, "\(bad)")
    }
}
