import COpenSSL

/// An OpenSSL BIO that keeps datagram boundaries, which a memory BIO does not: each
/// write is one outgoing datagram, each read returns at most the one datagram being
/// fed. DTLS must see datagrams whole (it sizes its flights to the MTU and discards a
/// record that a merged read would split).
///
/// The BIO's method table and the BIO itself belong to this object; the BIO reaches it
/// through an unretained pointer, valid because the ``DTLSSession`` that owns both frees
/// the SSL (and with it the BIO) before this object goes away.
final class DatagramBIO {
    /// Datagrams OpenSSL wrote, oldest first, waiting to be taken.
    private(set) var outgoing: [[UInt8]] = []
    /// Where writes go instead of `outgoing` while ``emitting(to:_:)`` runs: the data
    /// path hands each encrypted datagram on without copying it.
    private var sink: ((UnsafeRawBufferPointer) -> Void)?
    /// The datagram the next read returns; it belongs to the caller of ``feed(_:)`` and
    /// stays valid until ``discardIncoming()``.
    private var incoming: UnsafeRawBufferPointer?
    private let method: OpaquePointer
    /// The BIO; owned by the SSL once handed to `SSL_set_bio`.
    let bio: OpaquePointer

    init() throws(RTCError) {
        guard let method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "fugitive datagram") else {
            throw RTCError(.tlsSetup, "cannot create a BIO method\(OpenSSLErrors.drain())")
        }
        BIO_meth_set_write(method) { bio, data, length in
            guard let bio, let data, length >= 0 else { return -1 }
            let this = DatagramBIO.from(bio)
            let datagram = UnsafeRawBufferPointer(start: data, count: Int(length))
            if let sink = this.sink { sink(datagram) } else { this.outgoing.append(Array(datagram)) }
            return length
        }
        BIO_meth_set_read(method) { bio, buffer, capacity in
            guard let bio, let buffer else { return -1 }
            BIO_clear_flags(bio, BIO_FLAGS_READ | BIO_FLAGS_SHOULD_RETRY)
            let this = DatagramBIO.from(bio)
            guard let datagram = this.incoming else {
                // Nothing yet: "try again", which OpenSSL reports as SSL_ERROR_WANT_READ.
                BIO_set_flags(bio, BIO_FLAGS_READ | BIO_FLAGS_SHOULD_RETRY)
                return -1
            }
            this.incoming = nil
            // A datagram larger than the buffer is truncated, as a UDP socket would.
            let count = min(datagram.count, Int(capacity))
            if count > 0 { UnsafeMutableRawPointer(buffer).copyMemory(from: datagram.baseAddress!, byteCount: count) }
            return Int32(count)
        }
        BIO_meth_set_ctrl(method) { _, command, _, _ in
            switch command {
            // Writes are sent at once; there is never anything pending.
            case BIO_CTRL_FLUSH: 1
            case BIO_CTRL_PENDING, BIO_CTRL_WPENDING: 0
            // DTLS asks for the path MTU (we set it explicitly) and overheads: none known.
            default: 0
            }
        }
        BIO_meth_set_create(method) { bio in
            BIO_set_init(bio, 1)
            return 1
        }
        guard let bio = BIO_new(method) else {
            BIO_meth_free(method)
            throw RTCError(.tlsSetup, "cannot create a BIO\(OpenSSLErrors.drain())")
        }
        self.method = method
        self.bio = bio
        BIO_set_data(bio, Unmanaged.passUnretained(self).toOpaque())
    }

    deinit {
        // The BIO itself was freed with the SSL that owned it.
        BIO_meth_free(method)
    }

    /// Makes `datagram` the next thing OpenSSL reads; it must stay valid until
    /// ``discardIncoming()``.
    func feed(_ datagram: UnsafeRawBufferPointer) { incoming = datagram }

    /// Runs `body` with every datagram OpenSSL writes meanwhile going to `sink`.
    func emitting<T>(to sink: (UnsafeRawBufferPointer) -> Void, _ body: () -> T) -> T {
        withoutActuallyEscaping(sink) { sink in
            self.sink = sink
            defer { self.sink = nil }
            return body()
        }
    }

    /// Forgets a datagram OpenSSL did not read.
    func discardIncoming() { incoming = nil }

    /// Takes the datagrams written so far.
    func takeOutgoing() -> [[UInt8]] {
        defer { outgoing = [] }
        return outgoing
    }

    private static func from(_ bio: OpaquePointer) -> DatagramBIO {
        Unmanaged<DatagramBIO>.fromOpaque(BIO_get_data(bio)).takeUnretainedValue()
    }
}
