/// How far a fetch's transfer has come, for progress bars. Reported, when the caller passes
/// a ``Reporter`` (``Peer/fetch(_:digest:deadline:progress:)``), by the transfer that won:
/// chunk by chunk from a peer, buffer by buffer from the origin. Passed down explicitly
/// rather than as a task-local value: a `@TaskLocal` here crashed release builds
/// (`swift_task_localValuePush` in `Peer.fetch(progress:)`).
public enum FetchProgress {
    public struct Report: Sendable, Hashable {
        /// Bytes received so far (as transferred: deflated bytes count as sent).
        public var receivedBytes: Int
        /// Bytes the transfer will bring, when announced.
        public var totalBytes: Int?
        /// `peer` or `origin`.
        public var source: String
    }

    /// Receives reports; called from the transfer's task.
    public typealias Reporter = @Sendable (Report) -> Void
}
