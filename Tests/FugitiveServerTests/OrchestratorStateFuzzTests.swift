import Foundation
@testable import FugitiveServer
import FugitiveTestSupport
import FugitiveWire
import Testing

/// A stateful fuzzer for the orchestrator's state machine, without sockets: random
/// sequences of valid and hostile messages from many fake peers (joins, resumes, wants
/// naming anyone, one-sided link claims, floods of holdings with long URLs, huge reports,
/// signals to strangers, messages only the server sends), with time moving on, and after
/// every step the invariants: no trap, partners symmetric, nobody paired beyond its
/// maximum, signals only between partners, indexes and the open-peer sets consistent with
/// the sessions, and every configured bound held. Seeded; the seed is printed.
///
/// Runs `FUGITIVE_STATE_FUZZ_SECONDS` (default 3) per run; `make test` gives it a minute
/// beside the decoder fuzzer.
@Suite struct OrchestratorStateFuzzTests {
    static let ids = (0..<24).map { PeerID("p\($0)") }
    static let swarms = ["a", "b", "c"]
    static let addresses = ["198.51.100.1", "198.51.100.2", "203.0.113.9", "2001:db8:1:1::1", "2001:db8:1:1::2", "10.0.0.1"]
    static let digests = (0..<24).map { n in ResourceDigest(bytes: (0..<32).map { UInt8(truncatingIfNeeded: n &* 37 &+ $0) })! }

    @Test func randomSessionsKeepEveryInvariant() throws {
        let seconds = Double(ProcessInfo.processInfo.environment["FUGITIVE_STATE_FUZZ_SECONDS"] ?? "") ?? 3
        let seed = UInt64(ProcessInfo.processInfo.environment["FUGITIVE_STATE_FUZZ_SEED"] ?? "") ?? UInt64.random(in: 0...UInt64.max)
        print("orchestrator state fuzzer: seed \(seed) (FUGITIVE_STATE_FUZZ_SEED), \(seconds) s")
        var configuration = OrchestratorState.Configuration()
        // Small bounds, so that the fuzzer reaches them all the time.
        configuration.holdingsPerPeer = 12
        configuration.holdingBytesPerPeer = 16 << 10
        configuration.holdingBytesPerAddress = 40 << 10
        configuration.maxHoldingBytes = 120 << 10
        configuration.parkedPerAddress = 3
        configuration.maxParkedSessions = 8
        configuration.peersPerSwarm = 10
        configuration.pairBurst = 6
        var random = SplitMix64(seed: seed)
        var state = OrchestratorState(configuration: configuration)
        var now = ContinuousClock.now
        var tokens: [String] = []
        var steps = 0
        var pairsMade = 0
        var links = 0
        // The last steps, to explain a failure.
        var trace: [TraceEntry] = []
        let stop = Date().addingTimeInterval(seconds)
        while Date() < stop {
            for _ in 0..<200 {
                let actions = step(&state, &random, &now, &tokens, &trace)
                if trace.count > 4000 { trace.removeFirst(2000) }
                pairsMade += actions.count { if case .send(_, .pair(let pair)) = $0 { pair.offerer } else { false } }
                links = max(links, state.linkCount)
                do {
                    try check(state, after: actions, configuration: configuration, step: steps, seed: seed)
                } catch let failure as FuzzFailure {
                    let named = Set(failure.peers)
                    print("orchestrator state fuzzer: the last steps of \(named.sorted()):")
                    for line in trace.suffix(400).map(\.description) where !named.isDisjoint(with: FuzzFailure(line).peers) {
                        print("  " + line.prefix(300))
                    }
                    throw failure
                }
                steps += 1
            }
        }
        print(
            "orchestrator state fuzzer: \(steps) steps (\(pairsMade) pairs made, \(links) links confirmed), \(state.peerCount) peers, \(state.parked.count) parked, \(state.holdingBytes) holding bytes at the end"
        )
        #expect(steps > 1000)
        #expect(pairsMade > 0 && links > 0, "the fuzzer never reached pairing and links")
    }

    func step(
        _ state: inout OrchestratorState, _ random: inout SplitMix64, _ now: inout ContinuousClock.Instant, _ tokens: inout [String],
        _ trace: inout [TraceEntry]
    ) -> [OrchestratorState.Action] {
        let actions = randomStep(&state, &random, &now, &tokens, &trace)
        trace[trace.count - 1].actions = actions
        return actions
    }

