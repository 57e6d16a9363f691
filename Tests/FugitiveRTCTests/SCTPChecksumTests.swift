import CFugitiveRTCShim
import CUsrsctp
import Testing

/// The outbound SCTP checksum is computed by us (usrsctp's CRC32c offload is on), with
/// the CPU's instruction where there is one: it must equal usrsctp's own, bit for bit,
/// or every peer that verifies it (aiortc, browsers) drops every packet.
@Suite("SCTP checksum")
struct SCTPChecksumTests {
    @Test func equalsUsrsctpsForEveryLengthAndAlignment() {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<20_000).map { _ in UInt8.random(in: 0...255, using: &generator) }
        bytes.withUnsafeBytes { buffer in
            let lengths = Array(0...40) + [63, 64, 65, 1_135, 1_200, 8_191, 16_384, 19_990]
            for offset in 0..<8 {
                for length in lengths {
                    let slice = UnsafeRawBufferPointer(rebasing: buffer[offset..<(offset + length)])
                    let ours = fugitive_crc32c(slice.baseAddress, length)
                    let theirs = usrsctp_crc32c(UnsafeMutableRawPointer(mutating: slice.baseAddress), length)
                    #expect(ours == theirs, "offset \(offset), length \(length)")
                }
            }
        }
    }

    /// RFC 3720 B.4's test vector: 32 zero bytes have the CRC32c whose bytes on the
    /// wire are aa 36 91 8a.
    @Test func matchesTheStandardTestVector() {
        let zeros = [UInt8](repeating: 0, count: 32)
        var value = zeros.withUnsafeBytes { fugitive_crc32c($0.baseAddress, 32) }
        let wire = withUnsafeBytes(of: &value) { Array($0) }
        #expect(wire == [0xaa, 0x36, 0x91, 0x8a])
    }
}
