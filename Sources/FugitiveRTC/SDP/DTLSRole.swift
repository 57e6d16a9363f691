/// Which side of the DTLS handshake an endpoint plays.
public enum DTLSRole: String, Sendable, Hashable, CaseIterable {
    /// Sends the ClientHello; declared in SDP as `a=setup:active`.
    case client
    /// Answers the ClientHello; declared in SDP as `a=setup:passive`.
    case server

    /// The `a=setup` value that announces this role.
    public var setupRole: SetupRole {
        switch self {
        case .client: .active
        case .server: .passive
        }
    }
}
