// What a program embedding idem needs, with `import IdemCLI` alone: the handler protocol
// and its types, the handler registry, and the broker registry with the adapter protocol.
@_exported import IdemCore

@_exported import protocol IdemConsumerKit.BrokerAdapter
@_exported import struct IdemConsumerKit.BrokerRegistry
@_exported import struct IdemRuntime.HandlerRegistry
