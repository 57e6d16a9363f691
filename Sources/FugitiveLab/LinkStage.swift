import CFugitiveLabShim
import Foundation
import FugitiveWire
import Synchronization

/// A link between two network namespaces carried in user space: two TAP devices, and a
/// thread per direction that reads each frame out of one, holds it for the shape's delay
/// (unless the shape loses it) and writes it into the other. To the namespaces it is a
/// cable (the lab plugs one end into a bridge, like a veth); the kernel's `netem` would do
/// the same, and this kernel has none.
///
/// Frames wait in a ring of bytes allocated once (no allocation per frame). The devices
/// live as long as the stage's descriptors: a process that dies leaves none behind.
public final class LinkStage: Sendable {
    /// The devices' names, as made (in the caller's namespace; the lab moves and renames them).
    public let names: (a: String, b: String)
    public let shape: LinkShape
    private let forward: StageDirection
    private let backward: StageDirection
    private let descriptors: (Int32, Int32)

    /// Opens the two devices (down, MTU 1500) and starts carrying frames between them.
    public init(names: (a: String, b: String), shape: LinkShape) throws {
        let a = fugitive_tap_open(names.a)
        guard a >= 0 else { throw LabFailure("cannot open a TAP device \(names.a): \(String(cString: strerror(-a)))") }
        let b = fugitive_tap_open(names.b)
        guard b >= 0 else {
            close(a)
            throw LabFailure("cannot open a TAP device \(names.b): \(String(cString: strerror(-b)))")
        }
        self.names = names
        self.shape = shape
        descriptors = (a, b)
        var seeds = shape.seed
        forward = StageDirection(from: a, to: b, shape: shape, seed: seeds)
        seeds = seeds &* 6_364_136_223_846_793_005 &+ 1
        backward = StageDirection(from: b, to: a, shape: shape, seed: seeds)
        forward.start(name: "link \(names.a)→\(names.b)")
        backward.start(name: "link \(names.b)→\(names.a)")
    }

    /// What crossed from `a` to `b`, and back.
    public var statistics: (aToB: LinkStatistics, bToA: LinkStatistics) { (forward.statistics, backward.statistics) }

    /// Stops carrying frames and closes the devices (they disappear). Idempotent.
    public func stop() {
        let first = forward.stop()
        _ = backward.stop()
        if first {
            close(descriptors.0)
            close(descriptors.1)
        }
    }

    deinit { stop() }
}

/// One direction of a ``LinkStage``: its thread, queue and counters.
final class StageDirection: Sendable {
    /// The largest frame the stage carries (the devices' MTU is 1500).
    static let maxFrame = 16 << 10
    /// How long the thread sleeps at most before it looks at `stopping` again.
    static let tick: Int64 = 20_000_000

