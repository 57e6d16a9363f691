import Foundation
import FugitiveServer
import FugitiveServerTesting
import FugitiveWire
import HummingbirdWSClient
import Logging
import NIOSSL
import Testing
extension LiveServerTests {
    /// `wss://`: the server loads a PEM certificate and key and speaks the protocol over TLS.
    @Suite("Live server: TLS")
    struct LiveTLSTests {
        @Test func peersJoinOverWSS() async throws {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fugitive-tls-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            let cert = directory.appendingPathComponent("cert.pem").path
            let key = directory.appendingPathComponent("key.pem").path
            let openssl = Process()
            openssl.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
            openssl.arguments = [
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
                "-subj", "/CN=localhost", "-keyout", key, "-out", cert,
            ]
            openssl.standardError = FileHandle.nullDevice
            try openssl.run()
            openssl.waitUntilExit()
            try #require(openssl.terminationStatus == 0)

            try await LiveServer.with({ $0.tls = .init(certificateChain: cert, privateKey: key) }) { server in
                var tls = TLSConfiguration.makeClientConfiguration()
                tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(cert))
                tls.certificateVerification = .noHostnameVerification
                let codec = WireCodec(limits: .serverLink)
                var configuration = WebSocketClientConfiguration()
                configuration.sniHostname = "localhost"  // SNI cannot carry an IP address
                let welcome = try await WebSocketClient.connect(
                    url: "wss://127.0.0.1:\(server.port)/v1/signal", configuration: configuration, tlsConfiguration: tls,
                    logger: Logger(label: "test.tls")
                ) { inbound, outbound, _ in
                    try await outbound.write(.binary(codec.encode(.hello(Hello(swarm: "tls", targetPeers: 1, maxPeers: 2)))))
                    for try await message in inbound.messages(maxSize: 1 << 16) {
                        if case .binary(let frame) = message, case .welcome = try codec.decodeServerMessage(frame) {
                            try await outbound.close(.normalClosure, reason: nil)
                        }
                    }
                }
                #expect(welcome?.closeCode == .normalClosure)
                #expect(server.server.orchestrator.statistics().counts.errors.isEmpty)
            }
        }
    }
}
