import Crypto
import Foundation

/// Debian's coturn, run by the lab with a configuration of its own in the lab's service
/// namespace: STUN and TURN on UDP and TCP port 3478 and TURN over TLS on 5349, with the
/// TURN REST API's shared secret (`use-auth-secret`), as deployments run it beside an
/// orchestrator that mints short-lived credentials.
public final class LabTurnServer: Sendable {
    public let address: String
    public let port = 3478
    public let tlsPort = 5349
    public let secret: String
    public let realm = "fugitive.test"
    let directory: URL
    let process: Process

    /// Starts coturn in `lab`'s service namespace on `address` and waits until its UDP,
    /// TCP and TLS listeners are up. Two servers in one lab (a fail-over) need two `name`s.
    public init(
        in lab: InternetLab, address: String = InternetLab.serviceAddresses[0], secret: String = "lab-turn-secret", name: String = "turn"
    ) async throws {
        self.address = address
        self.secret = secret
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("fgn-\(name)-\(lab.tag)")
        try? FileManager.default.removeItem(at: directory)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let certificate = directory.appendingPathComponent("turn.pem").path
        let key = directory.appendingPathComponent("turn.key").path
        try LabShell.run([
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
            "-subj", "/CN=turn.fugitive.test", "-keyout", key, "-out", certificate,
        ])
        let configuration = """
            listening-ip=\(address)
            relay-ip=\(address)
            listening-port=\(port)
            tls-listening-port=\(tlsPort)
            min-port=49152
            max-port=65535
            realm=\(realm)
            use-auth-secret
            static-auth-secret=\(secret)
            fingerprint
            cert=\(certificate)
            pkey=\(key)
            no-dtls
            no-cli
            no-rfc5780
            userdb=\(directory.appendingPathComponent("turndb").path)
            pidfile=\(directory.appendingPathComponent("turn.pid").path)
            log-file=stdout
            simple-log
            verbose

            """
        let file = directory.appendingPathComponent("turnserver.conf")
        try Data(configuration.utf8).write(to: file)
        process = lab.process(in: lab.serviceNamespace, "/usr/bin/turnserver", ["-c", file.path])
        let logPath = directory.appendingPathComponent("turn.log").path
        FileManager.default.createFile(atPath: logPath, contents: nil)
        guard let logFile = FileHandle(forWritingAtPath: logPath) else { throw LabFailure("cannot write \(logPath)") }
        process.standardOutput = logFile
        process.standardError = logFile
        try process.run()
        let deadline = ContinuousClock.now + .seconds(10)
        while true {
            let listening = (try? lab.run(in: lab.serviceNamespace, ["ss", "-Hlnut"])) ?? ""
            let up =
                [":\(port) ", ":\(tlsPort) "].allSatisfy { listening.contains(address + $0) }
                && listening.split(whereSeparator: \.isNewline).contains { $0.hasPrefix("udp") && $0.contains("\(address):\(port)") }
            if up { break }
            guard process.isRunning, ContinuousClock.now < deadline else {
                throw LabFailure("coturn did not start: \(self.log)")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// What coturn wrote so far.
    public var log: String {
        (try? String(contentsOf: directory.appendingPathComponent("turn.log"), encoding: .utf8)) ?? ""
    }

    /// A credential of the TURN REST API scheme, as an orchestrator mints one: username
    /// `EXPIRY:NAME`, password base64(HMAC-SHA1(secret, username)).
    public func credential(for name: String, validFor seconds: Int = 3600) -> (username: String, credential: String) {
        let username = "\(Int(Date().timeIntervalSince1970) + seconds):\(name)"
        let mac = HMAC<Insecure.SHA1>.authenticationCode(for: Data(username.utf8), using: SymmetricKey(data: Data(secret.utf8)))
        return (username, Data(mac).base64EncodedString())
    }

    /// Ends coturn (its namespace goes with the lab) and deletes its files.
    public func stop() {
        if let keep = ProcessInfo.processInfo.environment["FUGITIVE_LAB_KEEP_TURN_LOG"] {
            try? log.write(toFile: keep, atomically: true, encoding: .utf8)
        }
        if process.isRunning {
            process.terminate()
            // coturn busy relaying may sit on SIGTERM for good (seen in the lab): a server
            // that does not end within 2 s is killed.
            let deadline = Date().addingTimeInterval(2)
            while process.isRunning, Date() < deadline { usleep(20_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: directory)
    }
}
