/// Why a `plugin` handler could not be loaded.
///
/// These are startup errors: `idem run` and `idem check-config` print the
/// ``description`` and stop. Every text names the library's path; docs/plugins.md lists
/// them.
public enum PluginError: Error, Sendable, Hashable, CustomStringConvertible {
    /// No file exists at `path`.
    case fileNotFound(path: String)
    /// `dlopen(3)` refused the library; `reason` is the text of `dlerror(3)`.
    case loadFailed(path: String, reason: String)
    /// The library does not export `symbol`, one of the four functions of the ABI.
    case missingSymbol(path: String, symbol: String)
    /// The library was built against another version of the plugin ABI.
    case abiMismatch(path: String, pluginVersion: UInt32, supportedVersion: UInt32)
    /// `idem_plugin_init` returned `code` (non-zero) with `reason` (possibly empty).
    case initFailed(path: String, code: Int32, reason: String)
    /// A setting passed to ``PluginHandler/load(path:config:concurrency:timeout:consumer:logger:)``
    /// is out of range.
    case invalidSetting(path: String, reason: String)

    /// The library's path, as configured.
    public var path: String {
        switch self {
        case .fileNotFound(let path), .loadFailed(let path, _), .missingSymbol(let path, _),
            .abiMismatch(let path, _, _), .initFailed(let path, _, _), .invalidSetting(let path, _):
            return path
        }
    }

    /// The error as `idem run` and `idem check-config` print it.
    public var description: String {
        let prefix = "cannot load plugin \(path)"
        switch self {
        case .fileNotFound:
            return "\(prefix): no such file"
        case .loadFailed(_, let reason):
            return "\(prefix): dlopen failed: \(reason)"
        case .missingSymbol(_, let symbol):
            return "\(prefix): the library does not export \(symbol) (a plugin exports idem_plugin_abi_version, "
                + "idem_plugin_init, idem_plugin_handle and idem_plugin_close with C linkage)"
        case .abiMismatch(_, let pluginVersion, let supportedVersion):
            return
                "\(prefix): plugin ABI version \(pluginVersion), idem supports versions \(PluginHandler.oldestABIVersion) to \(supportedVersion)"
        case .initFailed(_, let code, let reason):
            let because = reason.isEmpty ? "returned \(code) without a reason" : reason
            return "\(prefix): idem_plugin_init failed: \(because)"
        case .invalidSetting(_, let reason):
            return "\(prefix): \(reason)"
        }
    }
}
