import Synchronization
import Testing

@testable import FugitiveRTC

/// Two libnice agents in one process on loopback, candidates trickled by the test.
@Suite("ICE", .serialized)
struct IceAgentTests {
    final class Inbox: Sendable {
        let datagrams = Mutex<[[UInt8]]>([])
        func add(_ datagram: UnsafeRawBufferPointer) { datagrams.withLock { $0.append(Array(datagram)) } }
        var all: [[UInt8]] { datagrams.withLock { $0 } }
    }

    /// Forwards `from`'s candidates to `to` until gathering is done; returns when `from`
    /// is ready, or its last state.
    static func drive(_ from: IceAgent, to: IceAgent) async -> IceAgent.State? {
        var last: IceAgent.State?
        for await event in from.events {
            switch event {
            case .candidate(let candidate): try? to.addRemoteCandidate(candidate)
            case .gatheringDone: to.endOfRemoteCandidates()
            case .state(let state):
                last = state
                if state == .ready || state == .failed { return state }
            }
        }
        return last
    }

    static func within<T: Sendable>(_ limit: Duration, _ work: @escaping @Sendable () async -> T) async -> T? {
        await withTaskGroup(of: T?.self) { group in
            group.addTask { await work() }
            group.addTask {
                try? await Task.sleep(for: limit)
                return nil
            }
            let first = await group.next()!
            group.cancelAll()
            return first
        }
    }

    @Test func twoAgentsConnectOnLoopbackAndCarryDatagrams() async throws {
        let loop = GLibEventLoop()
        let loopback = IceAgent.Configuration(localAddresses: ["127.0.0.1"])
        let (aInbox, bInbox) = (Inbox(), Inbox())
        let a = try IceAgent(loop: loop, controlling: true, configuration: loopback, onDatagram: aInbox.add)
        let b = try IceAgent(loop: loop, controlling: false, configuration: loopback, onDatagram: bInbox.add)
        try a.setRemoteCredentials(b.credentials)
        try b.setRemoteCredentials(a.credentials)
        try a.gather()
        try b.gather()
        let states = await Self.within(.seconds(10)) {
            async let aState = Self.drive(a, to: b)
            async let bState = Self.drive(b, to: a)
            return await (aState, bState)
        }
        #expect(states?.0 == .ready)
        #expect(states?.1 == .ready)
        for i in 0..<10 { #expect(a.send([UInt8](repeating: UInt8(i), count: 1000))) }
        #expect(b.send(Array("pong".utf8)))
        let deadline = ContinuousClock.now + .seconds(5)
        while (bInbox.all.count < 10 || aInbox.all.isEmpty) && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(bInbox.all == (0..<10).map { [UInt8](repeating: UInt8($0), count: 1000) })
        #expect(aInbox.all == [Array("pong".utf8)])
        a.close()
        b.close()
    }

    @Test func agentsWithoutAPeerNeverGetReadyAndCloseCleanly() async throws {
        let loop = GLibEventLoop()
        let a = try IceAgent(loop: loop, controlling: true, configuration: .init(localAddresses: ["127.0.0.1"]), onDatagram: { _ in })
        try a.gather()
        var sawCandidate = false
        for await event in a.events {
            if case .candidate(let candidate) = event {
                #expect(candidate.address == "127.0.0.1")
                sawCandidate = true
            }
            if event == .gatheringDone { break }
        }
        #expect(sawCandidate)
        a.close()
        // The event sequence ends once the loop has torn the agent down.
        let ended = await Self.within(.seconds(5)) {
            for await _ in a.events {}
            return true
        }
        #expect(ended == true)
    }
}
