/// A test's own failure, with what went wrong: a wait that timed out, an answer that
/// never came.
public struct TestFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
