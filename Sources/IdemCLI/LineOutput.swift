import Foundation

/// Lines written while a progress line may be drawn on the terminal: each starts by
/// clearing it, so that the progress line is redrawn below.
struct LineOutput {
    let progressShown: Bool

    func out(_ line: String) {
        if progressShown { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        print(line)
    }

    func error(_ line: String) {
        printError((progressShown ? "\r\u{1B}[K" : "") + line)
    }
}
