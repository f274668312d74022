//! Building queries (RFC 1035 §4.1, EDNS(0) per RFC 6891) and validating their responses.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::error::{Error, Result};
use crate::message::{CLASS_IN, HEADER_LEN, Header, Message, RecordType};
use crate::name::{self, MAX_LABELS, Name};
use crate::wire::Writer;

/// The DNS-SD service name of the draft (§3.3, §5.2), under which `SRV` (and for browsing
/// `PTR`) records are looked up: `_acme-server._tcp.<domain>`.
pub const ACME_SERVICE: &str = "_acme-server._tcp";

/// The UDP payload size advertised in our OPT record: 1232 bytes, the DNS Flag Day 2020
/// value that avoids IP fragmentation.
pub const EDNS_UDP_PAYLOAD_SIZE: u16 = 1232;

/// The mDNS port (RFC 6762 §3); answers from it are refused.
pub const MDNS_PORT: u16 = 5353;

const SERVICE_LABELS: [&[u8]; 2] = [b"_acme-server", b"_tcp"];

/// Domains that RFC 6762 §3 and Appendix G reserve for Multicast DNS.
const MDNS_DOMAINS: [&str; 6] = [
    "local",
    "254.169.in-addr.arpa",
    "8.e.f.ip6.arpa",
    "9.e.f.ip6.arpa",
    "a.e.f.ip6.arpa",
    "b.e.f.ip6.arpa",
];

#[derive(Clone, Copy, Debug)]
enum Base<'a> {
    Text(&'a str),
    Wire(Name<'a>),
}

/// A query: one question plus an EDNS(0) OPT record advertising 1232 bytes, RD set, and the
/// caller's random ID (draw it from a CSPRNG: the ID is part of the spoofing defence,
/// RFC 5452).
#[derive(Clone, Copy, Debug)]
pub struct Query<'a> {
    id: u16,
    service: bool,
    base: Base<'a>,
    qtype: RecordType,
}

impl<'a> Query<'a> {
    /// A query for a dotted text name (no escapes, trailing dot optional).
    ///
    /// Refuses names under `.local` and the link-local reverse zones: the draft (§3.3) forbids
    /// DNS-SD over mDNS.
    pub fn new(id: u16, name: &'a str, qtype: RecordType) -> Result<Self> {
        name::check_text_name(name)?;
        Self::finish(Query {
            id,
            service: false,
            base: Base::Text(name),
            qtype,
        })
    }

    /// A query for a name taken from a parsed message (for instance a DNS-SD instance name
    /// from a `PTR` answer, whose labels may contain dots or spaces).
    pub fn for_name(id: u16, name: Name<'a>, qtype: RecordType) -> Result<Self> {
        Self::finish(Query {
            id,
            service: false,
            base: Base::Wire(name),
            qtype,
        })
    }

    /// The draft's discovery query (§3.3): `SRV` for `_acme-server._tcp.<domain>`.
    pub fn acme_srv(id: u16, domain: &'a str) -> Result<Self> {
        Self::service(id, domain, RecordType::SRV)
    }

    /// The DNS-SD browse form (RFC 6763 §4): `PTR` for `_acme-server._tcp.<domain>`, whose
    /// answers name service instances that carry `SRV` and `TXT` (`path=`) records.
    pub fn acme_browse(id: u16, domain: &'a str) -> Result<Self> {
        Self::service(id, domain, RecordType::PTR)
    }

    fn service(id: u16, domain: &'a str, qtype: RecordType) -> Result<Self> {
        name::check_text_name(domain)?;
        Self::finish(Query {
            id,
            service: true,
            base: Base::Text(domain),
            qtype,
        })
    }

    fn finish(self) -> Result<Self> {
        let mut labels: [&[u8]; MAX_LABELS + 2] = [&[]; MAX_LABELS + 2];
        let n = name::collect_labels(self.labels(), &mut labels);
        let wire: usize = 1 + labels.iter().take(n).map(|l| l.len() + 1).sum::<usize>();
        if wire > name::MAX_NAME_LEN {
            return Err(Error::InvalidName {
                reason: "the name is longer than 255 bytes in wire form",
            });
        }
        let labels = labels.get(..n).unwrap_or(&[]);
        let mut suffix: [&[u8]; 8] = [&[]; 8];
        for domain in MDNS_DOMAINS {
            let m = name::collect_labels(name::text_labels(domain), &mut suffix);
            if name::ends_with(labels, suffix.get(..m).unwrap_or(&[])) {
                return Err(Error::MdnsName);
            }
        }
        Ok(self)
    }

    /// The query ID.
    pub fn id(&self) -> u16 {
        self.id
    }

    /// The question type.
    pub fn qtype(&self) -> RecordType {
        self.qtype
    }

    /// The labels of the question name.
    pub fn labels(&self) -> impl Iterator<Item = &'a [u8]> + Clone + use<'a> {
        let service = self.service;
        let prefix = SERVICE_LABELS.into_iter().filter(move |_| service);
        let (text, wire) = match self.base {
            Base::Text(t) => (Some(name::text_labels(t)), None),
            Base::Wire(n) => (None, Some(n.labels())),
        };
        prefix
            .chain(text.into_iter().flatten())
            .chain(wire.into_iter().flatten())
    }

    /// Exact size of the query in wire form.
    pub fn buffer_len(&self) -> usize {
        let name: usize = 1 + self.labels().map(|l| l.len() + 1).sum::<usize>();
        HEADER_LEN + name + 4 + 11
    }

