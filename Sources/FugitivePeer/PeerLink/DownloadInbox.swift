import FugitiveWire
import Synchronization

/// The responses of one download, between the link's reader and the download's task:
/// at most ``capacity`` wait, and the reader waits for room beyond that — so a download
/// that falls behind (or is held to a rate) holds the link's reader back, and through it
/// the channel and the sender, instead of queueing what the sender sends.
final class DownloadInbox: Sendable {
    let capacity: Int

    private struct State {
        var queue: [PeerMessage] = []
        var head = 0
        var reader: CheckedContinuation<PeerMessage?, Never>?
        var writers: [CheckedContinuation<Void, Never>] = []
        var finished = false
        var count: Int { queue.count - head }
    }

    private let state = Mutex(State())

    init(capacity: Int = 64) {
        precondition(capacity > 0)
        self.capacity = capacity
    }

    /// Queues `message`, waiting while the inbox is full; dropped once it is finished.
    func put(_ message: PeerMessage) async {
        while true {
            enum Outcome {
                case done
                case handed(CheckedContinuation<PeerMessage?, Never>)
                case full
            }
            let outcome = state.withLock { state -> Outcome in
                if state.finished { return .done }
                if let reader = state.reader {
                    state.reader = nil
                    return .handed(reader)
                }
                guard state.count < capacity else { return .full }
                state.queue.append(message)
                return .done
            }
            switch outcome {
            case .done: return
            case .handed(let reader): return reader.resume(returning: message)
            case .full:
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    let waits = state.withLock { state -> Bool in
                        guard !state.finished, state.count >= capacity else { return false }
                        state.writers.append(continuation)
                        return true
                    }
                    if !waits { continuation.resume() }
                }
            }
        }
    }

    /// The next response; `nil` once finished and read out, or when the reading task is
    /// cancelled.
    func next() async -> PeerMessage? {
        await withTaskCancellationHandler {
            await take()
        } onCancel: {
            state.withLock { state in
                defer { state.reader = nil }
                return state.reader
            }?.resume(returning: nil)
        }
    }

    private func take() async -> PeerMessage? {
        await withCheckedContinuation { (continuation: CheckedContinuation<PeerMessage?, Never>) in
            let (message, writer, ended) = state.withLock { state -> (PeerMessage?, CheckedContinuation<Void, Never>?, Bool) in
                guard state.count > 0 else {
                    if state.finished || Task.isCancelled { return (nil, nil, true) }
                    state.reader = continuation
                    return (nil, nil, false)
                }
                let message = state.queue[state.head]
                state.head += 1
                if state.head >= 64, state.head * 2 >= state.queue.count {
                    state.queue.removeFirst(state.head)
                    state.head = 0
                }
                return (message, state.writers.isEmpty ? nil : state.writers.removeFirst(), false)
            }
            writer?.resume()
            if let message {
                continuation.resume(returning: message)
            } else if ended {
                continuation.resume(returning: nil)
            }
        }
    }

    /// Ends the inbox: the reader gets what was queued (none, `droppingQueued`: the
    /// download ended) and then `nil`; waiting writers return.
    func finish(droppingQueued: Bool) {
        let (reader, writers) = state.withLock { state in
            state.finished = true
            if droppingQueued { (state.queue, state.head) = ([], 0) }
            defer { (state.reader, state.writers) = (nil, []) }
            return (state.reader, state.writers)
        }
        reader?.resume(returning: nil)
        for writer in writers { writer.resume() }
    }
}
