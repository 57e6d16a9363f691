/// How far a fetch's transfer has come, for progress bars. Reported, when a reporter is
/// set for the fetching task (``Peer/fetch(_:digest:deadline:progress:)``), by the transfer
/// that won: chunk by chunk from a peer, buffer by buffer from the origin.
public enum FetchProgress {
    public struct Report: Sendable, Hashable {
        /// Bytes received so far (as transferred: deflated bytes count as sent).
        public var receivedBytes: Int
        /// Bytes the transfer will bring, when announced.
        public var totalBytes: Int?
        /// `peer` or `origin`.
        public var source: String
    }

    /// The reporter of the current task (and its child tasks).
    @TaskLocal public static var reporter: (@Sendable (Report) -> Void)?
}
