import Foundation
import Testing

@testable import FugitiveRTC

/// DTLS between two sessions in one process, datagrams carried by the test: handshake,
/// data both ways, fingerprint check, retransmission, close, garbage.
@Suite("DTLS")
struct DTLSSessionTests {
    /// Two sessions wired to each other, with a hook to lose datagrams.
    final class Wire {
        let client: DTLSSession
        let server: DTLSSession
        var receivedByClient: [[UInt8]] = []
        var receivedByServer: [[UInt8]] = []

        init(clientExpects: Fingerprint? = nil, serverExpects: Fingerprint? = nil) throws {
            let clientCertificate = try DTLSCertificate()
            let serverCertificate = try DTLSCertificate()
            client = try DTLSSession(
                certificate: clientCertificate, role: .client, remoteFingerprint: clientExpects ?? serverCertificate.fingerprint)
            server = try DTLSSession(
                certificate: serverCertificate, role: .server, remoteFingerprint: serverExpects ?? clientCertificate.fingerprint)
        }

        /// Delivers datagrams back and forth until nobody has anything to say.
        func pump(toServer: [[UInt8]], toClient: [[UInt8]] = [], drop: (Bool, [UInt8]) -> Bool = { _, _ in false }) {
            var (toServer, toClient) = (toServer, toClient)
            while !toServer.isEmpty || !toClient.isEmpty {
                var nextToClient: [[UInt8]] = []
                var nextToServer: [[UInt8]] = []
                for datagram in toServer where !drop(true, datagram) {
                    let delivery = server.receive(datagram)
                    nextToClient += delivery.outgoing
                    receivedByServer += delivery.received
                }
                for datagram in toClient where !drop(false, datagram) {
                    let delivery = client.receive(datagram)
                    nextToServer += delivery.outgoing
                    receivedByClient += delivery.received
                }
                (toServer, toClient) = (nextToServer, nextToClient)
            }
        }
    }

    @Test func handshakeThenDataBothWays() throws {
        let wire = try Wire()
        wire.pump(toServer: wire.client.start())
        #expect(wire.client.state == .connected)
        #expect(wire.server.state == .connected)
        let big = (0..<16_384).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        wire.pump(toServer: try wire.client.send(big), toClient: try wire.server.send(Array("hello".utf8)))
        #expect(wire.receivedByServer == [big])
        #expect(wire.receivedByClient == [Array("hello".utf8)])
        // Starting again does nothing once connected.
        #expect(wire.client.start().isEmpty)
    }

    @Test func aFingerprintThatDoesNotMatchFailsTheSession() throws {
        let stranger = try DTLSCertificate()
        let wire = try Wire(clientExpects: stranger.fingerprint)
        wire.pump(toServer: wire.client.start())
        guard case .failed(let error) = wire.client.state else {
            Issue.record("client state is \(wire.client.state)")
            return
        }
        #expect(error.code == .fingerprintMismatch)
        #expect(throws: RTCError.self) { try wire.client.send([1, 2, 3]) }
        // The server was told (close_notify), so it does not hang on as connected.
        #expect(wire.server.state != .connected)
    }

    @Test func aLostFlightIsRetransmittedAfterTheTimer() async throws {
        let wire = try Wire()
        let first = wire.client.start()
        #expect(!first.isEmpty)
        // The ClientHello is lost; the timer brings it back.
        let delay = try #require(wire.client.retransmissionDelay)
        #expect(delay > .zero && delay <= .seconds(2))
        try await Task.sleep(for: delay + .milliseconds(20))
        let again = wire.client.handleTimeout()
        #expect(!again.isEmpty)
        wire.pump(toServer: again)
        #expect(wire.client.state == .connected)
        #expect(wire.server.state == .connected)
    }

    @Test func garbageIsIgnoredAndCloseIsSeen() throws {
        let wire = try Wire()
        wire.pump(toServer: wire.client.start())
        var generator = SystemRandomNumberGenerator()
        for length in 0..<500 {
            var datagram = (0..<(length % 200)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            // Half of them look like DTLS application-data records.
            if length.isMultiple(of: 2), datagram.count > 13 { datagram[0] = 23; datagram[1] = 0xfe; datagram[2] = 0xfd }
            _ = wire.server.receive(datagram)
        }
        #expect(wire.server.state == .connected)
        wire.pump(toServer: try wire.client.send([42]))
        #expect(wire.receivedByServer == [[42]])
        wire.pump(toServer: wire.client.close())
        #expect(wire.client.state == .closed)
        #expect(wire.server.state == .closed)
    }

    @Test func certificatesRoundTripThroughPEMAndMatchOpenSSLsFingerprint() throws {
        let certificate = try DTLSCertificate()
        let loaded = try DTLSCertificate(certificatePEM: certificate.certificatePEM, privateKeyPEM: certificate.privateKeyPEM)
        #expect(loaded.fingerprint == certificate.fingerprint)
        #expect(try DTLSCertificate().fingerprint != certificate.fingerprint)
        // An independent reading: the openssl command line tool's fingerprint.
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("fugitive-\(UUID()).pem")
        try certificate.certificatePEM.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = ["x509", "-noout", "-fingerprint", "-sha256", "-in", file.path]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        process.waitUntilExit()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        // "sha256 Fingerprint=AB:CD:…"
        let value = try #require(text.split(separator: "=").last).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(value == certificate.fingerprint.sdpValue.split(separator: " ").last.map(String.init))
        #expect(throws: RTCError.self) { try DTLSCertificate(certificatePEM: "nonsense", privateKeyPEM: certificate.privateKeyPEM) }
        let other = try DTLSCertificate()
        #expect(throws: RTCError.self) { try DTLSCertificate(certificatePEM: certificate.certificatePEM, privateKeyPEM: other.privateKeyPEM) }
    }
}
