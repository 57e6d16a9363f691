import Foundation

/// Test videos made from ffmpeg's test source with Debian's `ffmpeg` (scripts/bootstrap
/// installs it).
public enum TestVideo {
    /// A video of `seconds` at `size` (`WxH`) and `rate` frames a second, encoded with
    /// `encoding` (ffmpeg's output options) into a file of type `fileExtension`.
    /// The encoding waits off the cooperative pool: the tests beside it keep their threads.
    public static func make(seconds: Int, size: String, rate: Int, encoding: [String], fileExtension: String) async throws -> [UInt8] {
        let path = NSTemporaryDirectory() + "fugitive-test-\(UUID().uuidString).\(fileExtension)"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/ffmpeg")
        process.arguments =
            ["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc=duration=\(seconds):size=\(size):rate=\(rate)"] + encoding + [
                path
            ]
        process.standardError = FileHandle.nullDevice
        try process.run()
        await waitOffThePool { process.waitUntilExit() }
        guard process.terminationStatus == 0, let data = FileManager.default.contents(atPath: path) else {
            throw TestFailure("ffmpeg could not make the test video (scripts/bootstrap installs it)")
        }
        return Array(data)
    }
}
