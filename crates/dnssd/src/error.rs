//! The crate's single error type.

/// Everything that can go wrong while building a query, parsing a message or resolving the ACME
/// server. Parse errors carry the byte offset (from the start of the DNS message) where the
/// problem was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The message ends before a field that must be there.
    #[error(
        "DNS message truncated at byte {offset}: expected {what}; the packet was cut short or is not DNS"
    )]
    UnexpectedEnd {
        /// Offset at which more bytes were needed.
        offset: usize,
        /// The field being read.
        what: &'static str,
    },
    /// A label length byte uses the reserved `01`/`10` top bits (RFC 1035 §4.1.4, RFC 6891 §5).
    #[error(
        "DNS name at byte {offset} uses a reserved label type 0x{byte:02x}; only plain labels and compression pointers are allowed"
    )]
    ReservedLabelType {
        /// Offset of the label byte.
        offset: usize,
        /// The offending byte.
        byte: u8,
    },
    /// A name is longer than 255 bytes once decompressed (RFC 1035 §2.3.4).
    #[error("DNS name starting at byte {offset} is longer than 255 bytes once decompressed")]
    NameTooLong {
        /// Offset where the name starts.
        offset: usize,
    },
    /// A compression pointer points outside the message.
    #[error(
        "compression pointer at byte {offset} points to byte {target}, past the end of the message"
    )]
    PointerOutOfBounds {
        /// Offset of the pointer.
        offset: usize,
        /// Where it points.
        target: usize,
    },
    /// A compression pointer does not point strictly before the labels already read, which is
    /// how loops and forward references are refused.
    #[error(
        "compression pointer at byte {offset} points forward or into a loop (to byte {target}); pointers must go strictly backwards"
    )]
    PointerNotBackward {
        /// Offset of the pointer.
        offset: usize,
        /// Where it points.
        target: usize,
    },
    /// More compression pointers in one name than any sane encoder produces.
    #[error("DNS name starting at byte {offset} follows more than 64 compression pointers")]
    TooManyPointers {
        /// Offset where the name starts.
        offset: usize,
    },
    /// The rdata length does not fit the layout of the record type.
    #[error(
        "record of type {rtype} at byte {offset} has rdlength {len}, which does not match the layout of that type"
    )]
    RdataLength {
        /// Offset of the rdata.
        offset: usize,
        /// The record type.
        rtype: u16,
        /// The rdlength the record claimed.
        len: usize,
    },
    /// An OPT pseudo-record is misplaced or repeated (RFC 6891 §6.1.1).
    #[error(
        "invalid OPT record at byte {offset}: it must be unique, in the additional section, with the root name"
    )]
    BadOpt {
        /// Offset of the record.
        offset: usize,
    },
    /// Bytes are left after the last record the header announced.
    #[error(
        "{count} unexpected bytes after the last record, starting at byte {offset}; header counts do not match the content"
    )]
    TrailingBytes {
        /// Offset of the first extra byte.
        offset: usize,
        /// How many extra bytes.
        count: usize,
    },
    /// The output buffer is too small.
    #[error("output buffer too small: at least {needed} bytes are needed")]
    BufferTooSmall {
        /// Minimum size needed so far.
        needed: usize,
    },
    /// A textual name given to the query builder is not a valid DNS name.
    #[error("invalid DNS name: {reason}")]
    InvalidName {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A query for an mDNS name (`.local`, link-local reverse zones) was requested.
    #[error(
        "refusing to query an mDNS name (.local or link-local reverse zone): draft-sweet-iot-acme §3.3 forbids DNS-SD over Multicast DNS (RFC 6762, see §4.6); query the network's unicast DNS domain instead"
    )]
    MdnsName,
    /// A response arrived from the mDNS port or multicast group.
    #[error(
        "refusing a response from port 5353 or the mDNS multicast group: draft-sweet-iot-acme §3.3 forbids DNS-SD over Multicast DNS (RFC 6762, see §4.6); only accept answers from the configured unicast resolver"
    )]
    MdnsSource,
    /// The message is a query, not a response.
    #[error("the message has QR=0 (it is a query, not a response)")]
    NotAResponse,
    /// The response's opcode is not QUERY.
    #[error("the response has opcode {0}, expected 0 (QUERY)")]
    Opcode(u8),
    /// The response's ID does not match the query's (possible spoofing, RFC 5452).
    #[error(
        "response ID {got} does not match query ID {expected}: ignore it and keep waiting (possible spoofing, RFC 5452)"
    )]
    IdMismatch {
        /// ID of the query.
        expected: u16,
        /// ID in the response.
        got: u16,
    },
    /// The response does not echo the query's question.
    #[error(
        "the response's question section does not echo the query (name, type and class must match)"
    )]
    QuestionMismatch,
    /// TC bit: the answer did not fit in UDP.
    #[error("the response is truncated (TC bit): retry the same query over TCP")]
    Truncated,
    /// RCODE NXDOMAIN: the name does not exist.
    #[error("the DNS server answered NXDOMAIN: no ACME server is announced under this name")]
    NxDomain,
    /// RCODE SERVFAIL.
    #[error(
        "the DNS server answered SERVFAIL: it could not resolve the name, retry later or use another resolver"
    )]
    ServerFailure,
    /// Any other non-zero RCODE (extended with the OPT record's upper bits).
    #[error("the DNS server answered with RCODE {0}")]
    Rcode(u16),
    /// The answer holds no usable SRV (or PTR) record for the service.
    #[error("the answer holds no SRV record for the ACME service")]
    NoService,
    /// The only SRV targets are "." (RFC 2782: the service is decidedly not available).
    #[error(
        "the SRV target is \".\": the service is decidedly not available in this domain (RFC 2782)"
    )]
    ServiceNotAvailable,
    /// A SRV target is not a host name usable in an `https` URL.
    #[error(
        "SRV target at byte {offset} is not a valid host name (letters, digits, hyphens; not under .local)"
    )]
    InvalidTarget {
        /// Offset of the target name.
        offset: usize,
    },
    /// A TXT `path=` value is not a usable URL path.
    #[error("TXT path at byte {offset} is not a printable URL path")]
    InvalidPath {
        /// Offset of the TXT rdata.
        offset: usize,
    },
    /// The question type is neither SRV (the draft's form) nor PTR (the browse form).
    #[error("the question type {0} is neither SRV nor PTR, so there is nothing to resolve")]
    UnsupportedQuestion(u16),
    /// A TCP length prefix announces a message shorter than a DNS header.
    #[error("TCP length prefix announces {0} bytes, shorter than a 12-byte DNS header")]
    FrameTooShort(usize),
}

/// Shorthand for results of this crate.
pub type Result<T> = core::result::Result<T, Error>;
