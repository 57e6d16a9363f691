/// The value of the `a=setup` attribute, which decides who opens the DTLS connection
/// (RFC 4145, applied to DTLS by RFC 8842).
public enum SetupRole: String, Sendable, Hashable, CaseIterable {
    /// The endpoint can take either role; a WebRTC offerer always sends this (RFC 5763 §5).
    case actpass
    /// The endpoint initiates the connection, i.e. is the DTLS client.
    case active
    /// The endpoint waits for the connection, i.e. is the DTLS server.
    case passive
    /// The endpoint does not want a connection now. Never used by WebRTC stacks.
    case holdconn

    /// The role an answerer takes given the role in the remote offer (RFC 4145 §4.1,
    /// RFC 8842).
    ///
    /// - `actpass` → `active`: RFC 5763 §5 and JSEP (RFC 8829 §5.3.1) recommend
    ///   `active`, which lets the answerer start the handshake as soon as ICE connects
    ///   instead of waiting for the offerer to learn the answer; Chromium does the same.
    /// - `active` → `passive`, `passive` → `active`: take the complementary role.
    /// - `holdconn` → `holdconn`: there is no connection to agree on.
    public static func answering(to remote: SetupRole) -> SetupRole {
        switch remote {
        case .actpass, .passive: .active
        case .active: .passive
        case .holdconn: .holdconn
        }
    }

    /// The DTLS role this setup value implies for the endpoint that declared it.
    ///
    /// `active` is the DTLS client and `passive` the DTLS server (RFC 8842 §5).
    /// `actpass` and `holdconn` have no role until the other side's answer settles it,
    /// hence `nil`.
    public var dtlsRole: DTLSRole? {
        switch self {
        case .active: .client
        case .passive: .server
        case .actpass, .holdconn: nil
        }
    }
}
