import Synchronization

extension DataChannel {
    /// The messages of a channel, in order, for one reader. The sequence ends when the
    /// channel closes, after the messages that had arrived by then.
    ///
    /// What arrived and was not read yet counts against the connection's receive buffer
    /// (``PeerConnection/Configuration/receiveBufferSize``): a reader that falls behind
    /// holds the peer's sends back instead of letting messages pile up. Read every channel
    /// to its end, or close it.
    public struct Messages: AsyncSequence, Sendable {
        public typealias Element = Message
        public typealias Failure = Never

        let inbox: ChannelInbox

        public func makeAsyncIterator() -> Iterator { Iterator(inbox: inbox) }

        public struct Iterator: AsyncIteratorProtocol {
            public typealias Element = Message
            public typealias Failure = Never

            let inbox: ChannelInbox

            /// The next message; `nil` once the channel closed and everything was read,
            /// or when the reading task is cancelled.
            public mutating func next() async -> Message? { await inbox.next() }
        }
    }
}

/// The messages one channel received and its reader has not taken, each with the
/// association it holds receive space of until it is taken.
final class ChannelInbox: Sendable {
    private struct Entry {
        var message: DataChannel.Message
        var held: Int
        var association: SCTPAssociation?
    }

    private struct State {
        var entries: [Entry] = []
        var head = 0
        var reader: CheckedContinuation<DataChannel.Message?, Never>?
        var finished = false
    }

    private let state = Mutex(State())

    /// Queues a message (or hands it to the waiting reader); false once finished.
    func append(_ message: DataChannel.Message, held: Int, from association: SCTPAssociation?) -> Bool {
        let outcome = state.withLock { state -> (accepted: Bool, reader: CheckedContinuation<DataChannel.Message?, Never>?) in
            guard !state.finished else { return (false, nil) }
            // A waiting reader takes it at once: it never counts as held (counting it and
            // releasing after the resume let the reader see it still held).
            if let reader = state.reader {
                state.reader = nil
                return (true, reader)
            }
            association?.hold(held)
            state.entries.append(Entry(message: message, held: held, association: association))
            return (true, nil)
        }
        outcome.reader?.resume(returning: message)
        return outcome.accepted
    }

    /// No more messages; those queued can still be read (`dropQueued`: they are dropped).
    func finish(dropQueued: Bool) {
        let (reader, dropped) = state.withLock { state -> (CheckedContinuation<DataChannel.Message?, Never>?, [Entry]) in
            state.finished = true
            defer { state.reader = nil }
            guard dropQueued else { return (state.reader, []) }
            defer { (state.entries, state.head) = ([], 0) }
            return (state.reader, Array(state.entries[state.head...]))
        }
        reader?.resume(returning: nil)
        for entry in dropped { entry.association?.release(entry.held) }
    }

    func next() async -> DataChannel.Message? {
        enum Now {
            case entry(Entry)
            case end
            case wait
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<DataChannel.Message?, Never>) in
                let now = state.withLock { state -> Now in
                    if state.head < state.entries.count {
                        let entry = state.entries[state.head]
                        state.head += 1
                        // Reclaims the read part now and then, not on every read.
                        if state.head >= 64, state.head * 2 >= state.entries.count {
                            state.entries.removeFirst(state.head)
                            state.head = 0
                        }
                        return .entry(entry)
                    }
                    if state.finished || Task.isCancelled { return .end }
                    state.reader = continuation
                    return .wait
                }
                switch now {
                case .entry(let entry):
                    entry.association?.release(entry.held)
                    continuation.resume(returning: entry.message)
                case .end:
                    continuation.resume(returning: nil)
                case .wait:
                    break
                }
            }
        } onCancel: {
            state.withLock { state in
                defer { state.reader = nil }
                return state.reader
            }?.resume(returning: nil)
        }
    }
}
