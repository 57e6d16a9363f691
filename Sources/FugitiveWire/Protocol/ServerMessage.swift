/// A message on the server link (peer ↔ orchestrator, WebSocket binary frames).
///
/// Type numbers are stable; see `docs/PROTOCOL.md` for fields, limits and senders.
public enum ServerMessage: Hashable, Sendable {
    case hello(Hello)
    case welcome(Welcome)
    case want(Want)
    case pair(Pair)
    case unpair(Unpair)
    case signal(Signal)
    case link(LinkReport)
    case peerLeft(PeerLeft)
    case have(Have)
    case drop(Drop)
    case whoHas(WhoHas)
    case holders(Holders)
    case vouch(Vouch)
    case vouched(Vouched)
    case ping(Heartbeat)
    case pong(Heartbeat)
    case error(ErrorMessage)
    case report(DeliveryReport)
    case iceServers(IceServerUpdate)

    /// The stable type number written in the envelope.
    public var type: UInt8 {
        switch self {
        case .hello: 1
        case .welcome: 2
        case .want: 3
        case .pair: 4
        case .unpair: 5
        case .signal: 6
        case .link: 7
        case .peerLeft: 8
        case .have: 9
        case .drop: 10
        case .whoHas: 11
        case .holders: 12
        case .vouch: 13
        case .vouched: 14
        case .ping: 15
        case .pong: 16
        case .error: 17
        case .report: 18
        case .iceServers: 19
        }
    }

    /// Who may send this message.
    public var sender: WireSender {
        switch self {
        case .hello, .want, .link, .have, .drop, .whoHas, .vouch, .report: .peer
        case .welcome, .pair, .unpair, .peerLeft, .holders, .vouched, .iceServers: .server
        case .signal, .ping, .pong, .error: .either
        }
    }

    var body: any WireBody {
        switch self {
        case .hello(let b): b
        case .welcome(let b): b
        case .want(let b): b
        case .pair(let b): b
        case .unpair(let b): b
        case .signal(let b): b
        case .link(let b): b
        case .peerLeft(let b): b
        case .have(let b): b
        case .drop(let b): b
        case .whoHas(let b): b
        case .holders(let b): b
        case .vouch(let b): b
        case .vouched(let b): b
        case .ping(let b): b
        case .pong(let b): b
        case .error(let b): b
        case .report(let b): b
        case .iceServers(let b): b
        }
    }

    static func decodeBody(type: UInt8, _ decode: (any WireBody.Type) throws -> any WireBody) throws -> ServerMessage? {
        switch type {
        case 1: .hello(try decode(Hello.self) as! Hello)
        case 2: .welcome(try decode(Welcome.self) as! Welcome)
        case 3: .want(try decode(Want.self) as! Want)
        case 4: .pair(try decode(Pair.self) as! Pair)
        case 5: .unpair(try decode(Unpair.self) as! Unpair)
        case 6: .signal(try decode(Signal.self) as! Signal)
        case 7: .link(try decode(LinkReport.self) as! LinkReport)
        case 8: .peerLeft(try decode(PeerLeft.self) as! PeerLeft)
        case 9: .have(try decode(Have.self) as! Have)
        case 10: .drop(try decode(Drop.self) as! Drop)
        case 11: .whoHas(try decode(WhoHas.self) as! WhoHas)
        case 12: .holders(try decode(Holders.self) as! Holders)
        case 13: .vouch(try decode(Vouch.self) as! Vouch)
        case 14: .vouched(try decode(Vouched.self) as! Vouched)
        case 15: .ping(try decode(Heartbeat.self) as! Heartbeat)
        case 16: .pong(try decode(Heartbeat.self) as! Heartbeat)
        case 17: .error(try decode(ErrorMessage.self) as! ErrorMessage)
        case 18: .report(try decode(DeliveryReport.self) as! DeliveryReport)
        case 19: .iceServers(try decode(IceServerUpdate.self) as! IceServerUpdate)
        default: nil
        }
    }
}

/// The body of a message: Codable, with limits checked after decoding.
public protocol WireBody: Codable, Hashable, Sendable {
    /// Throws ``WireErrorCode/invalidField`` when a field breaks a limit.
    func validate(_ limits: WireLimits) throws(WireError)
}

extension WireBody {
    public func validate(_ limits: WireLimits) throws(WireError) {}
}
