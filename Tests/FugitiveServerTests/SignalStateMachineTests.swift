import FugitiveWire
import NIOCore
import NIOEmbedded
import NIOWebSocket
import Prometheus
import Logging
import Testing

@testable import FugitiveServer

/// The signalling connection's state machine, and its handler on an `EmbeddedChannel`:
/// no socket, every transition checked.
@Suite("Signal connection state machine")
struct SignalStateMachineTests {
    final class Link {}
    typealias Machine = SignalStateMachine<Link>

    static let hello = ServerMessage.hello(Hello(swarm: "s", targetPeers: 2, maxPeers: 8))
    static let ping = ServerMessage.ping(Heartbeat(nonce: 1))

    @Test func helloComesFirstThenMessagesGoToThePeer() {
        var refused = Machine(admitted: Link())
        guard case .fail(let error) = refused.messageReceived(Self.ping) else { Issue.record("a ping before hello passed"); return }
        #expect(error.code == .unexpectedMessage)

        let link = Link()
        var machine = Machine(admitted: link)
        #expect(machine.isOpen && machine.peer == nil && machine.joinable === link)
        guard case .hello(_, let helloLink) = machine.messageReceived(Self.hello) else { Issue.record("hello not recognised"); return }
        #expect(helloLink === link)
        #expect(machine.joined("p1").isEmpty)
        #expect(machine.peer == "p1" && machine.joinable == nil)
        guard case .deliver(let message, let id, let to) = machine.messageReceived(Self.ping) else { Issue.record("not delivered"); return }
        #expect(message == Self.ping && id == "p1" && to === link)
        // A second hello is a message like any other for the joined peer (the orchestrator refuses it).
        guard case .deliver = machine.messageReceived(Self.hello) else { Issue.record("a second hello was not handed on"); return }
    }

    @Test func aResumeKeepsEarlyMessagesInOrderAndBounded() {
        var machine = Machine(admitted: Link())
        _ = machine.messageReceived(Self.hello)
        machine.lookUpStarted()
        let early = (1...3).map { ServerMessage.ping(Heartbeat(nonce: $0)) }
        for message in early {
            guard case .none = machine.messageReceived(message) else { Issue.record("an early message was not kept"); return }
        }
        #expect(machine.joined("p2") == early)

        var flooded = Machine(admitted: Link())
        _ = flooded.messageReceived(Self.hello)
        flooded.lookUpStarted()
        for _ in 0..<Machine.maxEarlyMessages { _ = flooded.messageReceived(Self.ping) }
        guard case .fail(let error) = flooded.messageReceived(Self.ping) else { Issue.record("early messages unbounded"); return }
        #expect(error.code == .rateLimited)
    }

    @Test func closeFramesAreAnsweredWithCodesTheWireAllows() {
        let answers: [(UInt16?, UInt16)] = [
            (nil, 1000), (1000, 1000), (1001, 1001), (1003, 1003), (1007, 1007), (1011, 1011), (3000, 3000), (4999, 4999),
            // Reserved, never on the wire, or out of range: a protocol error.
            (1004, 1002), (1005, 1002), (1006, 1002), (1015, 1002), (999, 1002), (2000, 1002), (5000, 1002),
        ]
        for (sent, expected) in answers {
            var machine = Machine(admitted: Link())
            let action = machine.closeFrameReceived(code: sent.map { WebSocketErrorCode(codeNumber: Int($0)) })
            #expect(action == .answer(WebSocketErrorCode(codeNumber: Int(expected))), "close \(sent.map(String.init) ?? "without code")")
            #expect(!machine.isOpen)
            // The peer's answer to our close, or a second close: the socket closes.
            #expect(machine.closeFrameReceived(code: nil) == .closeSocket)
        }
    }

    @Test func afterACloseNothingIsReadAndTheSessionEndsOnce() {
        let link = Link()
        var machine = Machine(admitted: link)
        _ = machine.messageReceived(Self.hello)
        _ = machine.joined("p3")
        machine.closeFrameSent()
        #expect(!machine.isOpen && machine.joinable == nil)
        guard case .none = machine.messageReceived(Self.ping) else { Issue.record("read after the close"); return }
        machine.pingReceived(ByteBuffer(string: "late"))
        #expect(machine.takePendingPong() == nil)
        let ending = machine.ended()
        #expect(ending?.link === link && ending?.peer == "p3")
        #expect(machine.ended() == nil)

        // A refused connection holds no link: nothing to end.
        var refused = Machine(admitted: nil)
        #expect(!refused.isOpen && refused.link == nil)
        #expect(refused.ended() == nil)
    }

    @Test func onlyTheLatestPingIsAnswered() {
        var machine = Machine(admitted: Link())
        machine.pingReceived(ByteBuffer(string: "first"))
        machine.pingReceived(ByteBuffer(string: "second"))
        #expect(machine.takePendingPong() == ByteBuffer(string: "second"))
        #expect(machine.takePendingPong() == nil)
    }
}
