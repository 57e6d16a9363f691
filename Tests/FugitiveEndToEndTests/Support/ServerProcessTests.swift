import Testing

/// The suites that run `fugitive server` processes (some in network namespaces of their
/// own), one at a time: each waits on the process's timers and sockets, and two labs at
/// once on 2 cores measure the scheduler.
@Suite("Server processes", .serialized) enum ServerProcessTests {}
