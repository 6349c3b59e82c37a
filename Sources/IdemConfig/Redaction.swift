import Foundation

/// Hiding secrets in anything idem prints or logs.
public enum Redaction {
    /// The URL with the password part of its user info replaced by `***`
    /// (`postgres://user:***@host/db`); other text is returned as it is.
    public static func url(_ text: String) -> String {
        guard let schemeEnd = text.range(of: "://") else { return text }
        let afterScheme = text[schemeEnd.upperBound...]
        let authorityEnd =
            afterScheme.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? afterScheme.endIndex
        let authority = afterScheme[..<authorityEnd]
        guard let at = authority.lastIndex(of: "@") else { return text }
        let userInfo = authority[..<at]
        guard let colon = userInfo.firstIndex(of: ":") else { return text }
        return String(text[..<userInfo.startIndex]) + userInfo[..<colon] + ":***" + text[at...]
    }
}
