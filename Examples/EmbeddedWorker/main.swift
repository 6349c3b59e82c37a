// A program that embeds idem: it registers its own Swift handler under a name and runs the
// same command line as `idem` (`run`, `check-config`, `migrate`, … with the same
// configuration file, flags and signals). A consumer configured with
// `handler: {swift: record-order}` runs `RecordOrder`.
import IdemCLI

var handlers = HandlerRegistry()
handlers.register("record-order", RecordOrder())
await IdemCommandLine.main(handlers: handlers)
