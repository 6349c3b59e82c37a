/// `idem ctl pause NAME`: a running worker's consumer stops taking messages.
enum CtlPause: CtlVerb {
    static let name = "pause"
    static let abstract = "Pause a consumer of a running worker: it takes no new messages and finishes what it holds."
    static let done = "paused"
    static let unchanged = "paused"
}
