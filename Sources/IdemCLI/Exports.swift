// What a program embedding idem needs, with `import IdemCLI` alone: the handler protocol
// and its types, and the registry.
@_exported import IdemCore

@_exported import struct IdemRuntime.HandlerRegistry
