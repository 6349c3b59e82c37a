import Foundation

/// The replay corpora of `Tests/Corpus`, which the replay suites publish with `idem replay`.
public enum Corpus {
    /// The directory of the corpora, found from this source file's path.
    public static var directory: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Corpus")
    }

    /// The path of the corpus `name` (such as `orders.jsonl`).
    public static func path(_ name: String) -> String {
        directory.appendingPathComponent(name).path
    }
}
