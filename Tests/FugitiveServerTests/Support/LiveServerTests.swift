import Testing

/// Every suite that runs real servers, processes and sockets, one test at a time: their
/// timeouts (heartbeats, pair timeouts, hello timeouts) are seconds long, and on a 2-core
/// machine a hostile-input test next to a heartbeat test makes the heartbeat test a
/// test of the scheduler.
@Suite("Live", .serialized) enum LiveServerTests {}