    /// Writes the query into `buf`; returns the length written.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let needed = self.buffer_len();
        if buf.len() < needed {
            return Err(Error::BufferTooSmall { needed });
        }
        let mut w = Writer::new(buf);
        Header {
            id: self.id,
            flags: Header::RD,
            qdcount: 1,
            ancount: 0,
            nscount: 0,
            arcount: 1,
        }
        .emit(&mut w)?;
        w.labels(self.labels())?;
        w.u16(self.qtype.0)?;
        w.u16(CLASS_IN)?;
        // OPT (RFC 6891 §6.1.2): root owner, CLASS = UDP payload size, TTL = ext-rcode 0,
        // version 0, DO clear; no options.
        w.u8(0)?;
        w.u16(RecordType::OPT.0)?;
        w.u16(EDNS_UDP_PAYLOAD_SIZE)?;
        w.u32(0)?;
        w.u16(0)?;
        Ok(w.pos())
    }

    /// Writes the query with the 2-byte length prefix DNS over TCP needs (RFC 1035 §4.2.2).
    pub fn emit_tcp(&self, buf: &mut [u8]) -> Result<usize> {
        let len = self.buffer_len();
        let body = buf
            .get_mut(2..)
            .ok_or(Error::BufferTooSmall { needed: len + 2 })?;
        let n = self
            .emit(body)
            .map_err(|_| Error::BufferTooSmall { needed: len + 2 })?;
        let prefix = u16::try_from(n).map_err(|_| Error::BufferTooSmall { needed: n + 2 })?;
        let mut w = Writer::new(buf);
        w.u16(prefix)?;
        Ok(n + 2)
    }

    /// Validates a response to this query and returns it parsed.
    ///
    /// `source` is where the datagram (or TCP stream) came from: anything from port 5353 or
    /// the mDNS groups (224.0.0.251, ff02::fb) is refused (draft §3.3, §4.6). Then: QR must be
    /// set, opcode QUERY, the ID equal to ours, TC clear ([`Error::Truncated`]: retry over
    /// TCP), and the question section must echo ours (name case-insensitively, type, class).
    /// The RCODE is not judged here: read [`Message::rcode`] (the DNS-SD resolver turns
    /// NXDOMAIN and SERVFAIL into errors).
    pub fn check_response<'m>(&self, bytes: &'m [u8], source: SocketAddr) -> Result<Response<'m>> {
        if is_mdns_source(source) {
            return Err(Error::MdnsSource);
        }
        let header = Header::parse(bytes)?;
        if !header.is_response() {
            return Err(Error::NotAResponse);
        }
        if header.id != self.id {
            return Err(Error::IdMismatch {
                expected: self.id,
                got: header.id,
            });
        }
        if header.opcode() != 0 {
            return Err(Error::Opcode(header.opcode()));
        }
        // A truncated answer may be cut mid-record; report TC before parsing the rest.
        if header.truncated() {
            return Err(Error::Truncated);
        }
        let message = Message::parse(bytes)?;
        let mut questions = message.questions();
        let echoed = match (questions.next(), questions.next()) {
            (Some(q), None) => {
                q.qtype == self.qtype
                    && q.qclass == CLASS_IN
                    && name::labels_eq(q.name.labels(), self.labels())
            }
            _ => false,
        };
        if !echoed {
            return Err(Error::QuestionMismatch);
        }
        Ok(Response { message })
    }
}

fn is_mdns_source(source: SocketAddr) -> bool {
    source.port() == MDNS_PORT
        || match source.ip() {
            IpAddr::V4(a) => a == Ipv4Addr::new(224, 0, 0, 251),
            IpAddr::V6(a) => {
                a == Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0xfb)
                    || a.to_ipv4_mapped() == Some(Ipv4Addr::new(224, 0, 0, 251))
            }
        }
}

/// A response that passed [`Query::check_response`]: from a unicast source, matching ID and
/// question, not truncated.
#[derive(Clone, Copy, Debug)]
pub struct Response<'a> {
    message: Message<'a>,
}

impl<'a> Response<'a> {
    /// The parsed message.
    pub fn message(&self) -> &Message<'a> {
        &self.message
    }
}

/// The result of [`read_tcp_frame`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    /// A whole message is available.
    Complete {
        /// The message, without its length prefix.
        message: &'a [u8],
        /// Bytes after it (the start of the next frame).
        rest: &'a [u8],
    },
    /// More bytes must be read first; this is not an error.
    Incomplete {
        /// At least this many more bytes are needed.
        needed: usize,
    },
}

/// Splits a DNS-over-TCP stream (RFC 1035 §4.2.2, RFC 7766 §8): a 2-byte length then the
/// message. Partial input gives [`Frame::Incomplete`], not an error; a length below the
/// 12-byte header is an error.
pub fn read_tcp_frame(buf: &[u8]) -> Result<Frame<'_>> {
    let Some((&[hi, lo], body)) = buf.split_first_chunk::<2>() else {
        return Ok(Frame::Incomplete {
            needed: 2 - buf.len(),
        });
    };
    let len = usize::from(u16::from_be_bytes([hi, lo]));
    if len < HEADER_LEN {
        return Err(Error::FrameTooShort(len));
    }
    match (body.get(..len), body.get(len..)) {
        (Some(message), Some(rest)) => Ok(Frame::Complete { message, rest }),
        _ => Ok(Frame::Incomplete {
            needed: len - body.len(),
        }),
    }
}
