/// Finding `$1`, `$2`, … placeholders in a SQL statement, outside quoted text and comments.
enum SQLPlaceholders {
    /// The highest placeholder number used, or 0 when there is none.
    static func highestIndex(in sql: String) -> Int {
        let scalars = Array(sql.unicodeScalars)
        var highest = 0
        var index = 0
        while index < scalars.count {
            let scalar = scalars[index]
            switch scalar {
            case "'", "\"":
                index += 1
                while index < scalars.count {
                    if scalars[index] == scalar {
                        if index + 1 < scalars.count, scalars[index + 1] == scalar {
                            index += 2
                            continue
                        }
                        break
                    }
                    index += 1
                }
                index += 1
            case "-" where index + 1 < scalars.count && scalars[index + 1] == "-":
                while index < scalars.count, scalars[index] != "\n" { index += 1 }
            case "/" where index + 1 < scalars.count && scalars[index + 1] == "*":
                index += 2
                while index + 1 < scalars.count, !(scalars[index] == "*" && scalars[index + 1] == "/") { index += 1 }
                index += 2
            case "$":
                var end = index + 1
                var number = 0
                while end < scalars.count, let digit = Int(String(scalars[end])), ("0"..."9").contains(scalars[end]) {
                    number = number * 10 + digit
                    end += 1
                }
                if end > index + 1 { highest = max(highest, number) }
                index = max(end, index + 1)
            default:
                index += 1
            }
        }
        return highest
    }
}
