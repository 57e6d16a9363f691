import FugitiveWire

/// Where a fetch found the bytes.
public enum ResourceSource: Sendable, Hashable, CustomStringConvertible {
    case memory
    case disk
    case peer(PeerID)
    case origin

    public var description: String {
        switch self {
        case .memory: "memory"
        case .disk: "disk"
        case .peer(let id): "peer \(id)"
        case .origin: "origin"
        }
    }

    /// `memory`, `disk`, `peer` or `origin`, without the peer's id.
    public var kind: String {
        switch self {
        case .memory: "memory"
        case .disk: "disk"
        case .peer: "peer"
        case .origin: "origin"
        }
    }
}
