/// Runs `operation`, giving up after `timeout`: `nil` then (and on failure).
func withTimeout<T: Sendable>(_ timeout: Duration, _ operation: @escaping @Sendable () async throws -> T) async -> T? {
    await withTaskGroup(of: T?.self) { group in
        group.addTask { try? await operation() }
        group.addTask {
            try? await Task.sleep(for: timeout)
            return nil
        }
        defer { group.cancelAll() }
        return await group.next() ?? nil
    }
}

/// The first element of `stream`, or `nil` when it ends or `timeout` passes first.
func first<T: Sendable>(of stream: AsyncStream<T>, within timeout: Duration) async -> T? {
    await withTimeout(timeout) { () -> T? in
        for await element in stream { return element }
        return nil
    } ?? nil
}
