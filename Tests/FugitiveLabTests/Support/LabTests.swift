import Testing

/// Every suite that builds a network lab, one test at a time: the labs share the public
/// segment's addresses (the test's name server binds 11.77.0.1:53) and, on 2 cores, two
/// labs at once would measure the scheduler.
@Suite("Network lab", .serialized) enum LabTests {}
