import CFugitiveRTCShim
import CUsrsctp
import Foundation

/// usrsctp's process-wide part: initialised once, in the mode without its own threads
/// (as root, `usrsctp_init` would also open raw sockets and start threads reading
/// them), with one thread of ours driving its timers every 10 ms. This is the only
/// global state of the WebRTC stack.
enum SCTPStack {
    static let tickMilliseconds: UInt32 = 10

    /// Starts the stack the first time it is called; later calls do nothing.
    static func start() { _ = started }

    private static let started: Bool = {
        fugitive_usrsctp_init(SCTPStack.output, 0)
        // Every packet arrives inside a DTLS record whose AEAD tag already proved it
        // intact, so checking CRC32c again on input is wasted work (browsers skip it
        // too). With the offload on, usrsctp also leaves outbound checksums to us:
        // `output` computes them, since the other side may still check.
        usrsctp_enable_crc32c_offload()
        // Explicit congestion notification is not negotiated by browsers.
        usrsctp_sysctl_set_sctp_ecn_enable(0)
        // Large windows: loopback and LAN transfers are limited by these, not the path.
        usrsctp_sysctl_set_sctp_sendspace(4 << 20)
        usrsctp_sysctl_set_sctp_recvspace(4 << 20)
        // A send is also refused once 512 chunks wait (the default), whatever the bytes:
        // in 1200-byte packets that is 34 messages of 16 KiB, 0.5 MiB of a 4 MiB buffer.
        // Enough chunks to fill the buffer with 1200-byte packets' worth of data each.
        usrsctp_sysctl_set_sctp_max_chunks_on_queue(4096)
        // A vanished peer is noticed in ~15 s, not minutes: a heartbeat every 2 s, and
        // four unanswered retransmissions (1 + 2 + 4 + 5 + 5 s at most) end the
        // association. A swarm has other peers; waiting longer on a dead one costs more
        // than reconnecting to a slow one.
        usrsctp_sysctl_set_sctp_rto_max_default(5_000)
        usrsctp_sysctl_set_sctp_init_rto_max_default(5_000)
        usrsctp_sysctl_set_sctp_heartbeat_interval_default(2_000)
        usrsctp_sysctl_set_sctp_assoc_rtx_max_default(4)
        usrsctp_sysctl_set_sctp_path_rtx_max_default(4)
        usrsctp_sysctl_set_sctp_delayed_sack_time_default(20)
        let thread = Thread {
            // usrsctp's clock advances only by what we report: report the time that
            // really passed, or a busy machine would slow every SCTP timer down.
            var last = ContinuousClock.now
            while true {
                usleep(tickMilliseconds * 1000)
                let now = ContinuousClock.now
                let elapsed = (now - last).components
                let milliseconds = UInt32(clamping: elapsed.seconds * 1000 + elapsed.attoseconds / 1_000_000_000_000_000)
                guard milliseconds > 0 else { continue }
                last = now
                usrsctp_handle_timers(milliseconds)
            }
        }
        thread.name = "fugitive-sctp-timers"
        thread.start()
        return true
    }()

    /// usrsctp has a packet for the association registered under `address`.
    private static let output: @convention(c) (UnsafeMutableRawPointer?, UnsafeMutableRawPointer?, Int, UInt8, UInt8) -> Int32 = {
        address, buffer, length, _, _ in
        guard let address, let buffer, length >= 12 else { return -1 }
        // The buffer is usrsctp's copy of the packet, freed when we return: the common
        // header's checksum (bytes 8..<12), computed over the packet with the field
        // zeroed, is written into it in place, as usrsctp would have stored it.
        buffer.storeBytes(of: 0, toByteOffset: 8, as: UInt32.self)
        buffer.storeBytes(of: fugitive_crc32c(buffer, length), toByteOffset: 8, as: UInt32.self)
        let packet = UnsafeRawBufferPointer(start: buffer, count: length)
        return SCTPAssociation.from(address).transmit(packet) ? 0 : -1
    }
}
