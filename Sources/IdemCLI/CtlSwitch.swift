import ArgumentParser

/// `idem ctl pause NAME` and `idem ctl resume NAME`: one command, by its ``Verb``.
struct CtlSwitch<Verb: CtlVerb>: AsyncParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(commandName: Verb.name, abstract: Verb.abstract)
    }

    @OptionGroup var options: CtlOptions

    @Argument(help: ArgumentHelp("The consumer.", valueName: "consumer"))
    var consumer: String

    func run() async throws {
        guard consumer.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }) else {
            throw CLIFailure.config("idem ctl \(Verb.name): '\(consumer)' is not a consumer name")
        }
        let answer = try await options.send(.POST, "/admin/consumers/\(consumer)/\(Verb.name)")
        let changed = answer[member: "changed"] == .bool(true)
        print(changed ? "\(consumer): \(Verb.done)" : "\(consumer): already \(Verb.unchanged)")
    }
}

/// What `idem ctl pause` or `idem ctl resume` does.
protocol CtlVerb {
    /// The subcommand and the admin API's last path component.
    static var name: String { get }
    /// The help line.
    static var abstract: String { get }
    /// What is printed when it changed something.
    static var done: String { get }
    /// The state the consumer already was in when it did not.
    static var unchanged: String { get }
}