    func randomStep(
        _ state: inout OrchestratorState, _ random: inout SplitMix64, _ now: inout ContinuousClock.Instant, _ tokens: inout [String],
        _ trace: inout [TraceEntry]
    ) -> [OrchestratorState.Action] {
        let id = Self.ids.randomElement(using: &random)!
        let other = Self.ids.randomElement(using: &random)!
        now += .milliseconds(Int.random(in: 0...300, using: &random))
        let live = state.sessions[id] != nil
        let kind = Int.random(in: 0..<100, using: &random)
        trace.append(TraceEntry(step: "\(id) \(kind) \(other)"))
        switch kind {
        // The server's ids are random and never reused: a parked id is not given out again.
        case 0..<24 where !live && !state.parked.values.contains(where: { $0.id == id }):
            let resume = Bool.random(using: &random) ? tokens.randomElement(using: &random) : nil
            let hello = Hello(
                swarm: Self.swarms.randomElement(using: &random)!, targetPeers: 0, maxPeers: Int.random(in: 0...4, using: &random),
                resumeToken: resume)
            let token = "t\(UInt32.random(in: 0...UInt32.max, using: &random))"
            guard
                let (welcome, actions) = try? state.connect(
                    hello, address: NetworkAddress(Self.addresses.randomElement(using: &random)!), newID: id, newToken: token, now: now)
            else { return [] }
            trace[trace.count - 1].step += " hello \(hello.swarm) \(resume ?? "-") = \(welcome.peer) \(welcome.resumeToken)"
            tokens.append(welcome.resumeToken)
            if tokens.count > 64 { tokens.removeFirst() }
            return actions
        case 24..<29:
            return state.disconnect(id, now: now, park: Bool.random(using: &random))
        case 29..<32:
            return state.expire(now: now + .seconds(Int.random(in: 0...30, using: &random)))
        case 32..<44 where live:
            // The honest half of a link: a peer confirms a pair it was given.
            guard let partner = state.sessions[id]!.pending.keys.sorted(by: { $0.rawValue < $1.rawValue }).randomElement(using: &random)
            else { return [] }
            return state.receive(.link(LinkReport(peer: partner, state: .connected, rttMillis: 5)), from: id, now: now)
        default:
            guard live else { return [] }
            let message = message(&random, other: other)
            trace[trace.count - 1].message = message
            return state.receive(message, from: id, now: now)
        }
    }

    func message(_ random: inout SplitMix64, other: PeerID) -> ServerMessage {
        let digest = Self.digests.randomElement(using: &random)!
        let url = "https://o.example/" + String(repeating: "x", count: Int.random(in: 0...3000, using: &random))
        switch Int.random(in: 0..<14, using: &random) {
        case 0, 1:
            return .want(Want(count: Int.random(in: 0...6, using: &random), digests: [digest], peers: Bool.random(using: &random) ? [other] : nil))
        case 2, 3:
            let states: [LinkState] = [.connected, .connected, .disconnected, .failed]
            return .link(
                LinkReport(
                    peer: other, state: states.randomElement(using: &random)!,
                    rttMillis: Bool.random(using: &random) ? Double.random(in: 0...500, using: &random) : nil))
        case 4, 5:
            let count = Int.random(in: 1...20, using: &random)
            return .have(Have(holdings: (0..<count).map { _ in Holding(digest: Self.digests.randomElement(using: &random)!, url: url, size: 1) }))
        case 6: return .drop(Drop(digests: [digest]))
        case 7:
            return .whoHas(Bool.random(using: &random) ? WhoHas(requestID: 1, digest: digest, limit: 8) : WhoHas(requestID: 2, url: url, limit: 8))
        case 8:
            let values: [UInt64] = [0, 1, 1 << 40, 1 << 63, .max]
            return .report(
                DeliveryReport(
                    fromOrigin: values.randomElement(using: &random)!, fromPeers: values.randomElement(using: &random)!,
                    served: values.randomElement(using: &random)!, servedRelayed: values.randomElement(using: &random)!))
        case 9, 10: return .signal(Signal(peer: other, kind: .candidate, candidate: "c", mid: "0"))
        case 11: return .hello(Hello(swarm: "a", targetPeers: 1, maxPeers: 1))
        case 12: return .pair(Pair(peer: other, offerer: true))
        default: return .ping(Heartbeat(nonce: 1))
        }
    }

