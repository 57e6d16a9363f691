import Testing

/// The cluster's live suites (two orchestrator instances on one PostgreSQL), one at a
/// time: their heartbeats and expiries are timed.
@Suite("Live cluster", .serialized) enum LiveClusterSuites {}
