/// A media section of a remote description that this data-channel-only stack does
/// not use, such as the audio or video section of a browser offer.
///
/// An answer must contain one `m=` line per offered section, in the same order
/// (RFC 3264 §6), and must reject the ones it does not accept with port 0. Copying a
/// remote offer's ``SessionDescription/skippedMedia`` into the local answer makes the
/// serializer emit those rejections in their original positions.
public struct SkippedMediaSection: Sendable, Hashable {
    /// The position of the section among all `m=` lines, starting at 0.
    public var mediaIndex: Int
    /// The media type, e.g. `audio`, `video` or `application`.
    public var media: String
    /// The transport protocol, e.g. `UDP/TLS/RTP/SAVPF`.
    public var proto: String
    /// The format list of the `m=` line (payload types for RTP).
    public var formats: [String]
    /// The section's `a=mid`, or its index as a string when the section had none
    /// (the same fallback Chromium applies to mid-less remote descriptions).
    public var mid: String

    /// Creates a description of a skipped section.
    public init(mediaIndex: Int, media: String, proto: String, formats: [String], mid: String) {
        self.mediaIndex = mediaIndex
        self.media = media
        self.proto = proto
        self.formats = formats
        self.mid = mid
    }

    /// The lines of a rejected section mirroring this one, without line endings.
    ///
    /// Only the first format is kept: RFC 3264 §6 requires at least one but gives
    /// the formats of a rejected section no meaning.
    var rejectedLines: [String] {
        let format = formats.first ?? "0"
        return [
            "m=\(media) 0 \(proto) \(format)",
            "c=IN IP4 0.0.0.0",
            "a=mid:\(mid)",
        ]
    }
}
