/// The seeded generator of randomised tests is FugitiveWire's (the demo's content comes
/// from it too): every test target that imports the support has it.
@_exported import struct FugitiveWire.SplitMix64
