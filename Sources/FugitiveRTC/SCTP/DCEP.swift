/// The Data Channel Establishment Protocol (RFC 8832): the two messages that open a
/// data channel on an SCTP stream, and the payload protocol identifiers (RFC 8831 §8).
enum DCEP {
    /// SCTP payload protocol identifiers of WebRTC data channels.
    enum PPID: UInt32 {
        case control = 50
        case string = 51
        case binary = 53
        /// An empty string: sent as one zero byte, which the receiver drops.
        case emptyString = 56
        /// An empty binary message, likewise.
        case emptyBinary = 57
    }

    /// How a channel delivers (RFC 8832 §5.1 channel types).
    struct Reliability: Equatable, Sendable {
        var ordered: Bool
        /// Retransmissions (`limitRetransmits`) or lifetime in ms (`limitLifetime`); nil = reliable.
        var limit: Limit?

        enum Limit: Equatable, Sendable {
            case retransmits(UInt32)
            case lifetimeMilliseconds(UInt32)
        }

        static let reliableOrdered = Reliability(ordered: true, limit: nil)

        var channelType: UInt8 {
            let unordered: UInt8 = ordered ? 0x00 : 0x80
            switch limit {
            case nil: return unordered
            case .retransmits: return unordered | 0x01
            case .lifetimeMilliseconds: return unordered | 0x02
            }
        }

        var parameter: UInt32 {
            switch limit {
            case nil: 0
            case .retransmits(let count): count
            case .lifetimeMilliseconds(let milliseconds): milliseconds
            }
        }

        init(ordered: Bool, limit: Limit?) {
            self.ordered = ordered
            self.limit = limit
        }

        init?(channelType: UInt8, parameter: UInt32) {
            ordered = channelType & 0x80 == 0
            switch channelType & 0x7f {
            case 0x00: limit = nil
            case 0x01: limit = .retransmits(parameter)
            case 0x02: limit = .lifetimeMilliseconds(parameter)
            default: return nil
            }
        }
    }

    /// DATA_CHANNEL_OPEN.
    struct Open: Equatable, Sendable {
        var reliability: Reliability
        var priority: UInt16
        var label: String
        var `protocol`: String
    }

    enum Message: Equatable, Sendable {
        case open(Open)
        case ack
    }

    struct ParseError: Error, Equatable {
        let reason: String
    }

    static func parse(_ bytes: [UInt8]) throws(ParseError) -> Message {
        guard let type = bytes.first else { throw ParseError(reason: "empty DCEP message") }
        switch type {
        case 0x02:
            return .ack
        case 0x03:
            guard bytes.count >= 12 else { throw ParseError(reason: "DATA_CHANNEL_OPEN shorter than its 12-byte header") }
            let priority = UInt16(bytes[2]) << 8 | UInt16(bytes[3])
            let parameter = bytes[4..<8].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            let labelLength = Int(bytes[8]) << 8 | Int(bytes[9])
            let protocolLength = Int(bytes[10]) << 8 | Int(bytes[11])
            guard bytes.count >= 12 + labelLength + protocolLength else {
                throw ParseError(reason: "DATA_CHANNEL_OPEN label/protocol run past the message")
            }
            guard let reliability = Reliability(channelType: bytes[1], parameter: parameter) else {
                throw ParseError(reason: "unknown channel type \(bytes[1])")
            }
            let label = String(decoding: bytes[12..<(12 + labelLength)], as: UTF8.self)
            let proto = String(decoding: bytes[(12 + labelLength)..<(12 + labelLength + protocolLength)], as: UTF8.self)
            return .open(Open(reliability: reliability, priority: priority, label: label, protocol: proto))
        default:
            throw ParseError(reason: "unknown DCEP message type \(type)")
        }
    }

    static func serialize(_ message: Message) -> [UInt8] {
        switch message {
        case .ack:
            return [0x02]
        case .open(let open):
            let label = Array(open.label.utf8)
            let proto = Array(open.protocol.utf8)
            var bytes: [UInt8] = [0x03, open.reliability.channelType, UInt8(open.priority >> 8), UInt8(open.priority & 0xff)]
            let parameter = open.reliability.parameter
            bytes += [UInt8(parameter >> 24), UInt8(parameter >> 16 & 0xff), UInt8(parameter >> 8 & 0xff), UInt8(parameter & 0xff)]
            bytes += [UInt8(label.count >> 8), UInt8(label.count & 0xff), UInt8(proto.count >> 8), UInt8(proto.count & 0xff)]
            return bytes + label + proto
        }
    }
}
