#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Finds the program of an exec handler's command the way a shell does: a name with a `/`
/// is a path (relative to the working directory), a bare name is looked up in `PATH`.
enum ExecCommandLookup {
    /// The default search path when `PATH` is not set.
    static let defaultSearchPath = "/usr/local/bin:/usr/bin:/bin"

    /// The path to execute for `program`, or the reason it cannot be executed.
    static func resolve(_ program: String, searchPath: String?) -> Result<String, ExecHandlerError> {
        func failure(_ reason: String) -> Result<String, ExecHandlerError> {
            .failure(ExecHandlerError(command: [program], reason: reason))
        }
        guard !program.isEmpty else { return failure("the program name is empty") }
        if program.contains("/") {
            switch check(program) {
            case .executable: return .success(program)
            case .missing: return failure("'\(program)' does not exist")
            case .directory: return failure("'\(program)' is a directory")
            case .notExecutable: return failure("'\(program)' is not executable (no execute permission)")
            }
        }
        let path = searchPath ?? defaultSearchPath
        var notExecutable: String?
        for directory in path.split(separator: ":", omittingEmptySubsequences: false) {
            let candidate = (directory.isEmpty ? "." : String(directory)) + "/" + program
            switch check(candidate) {
            case .executable: return .success(candidate)
            case .notExecutable: notExecutable = notExecutable ?? candidate
            case .missing, .directory: continue
            }
        }
        if let notExecutable {
            return failure("'\(program)' was found at \(notExecutable) but is not executable (no execute permission)")
        }
        return failure("'\(program)' was not found in PATH (\(path))")
    }

    private enum Check {
        case executable
        case missing
        case directory
        case notExecutable
    }

    private static func check(_ path: String) -> Check {
        var info = stat()
        guard stat(path, &info) == 0 else { return .missing }
        if info.st_mode & S_IFMT == S_IFDIR { return .directory }
        return access(path, X_OK) == 0 ? .executable : .notExecutable
    }
}
