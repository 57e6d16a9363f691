/// How a lab link treats the frames that cross it, in each direction on its own: what a
/// path across the internet adds (delay, jitter, loss) and what an access line allows
/// (rate). `netem` would do it in the kernel; this kernel has none, so a ``LinkStage`` of
/// the lab's own carries the frames in user space.
public struct LinkShape: Sendable, Hashable {
    /// Added to every frame's way across (one way: a round trip pays it twice).
    public var delay: Duration
    /// Each frame's delay varies uniformly within ± this. Frames keep their order (a frame
    /// waits for the one before it), as on a path without parallel links.
    public var jitter: Duration
    /// The probability that a frame is lost, each frame on its own.
    public var loss: Double
    /// The line's rate in bits per second (a token bucket, `tc tbf`, on each side); nil:
    /// as fast as the stage carries frames.
    public var rateBitsPerSecond: Int?
    /// Frames waiting on the link beyond this many bytes are dropped, as a router's
    /// buffer drops them.
    public var queueBytes: Int
    /// Seeds the draws of loss and jitter (one generator per direction).
    public var seed: UInt64

    public init(
        delay: Duration = .zero, jitter: Duration = .zero, loss: Double = 0, rateBitsPerSecond: Int? = nil, queueBytes: Int = 8 << 20,
        seed: UInt64 = 1
    ) {
        precondition(delay >= .zero && jitter >= .zero && jitter <= delay, "jitter within the delay")
        precondition((0...1).contains(loss), "loss is a probability")
        precondition(queueBytes >= 64 << 10, "a queue holds at least 64 KiB")
        self.delay = delay
        self.jitter = jitter
        self.loss = loss
        self.rateBitsPerSecond = rateBitsPerSecond
        self.queueBytes = queueBytes
        self.seed = seed
    }
}

/// What crossed a link in one direction.
public struct LinkStatistics: Sendable, Hashable {
    /// Frames (and their bytes) delivered to the other side.
    public var frames = 0
    public var bytes = 0
    /// Frames the shape's loss dropped.
    public var lost = 0
    /// Frames dropped because the queue was full (or the other side refused them).
    public var overflowed = 0

    public init() {}
}