    let input: Int32
    let output: Int32
    let shape: LinkShape
    let seed: UInt64
    private let stopping = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)
    private let counters = Mutex(LinkStatistics())

    init(from input: Int32, to output: Int32, shape: LinkShape, seed: UInt64) {
        self.input = input
        self.output = output
        self.shape = shape
        self.seed = seed
    }

    var statistics: LinkStatistics { counters.withLock { $0 } }

    func start(name: String) {
        let thread = Thread { [self] in
            run()
            finished.signal()
        }
        thread.name = name
        thread.start()
    }

    /// Returns true the first time (when it stopped the thread).
    func stop() -> Bool {
        guard !stopping.exchange(true, ordering: .acquiringAndReleasing) else { return false }
        finished.wait()
        return true
    }

    private func run() {
        var queue = FrameQueue(capacity: shape.queueBytes, maxFrame: Self.maxFrame)
        defer { queue.deallocate() }
        var random = SplitMix64(seed: seed)
        // A draw in [0, 1) from the generator's top 53 bits.
        func unit() -> Double { Double(random.next() >> 11) / Double(1 << 53) }
        let delay = shape.delay.nanoseconds
        let jitter = shape.jitter.nanoseconds
        var lastDue: Int64 = 0
        var delta = LinkStatistics()
        var lastPublished = fugitive_monotonic_ns()
        while !stopping.load(ordering: .acquiring) {
            var now = fugitive_monotonic_ns()
            while let due = queue.headDue, due <= now {
                let (pointer, length) = queue.head
                if write(output, pointer, length) == length {
                    delta.frames += 1
                    delta.bytes += length
                } else {
                    delta.overflowed += 1
                }
                queue.pop()
            }
            if now - lastPublished > 50_000_000 {
                publish(&delta)
                lastPublished = now
            }
            let wait = queue.headDue.map { min($0 - now, Self.tick) } ?? Self.tick
            guard fugitive_wait_readable(input, wait) > 0 else { continue }
            now = fugitive_monotonic_ns()
            // A batch, so that a busy link still sends what is due in time.
            for _ in 0..<64 {
                let slot = queue.reserve() ?? queue.scratch
                let count = read(input, slot, Self.maxFrame)
                guard count > 0 else { break }
                if slot == queue.scratch {
                    delta.overflowed += 1
                    continue
                }
                if shape.loss > 0, unit() < shape.loss {
                    delta.lost += 1
                    continue
                }
                var due = now + delay
                if jitter > 0 { due += Int64(unit() * Double(2 * jitter)) - jitter }
                due = max(due, lastDue)
                lastDue = due
                queue.push(length: count, due: due)
            }
        }
        publish(&delta)
    }

    private func publish(_ delta: inout LinkStatistics) {
        let value = delta
        counters.withLock {
            $0.frames += value.frames
            $0.bytes += value.bytes
            $0.lost += value.lost
            $0.overflowed += value.overflowed
        }
        delta = LinkStatistics()
    }
}

/// Frames in order, in one ring of bytes: each frame is read straight into the slot
/// ``reserve()`` gives and kept by ``push(length:due:)``.
struct FrameQueue: ~Copyable {
    private struct Entry {
        var offset = 0
        var length = 0
        var due: Int64 = 0
    }

    private let bytes: UnsafeMutableRawPointer
    private let capacity: Int
    private let maxFrame: Int
    private var entries: [Entry]
    private var first = 0
    private var count = 0
    private var tail = 0
    private var queued = 0
    private let limit: Int
    /// Where a frame that does not fit is read, to be dropped.
    let scratch: UnsafeMutableRawPointer

    init(capacity limit: Int, maxFrame: Int) {
        self.limit = limit
        self.maxFrame = maxFrame
        capacity = limit + 2 * maxFrame
        bytes = .allocate(byteCount: capacity, alignment: 64)
        scratch = .allocate(byteCount: maxFrame, alignment: 64)
        entries = Array(repeating: Entry(), count: max(1024, limit / 64))
    }

    func deallocate() {
        bytes.deallocate()
        scratch.deallocate()
    }

    var headDue: Int64? { count > 0 ? entries[first].due : nil }
    var head: (UnsafeMutableRawPointer, Int) { (bytes + entries[first].offset, entries[first].length) }

    mutating func pop() {
        queued -= entries[first].length
        first = (first + 1) % entries.count
        count -= 1
        if count == 0 { tail = 0 }
    }

    /// Room for one more frame of up to `maxFrame` bytes, or nil when the queue is full.
    mutating func reserve() -> UnsafeMutableRawPointer? {
        guard count < entries.count, queued < limit else { return nil }
        if count == 0 { return bytes }
        let headOffset = entries[first].offset
        if tail >= headOffset {
            if capacity - tail >= maxFrame { return bytes + tail }
            // Wrap around, if the head has moved far enough along.
            guard headOffset > maxFrame else { return nil }
            tail = 0
            return bytes
        }
        return headOffset - tail > maxFrame ? bytes + tail : nil
    }

    /// Keeps the frame just read into the slot ``reserve()`` gave.
    mutating func push(length: Int, due: Int64) {
        let index = (first + count) % entries.count
        entries[index] = Entry(offset: tail, length: length, due: due)
        count += 1
        tail += length
        queued += length
    }
}

extension Duration {
    var nanoseconds: Int64 { components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000 }
}
