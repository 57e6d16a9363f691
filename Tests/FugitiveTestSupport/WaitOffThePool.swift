import Foundation

/// Runs blocking work (a socket, a pipe, waiting for a process) on a thread of its own, so
/// that the test's cooperative pool — which the servers under test share, two threads on
/// a 2-core machine — is not held.
public func waitOffThePool<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        Thread.detachNewThread { continuation.resume(returning: work()) }
    }
}

/// The same for work that throws: its error is rethrown here.
public func waitOffThePool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await waitOffThePool { Result { try work() } }.get()
}
