import CLibNice
import Foundation

/// A GLib main context with its loop running on a thread of its own: libnice delivers
/// every signal and received datagram on it. One loop serves any number of agents;
/// work for it is posted with ``perform(_:)``.
public final class GLibEventLoop: @unchecked Sendable {
    // Set once in init, then only handed to GLib, whose context and loop are thread-safe.
    let context: OpaquePointer
    private let loop: OpaquePointer
    private let thread: Thread
    private let stopped = DispatchSemaphore(value: 0)

    public init(name: String = "fugitive-ice") {
        context = g_main_context_new()
        loop = g_main_loop_new(context, 0)
        let (context, loop, stopped) = (CHandle(context), CHandle(loop), stopped)
        thread = Thread {
            g_main_context_push_thread_default(context.pointer)
            g_main_loop_run(loop.pointer)
            g_main_context_pop_thread_default(context.pointer)
            stopped.signal()
        }
        thread.name = name
        thread.start()
    }

    /// Stops the loop once the work already posted has run (agents' teardowns), and
    /// waits for its thread.
    deinit {
        let handle = CHandle(loop)
        perform { g_main_loop_quit(handle.pointer) }
        stopped.wait()
        g_main_loop_unref(loop)
        g_main_context_unref(context)
    }

    /// Runs `work` on the loop's thread, soon.
    public func perform(_ work: @escaping @Sendable () -> Void) {
        let box = Unmanaged.passRetained(WorkBox(work)).toOpaque()
        g_main_context_invoke(
            context,
            { data in
                Unmanaged<WorkBox>.fromOpaque(data!).takeRetainedValue().work()
                return 0  // G_SOURCE_REMOVE
            }, box)
    }

    private final class WorkBox {
        let work: @Sendable () -> Void
        init(_ work: @escaping @Sendable () -> Void) { self.work = work }
    }
}
