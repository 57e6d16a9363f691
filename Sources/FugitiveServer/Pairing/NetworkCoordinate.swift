/// Where a peer sits in round-trip space, so that the distance between two peers that
/// never measured each other can be predicted: Vivaldi (Dabek et al., SIGCOMM 2004) with
/// height vectors — a point in the plane for the core of the network plus a height for the
/// peer's access link, which every path to it pays (a home's uplink, a mobile hop).
///
/// The server keeps one per session and one for itself, and moves both ends of every
/// round trip it learns: a link's RTT reported by its peers, and its own WebSocket ping to
/// each peer. Each sample moves a coordinate by at most a fraction of the error, weighted
/// by how sure each side is (``error``), so a peer with one sample can be placed but not
/// trusted (``isSettled``).
public struct NetworkCoordinate: Sendable, Equatable {
    public var x: Double = 0
    public var y: Double = 0
    /// Milliseconds every path to this node pays on top of the plane's distance.
    public var height: Double = Self.minimumHeight
    /// The relative error of the predictions made from this coordinate, 0…1.
    public var error: Double = 1
    /// Samples this coordinate has taken.
    public var samples = 0

    /// How much one sample may move a coordinate, and adjust its error (the paper's
    /// `c_c` and `c_e`).
    static let moveFactor = 0.25
    static let errorFactor = 0.25
    static let minimumHeight = 0.1
    /// Round trips beyond this are not used (a stalled ping measures the queue, not the path).
    static let largestSample = 10_000.0

    public init() {}

    /// The round trip this coordinate predicts to `other`, in milliseconds.
    public func distance(to other: NetworkCoordinate) -> Double {
        let dx = x - other.x
        let dy = y - other.y
        return (dx * dx + dy * dy).squareRoot() + height + other.height
    }

    /// Predictions are worth using: a few samples taken and the error down.
    public var isSettled: Bool { samples >= 2 && error < 0.6 }

    /// Moves this coordinate after measuring `rtt` milliseconds to a node at `other`;
    /// `direction` breaks the tie of two nodes at the same point (each sample's own
    /// draw, so that coordinates spread apart).
    public mutating func update(rtt: Double, to other: NetworkCoordinate, direction: (x: Double, y: Double)) {
        guard rtt.isFinite, rtt > 0, rtt <= Self.largestSample else { return }
        let predicted = distance(to: other)
        let weight = error / max(error + other.error, 1e-9)
        let sampleError = abs(predicted - rtt) / rtt
        error = min(1, max(0.01, sampleError * Self.errorFactor * weight + error * (1 - Self.errorFactor * weight)))
        // Along the unit vector of the height model, [x − x', h + h'] over the predicted
        // distance: away from `other` (and up) when the path was longer than predicted.
        let step = Self.moveFactor * weight * (rtt - predicted)
        let (dx, dy) = (x - other.x, y - other.y)
        let plane = (dx * dx + dy * dy).squareRoot()
        if plane < 1e-6 {
            // Two nodes at one point (every new one starts at the origin): half in the plane
            // along the draw, half in height, so that they come apart.
            let norm = max((direction.x * direction.x + direction.y * direction.y).squareRoot(), 1e-9)
            x += step / 2 * direction.x / norm
            y += step / 2 * direction.y / norm
            height = max(Self.minimumHeight, height + step / 2)
        } else {
            let length = plane + height + other.height
            x += step * dx / length
            y += step * dy / length
            height = max(Self.minimumHeight, height + step * (height + other.height) / length)
        }
        samples += 1
    }
}
