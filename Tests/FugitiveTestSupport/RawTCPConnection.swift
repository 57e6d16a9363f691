import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A plain blocking TCP socket for tests that must control what a client library would
/// not let them: the source address a connection comes from, bytes that are not valid
/// HTTP, unmasked WebSocket frames, connections that never send a request or never read.
/// Blocking calls: use it off the cooperative pool (``waitOffThePool(_:)``) or briefly.
public final class RawTCPConnection: @unchecked Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        public init(description: String) { self.description = description }
    }

    private let descriptor: Int32

    /// Connects to `host`:`port` (IPv4 or IPv6 literals), from `source` when given (an
    /// address of this host: another 127/8 address plays a client at another address).
    public init(to host: String = "127.0.0.1", port: Int, from source: String? = nil) throws {
        // The socket is stored only once it is connected: a class whose initializer throws
        // after every property is set runs its deinit, which would close the number a
        // second time — by then perhaps another component's descriptor.
        let remote = try Self.address(host, port: port)
        let fd = socket(Int32(remote.family), Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: \(String(cString: strerror(errno)))") }
        do {
            if let source {
                let local = try Self.address(source, port: 0)
                try local.storage.withUnsafeBytes { bytes in
                    guard bind(fd, bytes.baseAddress!.assumingMemoryBound(to: sockaddr.self), local.length) == 0 else {
                        throw Failure(description: "bind \(source): \(String(cString: strerror(errno)))")
                    }
                }
            }
            try remote.storage.withUnsafeBytes { bytes in
                guard connect(fd, bytes.baseAddress!.assumingMemoryBound(to: sockaddr.self), remote.length) == 0 else {
                    throw Failure(description: "connect \(host):\(port): \(String(cString: strerror(errno)))")
                }
            }
        } catch {
            close(fd)
            throw error
        }
        // A peer that stops reading fails a send after a while instead of blocking it forever.
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        descriptor = fd
    }

    deinit { close(descriptor) }

    /// Sends all of `bytes`; false once the connection is gone.
    @discardableResult
    public func send(_ bytes: [UInt8]) -> Bool {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { return false }
            sent += n
        }
        return true
    }

    @discardableResult
    public func send(_ text: String) -> Bool { send(Array(text.utf8)) }

    /// Up to `count` bytes; empty at the end of the stream (or a reset), `nil` when
    /// nothing came within `timeout` seconds.
    public func receive(_ count: Int = 65_536, timeout: Double = 5) -> [UInt8]? {
        var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, Int32(max(1, timeout * 1000))) > 0 else { return nil }
        var buffer = [UInt8](repeating: 0, count: count)
        let n = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, count, 0) }
        return n > 0 ? Array(buffer[..<n]) : []
    }

    /// Reads until the peer closes the connection: what came, or `nil` when it was still
    /// open after `timeout` seconds.
    public func readToEnd(timeout: Double) -> [UInt8]? {
        var all: [UInt8] = []
        let deadline = Date().addingTimeInterval(timeout)
        while case let left = deadline.timeIntervalSinceNow, left > 0 {
            guard let chunk = receive(timeout: left) else { return nil }
            if chunk.isEmpty { return all }
            all += chunk
        }
        return nil
    }

    struct SocketAddress {
        var storage: [UInt8]
        var length: socklen_t
        var family: Int32
    }

    static func address(_ host: String, port: Int) throws -> SocketAddress {
        let bare = host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host
        if bare.contains(":") {
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = in_port_t(UInt16(port).bigEndian)
            guard inet_pton(AF_INET6, bare, &address.sin6_addr) == 1 else { throw Failure(description: "not an IPv6 address: \(host)") }
            return SocketAddress(
                storage: withUnsafeBytes(of: address) { Array($0) }, length: socklen_t(MemoryLayout<sockaddr_in6>.size), family: AF_INET6)
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, bare, &address.sin_addr) == 1 else { throw Failure(description: "not an IPv4 address: \(host)") }
        return SocketAddress(storage: withUnsafeBytes(of: address) { Array($0) }, length: socklen_t(MemoryLayout<sockaddr_in>.size), family: AF_INET)
    }
}
