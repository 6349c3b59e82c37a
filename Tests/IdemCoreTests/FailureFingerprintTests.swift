import Testing

@testable import IdemCore

/// Dead letters that failed the same way share a fingerprint; those that failed otherwise
/// do not.
@Suite("Failure fingerprints")
struct FailureFingerprintTests {
    @Test func whatVariesFromMessageToMessageIsTakenOut() {
        #expect(
            FailureFingerprint.normalize("rejected order 17: amount '-3' below 0 (SQLSTATE 23514)")
                == "rejected order <n>: amount '…' below <n> (SQLSTATE 23514)")
        #expect(
            FailureFingerprint.normalize("no row for 6f1c2a9e-3b4d-4e5f-8a9b-0c1d2e3f4a5b in \"orders\"")
                == "no row for <uuid> in \"…\"")
        #expect(FailureFingerprint.normalize("digest deadbeef0123 mismatched") == "digest <hex> mismatched")
        #expect(FailureFingerprint.normalize("took 12.5 s  on\tnode m-7") == "took <n> s on node m-<n>")
        #expect(FailureFingerprint.normalize("v2 utf8 ok") == "v2 utf8 ok", "numbers inside words stay")
        #expect(FailureFingerprint.normalize("an 'unclosed quote 5") == "an 'unclosed quote <n>")
        #expect(FailureFingerprint.normalize(String(repeating: "x", count: 1000)).count == 240)
    }

    @Test func theGroupIsStableAndSeparatesReasonsAndFailures() {
        let a = FailureFingerprint(reason: "rejected", lastError: "rejected order 17 (SQLSTATE 23514)")
        let b = FailureFingerprint(reason: "rejected", lastError: "rejected order 42 (SQLSTATE 23514)")
        let otherState = FailureFingerprint(reason: "rejected", lastError: "rejected order 42 (SQLSTATE 23505)")
        let otherReason = FailureFingerprint(
            reason: "attempts-exhausted", lastError: "rejected order 42 (SQLSTATE 23514)")
        #expect(a.group == b.group)
        #expect(a.group.count == 10)
        #expect(a.group != otherState.group)
        #expect(a.group != otherReason.group)
        #expect(FailureFingerprint(reason: nil, lastError: nil).reason == "-")
        // Fixed by its inputs alone: the same group in every process and release.
        #expect(
            a.group == FailureFingerprint(reason: "rejected", lastError: "rejected order 99 (SQLSTATE 23514)").group)
    }
}
