/// A C handle carried across threads where the C library itself guarantees the use is
/// safe (GLib contexts and loops, libnice agents are thread-safe objects).
struct CHandle: @unchecked Sendable {
    let pointer: OpaquePointer
    init(_ pointer: OpaquePointer) { self.pointer = pointer }
}