    func check(
        _ state: OrchestratorState, after actions: [OrchestratorState.Action], configuration: OrchestratorState.Configuration, step: Int, seed: UInt64
    ) throws {
        func fail(_ what: String) throws { throw FuzzFailure("step \(step), seed \(seed): \(what)") }
        var members: [String: Set<PeerID>] = [:]
        var bytesByAddress: [NetworkAddress?: Int] = [:]
        var total = 0
        for (id, session) in state.sessions {
            members[session.swarm, default: []].insert(id)
            if session.connected.count + session.pending.count > session.max { try fail("\(id) has more partners than its maximum \(session.max)") }
            if session.held.count > configuration.holdingsPerPeer || session.heldBytes > configuration.holdingBytesPerPeer {
                try fail("\(id) holds \(session.held.count) / \(session.heldBytes) bytes")
            }
            let cost = session.held.values.reduce(0) { $0 + HoldingLedger.cost(of: $1) }
            if cost != session.heldBytes { try fail("\(id) is charged \(session.heldBytes), holds \(cost)") }
            bytesByAddress[state.limitKey(session.address), default: 0] += cost
            total += cost
            if state.sessionByToken[session.resumeToken] != id { try fail("\(id)'s token does not lead back to it") }
            if session.unreachable.count > OrchestratorState.unreachableMemory {
                try fail("\(id) remembers \(session.unreachable.count) failed pairs")
            }
            for partner in session.partners {
                guard let other = state.sessions[partner] else {
                    // A link kept for a parked session's resume, and only that.
                    let keptFor = state.parked.values.first { $0.id == partner }
                    if keptFor?.links.contains(id) != true || !session.connected.contains(partner) {
                        try fail("\(id) is partnered with \(partner), who has no session and no parked one keeping the link")
                    }
                    continue
                }
                if other.swarm != session.swarm { try fail("\(id) and \(partner) are partners across swarms") }
                if session.connected.contains(partner) != other.connected.contains(id)
                    || (session.pending[partner] != nil) != (other.pending[id] != nil)
                {
                    try fail("\(id) and \(partner) disagree about their partnership")
                }
            }
            let open = state.open[session.swarm]?.contains(id) ?? false
            if open != (session.freeSlots > 0) { try fail("\(id) open \(open) with \(session.freeSlots) free slots") }
        }
        for parked in state.parked.values {
            let cost = parked.held.reduce(0) { $0 + HoldingLedger.cost(of: $1) }
            bytesByAddress[state.limitKey(parked.address), default: 0] += cost
            total += cost
        }
        for peer in state.measured.keys where state.sessions[peer] == nil {
            try fail("\(peer) has no session but is measured (with \(state.measured[peer]!.sorted { $0.rawValue < $1.rawValue }))")
        }
        if members != state.members { try fail("swarm members differ from the sessions") }
        if total != state.holdingBytes { try fail("ledger \(state.holdingBytes) bytes, holdings \(total)") }
        if total > configuration.maxHoldingBytes { try fail("\(total) holding bytes in total") }
        for (address, bytes) in bytesByAddress where bytes > configuration.holdingBytesPerAddress {
            try fail("\(String(describing: address)) holds \(bytes) bytes")
        }
        if state.parked.count > configuration.maxParkedSessions { try fail("\(state.parked.count) parked sessions") }
        for (address, tokens) in state.ledger.parkedByAddress where tokens.count > configuration.parkedPerAddress {
            try fail("\(String(describing: address)) has \(tokens.count) parked sessions")
        }
        for swarm in Self.swarms {
            for digest in Self.digests {
                let indexed = state.indexes[swarm]?.holders(of: digest, url: nil).peers ?? []
                let holding = Set(state.sessions.values.filter { $0.swarm == swarm && $0.held[digest] != nil }.map(\.id))
                if indexed != holding {
                    try fail("index of \(swarm) says \(indexed.sorted { $0.rawValue < $1.rawValue }) hold \(digest), sessions say \(holding)")
                }
            }
        }
        for action in actions {
            if case .send(let to, .signal(let signal)) = action, state.sessions[to]?.isPartner(signal.peer) != true {
                try fail("a signal from \(signal.peer) went to \(to), not its partner")
            }
            if case .send(let to, .pair(let pair)) = action, state.sessions[to]?.swarm != state.sessions[pair.peer]?.swarm {
                try fail("\(to) was paired across swarms")
            }
        }
    }
}

/// One step of the fuzzer, described only when a failure needs it.
struct TraceEntry: CustomStringConvertible {
    var step: String
    var message: ServerMessage?
    var actions: [OrchestratorState.Action] = []

    var description: String {
        step + (message.map { " \($0)" } ?? "") + " -> " + actions.map { "\($0)" }.joined(separator: "; ")
    }
}

struct FuzzFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }

    /// The peers the failure names (`p` and a number).
    var peers: [String] {
        description.split(whereSeparator: { !$0.isLetter && !$0.isNumber }).map(String.init).filter {
            $0.first == "p" && $0.count > 1 && $0.dropFirst().allSatisfy(\.isNumber)
        }
    }
}
