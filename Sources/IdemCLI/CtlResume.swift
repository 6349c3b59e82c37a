/// `idem ctl resume NAME`: a paused consumer of a running worker takes messages again.
enum CtlResume: CtlVerb {
    static let name = "resume"
    static let abstract = "Resume a paused consumer of a running worker."
    static let done = "resumed"
    static let unchanged = "running"
}
