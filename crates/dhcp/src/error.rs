//! The crate's one error type.

/// Why a text is not an acceptable fully qualified domain name (RFC 1035 §2.3.1 "preferred name
/// syntax", RFC 1123 §2.1): what a device may connect to as its ACME server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum FqdnError {
    /// The name is empty (or only a dot).
    #[error("the name is empty")]
    Empty,
    /// Two dots in a row, or a leading dot.
    #[error("a label is empty (two dots in a row or a leading dot)")]
    EmptyLabel,
    /// A label is longer than 63 bytes.
    #[error("a label is longer than 63 characters")]
    LabelTooLong,
    /// The whole name is longer than 253 characters.
    #[error("the name is longer than 253 characters")]
    TooLong,
    /// A character other than ASCII letters, digits and `-`.
    #[error("a character other than letters, digits, '-' and '.'")]
    BadCharacter,
    /// A label starts or ends with `-`.
    #[error("a label starts or ends with '-'")]
    HyphenAtEdge,
}

/// Everything that can go wrong while parsing or emitting DHCP messages.
///
/// Parse errors carry `offset`, the byte position in the buffer handed to the parser (for a
/// sub-structure decoded on its own, the position within that sub-structure's bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input ends before a fixed-size field or a length-prefixed item is complete.
    #[error(
        "truncated input at byte {offset}: {needed} more byte(s) needed; pass the whole UDP payload"
    )]
    Truncated {
        /// Where the missing bytes should have started.
        offset: usize,
        /// How many bytes are missing at least.
        needed: usize,
    },
    /// The four bytes after the BOOTP header are not the DHCP magic cookie 99.130.83.99.
    #[error("no DHCP magic cookie at byte {offset}: this is plain BOOTP or not DHCP at all")]
    BadMagicCookie {
        /// Offset of the cookie (236).
        offset: usize,
    },
    /// An option's length byte(s) point past the end of the area that holds it.
    #[error("option {code} at byte {offset} claims {len} byte(s), past the end of its area")]
    OptionOverrun {
        /// Offset of the option's code.
        offset: usize,
        /// The option code.
        code: u16,
        /// The length the option claims.
        len: usize,
    },
    /// Option overload (52) appears inside `sname`/`file`, which RFC 2131 forbids and which could loop.
    #[error(
        "option overload (52) at byte {offset} is inside sname/file; only the options field may carry it"
    )]
    OverloadLoop {
        /// Offset of the offending option 52.
        offset: usize,
    },
    /// Option overload (52) appears more than once.
    #[error("option overload (52) repeated at byte {offset}; a message carries it at most once")]
    DuplicateOverload {
        /// Offset of the second option 52.
        offset: usize,
    },
    /// Option overload (52) has a value other than 1, 2 or 3, or a length other than 1.
    #[error(
        "option overload (52) at byte {offset} is invalid: it must be one byte of value 1, 2 or 3"
    )]
    BadOverload {
        /// Offset of option 52.
        offset: usize,
    },
    /// A fixed-format option has a length its RFC does not allow.
    #[error("option {code} at byte {offset} has length {len}, which its RFC does not allow")]
    BadOptionLength {
        /// Offset of the option (or of its data when concatenated from several parts).
        offset: usize,
        /// The option code.
        code: u16,
        /// The offending length.
        len: usize,
    },
    /// A sub-option, enterprise block or data item inside an option is cut short or inconsistent.
    #[error(
        "malformed content in option {code} at byte {offset}: an inner length runs past its container"
    )]
    MalformedSubOption {
        /// Offset of the malformed inner item.
        offset: usize,
        /// The containing option's code.
        code: u16,
    },
    /// A domain-name label has a reserved type (0x40/0x80 prefixes) or a compression pointer
    /// where none is allowed.
    #[error(
        "bad label in domain name at byte {offset}: reserved label type or pointer not allowed here"
    )]
    BadLabel {
        /// Offset of the label's length byte.
        offset: usize,
    },
    /// A compression pointer that does not point strictly backwards (loops and forward references).
    #[error("compression pointer at byte {offset} does not point strictly backwards")]
    BadPointer {
        /// Offset of the pointer.
        offset: usize,
    },
    /// A domain name longer than 255 bytes in wire form.
    #[error("domain name at byte {offset} is longer than 255 bytes")]
    NameTooLong {
        /// Offset where the name starts.
        offset: usize,
    },
    /// Nested DHCPv6 options deeper than this crate accepts.
    #[error("DHCPv6 options nested too deeply at byte {offset}")]
    NestingTooDeep {
        /// Offset of the option that went too deep.
        offset: usize,
    },
    /// An ACME-server hint carries a name that is not a valid FQDN.
    #[error("ACME server hint at byte {offset} is not a valid host name: {reason}")]
    InvalidFqdn {
        /// Offset of the name in the message.
        offset: usize,
        /// What is wrong with it.
        reason: FqdnError,
    },
    /// An ACME-server hint carries a directory URL that is not `https://`, not printable ASCII,
    /// or longer than 255 bytes.
    #[error(
        "ACME directory URL at byte {offset} must be https://, printable ASCII and at most 255 bytes"
    )]
    InvalidUrl {
        /// Offset of the URL in the message.
        offset: usize,
    },
    /// The output buffer is too small; call `buffer_len()` and pass a buffer at least that big.
    #[error("output buffer too small: {needed} bytes needed, {available} available")]
    BufferTooSmall {
        /// Bytes the message needs.
        needed: usize,
        /// Bytes the buffer had.
        available: usize,
    },
    /// A value does not fit its length field when emitting.
    #[error("cannot emit {what}: it is longer than its length field allows")]
    TooLong {
        /// What was too long.
        what: &'static str,
    },
}

/// Result alias for this crate.
pub type Result<T, E = Error> = core::result::Result<T, E>;
