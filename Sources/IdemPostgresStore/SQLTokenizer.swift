/// A lexer just precise enough to rewrite a handler statement: words, `$n` placeholders,
/// quoted text and identifiers (kept as they are), comments (kept as blanks), parentheses,
/// commas and semicolons. It refuses (returns `nil` for) what it does not understand well
/// enough to rewrite safely: dollar quoting, escape strings, unterminated quotes.
enum SQLTokenizer {
    struct Token: Sendable, Hashable {
        enum Kind: Sendable, Hashable {
            case word(String)
            case placeholder(Int)
            case quoted
            case blank
            case open
            case close
            case comma
            case semicolon
            case other
        }

        var kind: Kind
        /// The token's text in the statement, unchanged.
        var text: String

        var isBlank: Bool { kind == .blank }
    }

    /// The tokens of `sql`, whose texts joined give `sql` back; `nil` when it holds dollar
    /// quoting, an `E'…'` escape string or an unterminated quote or comment.
    static func tokens(of sql: String) -> [Token]? {
        let scalars = Array(sql.unicodeScalars)
        var tokens: [Token] = []
        var index = 0
        func text(_ range: Range<Int>) -> String {
            var string = ""
            string.unicodeScalars.append(contentsOf: scalars[range])
            return string
        }
        func isWordScalar(_ scalar: Unicode.Scalar) -> Bool {
            scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || scalar == "_"
        }
        while index < scalars.count {
            let start = index
            let scalar = scalars[index]
            switch scalar {
            case "'", "\"":
                // An escape string (E'…') has backslash escapes this lexer does not follow.
                if scalar == "'", case .word(let word)? = tokens.last?.kind, word.uppercased().hasSuffix("E") {
                    return nil
                }
                index += 1
                var closed = false
                while index < scalars.count {
                    if scalars[index] == scalar {
                        if index + 1 < scalars.count, scalars[index + 1] == scalar {
                            index += 2
                            continue
                        }
                        closed = true
                        index += 1
                        break
                    }
                    index += 1
                }
                guard closed else { return nil }
                tokens.append(Token(kind: .quoted, text: text(start..<index)))
            case "-" where index + 1 < scalars.count && scalars[index + 1] == "-":
                while index < scalars.count, scalars[index] != "\n" { index += 1 }
                tokens.append(Token(kind: .blank, text: " "))
            case "/" where index + 1 < scalars.count && scalars[index + 1] == "*":
                index += 2
                while index + 1 < scalars.count, !(scalars[index] == "*" && scalars[index + 1] == "/") { index += 1 }
                guard index + 1 < scalars.count else { return nil }
                index += 2
                tokens.append(Token(kind: .blank, text: " "))
            case "$":
                var end = index + 1
                while end < scalars.count, ("0"..."9").contains(scalars[end]) { end += 1 }
                // `$$` or `$tag$`: dollar quoting.
                guard end > index + 1, let number = Int(text((index + 1)..<end)) else { return nil }
                index = end
                tokens.append(Token(kind: .placeholder(number), text: text(start..<index)))
            case "(":
                index += 1
                tokens.append(Token(kind: .open, text: "("))
            case ")":
                index += 1
                tokens.append(Token(kind: .close, text: ")"))
            case ",":
                index += 1
                tokens.append(Token(kind: .comma, text: ","))
            case ";":
                index += 1
                tokens.append(Token(kind: .semicolon, text: ";"))
            case _ where scalar.properties.isWhitespace:
                while index < scalars.count, scalars[index].properties.isWhitespace { index += 1 }
                tokens.append(Token(kind: .blank, text: text(start..<index)))
            case _ where isWordScalar(scalar):
                while index < scalars.count, isWordScalar(scalars[index]) || scalars[index] == "$" { index += 1 }
                let word = text(start..<index)
                // A `$` inside a word (`a$b`) is part of an identifier, but not one to rewrite.
                guard !word.contains("$") else { return nil }
                tokens.append(Token(kind: .word(word), text: word))
            default:
                index += 1
                tokens.append(Token(kind: .other, text: text(start..<index)))
            }
        }
        return tokens
    }
}
