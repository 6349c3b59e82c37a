#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Calls `body` with a NULL-terminated array of C strings copied from `strings`
/// (`nil` elements stay NULL), freeing the copies afterwards.
func withCStringArray<Result>(
    _ strings: [String?], _ body: ([UnsafePointer<CChar>?]) -> Result
) -> Result {
    let copies: [UnsafeMutablePointer<CChar>?] = strings.map { $0.flatMap { strdup($0) } }
    defer {
        for copy in copies { free(copy) }
    }
    return body(copies.map { UnsafePointer($0) } + [nil])
}
