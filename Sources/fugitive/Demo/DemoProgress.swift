import Foundation

/// Live progress on a terminal: one aggregate bar and one bar per peer, redrawn in place;
/// elsewhere (a pipe, a log) a line whenever a peer finishes.
struct DemoProgress: Sendable {
    let peers: Int
    let resources: Int
    let live: Bool
    /// Nothing at all (the summary is JSON on standard output).
    var quiet = false

    func render(until done: @Sendable () -> Bool, snapshot: @Sendable () -> DemoSwarm.Snapshot) async {
        var drawn = 0
        var reported = Set<Int>()
        while true {
            let finished = done()
            let state = snapshot()
            if quiet {
                // Nothing to show.
            } else if live {
                var lines: [String] = []
                let total = state.fetched.reduce(0, +)
                lines.append(
                    "all     \(Self.bar(total, of: peers * resources, width: 30)) \(total)/\(peers * resources)  "
                        + "peers \(Self.megabytes(state.peerBytes)) MB · origin \(Self.megabytes(state.originBytes)) MB · failures \(state.failures)")
                for index in 0..<peers {
                    let label = "peer \(index + 1)".padding(toLength: 8, withPad: " ", startingAt: 0)
                    lines.append(
                        "\(label)\(Self.bar(state.fetched[index], of: resources, width: 30)) \(state.fetched[index])/\(resources)  links \(state.links[index])"
                    )
                }
                // Back to the top of what was drawn last time, then over it.
                if drawn > 0 { print("\u{1B}[\(drawn)A", terminator: "") }
                for line in lines { print("\u{1B}[2K" + line) }
                drawn = lines.count
                fflush(nil)
            } else {
                for index in 0..<peers where state.fetched[index] == resources && !reported.contains(index) {
                    reported.insert(index)
                    print("peer \(index + 1): \(resources)/\(resources) fetched, \(state.links[index]) links")
                }
            }
            if finished { return }
            try? await Task.sleep(for: .milliseconds(200))
        }
    }

    static func bar(_ value: Int, of total: Int, width: Int) -> String {
        let filled = total == 0 ? width : min(width, value * width / total)
        return "[" + String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled) + "]"
    }

    static func megabytes(_ bytes: Int) -> String { String(format: "%.1f", Double(bytes) / 1e6) }
}
