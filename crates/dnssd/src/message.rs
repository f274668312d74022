//! DNS messages (RFC 1035 §4.1): header, questions, resource records, and their re-emission.

use core::fmt;
use core::net::{Ipv4Addr, Ipv6Addr};

use crate::error::{Error, Result};
use crate::name::Name;
use crate::txt::Txt;
use crate::wire::{Writer, u16_at, u32_at};

/// Length of the fixed header (RFC 1035 §4.1.1).
pub const HEADER_LEN: usize = 12;

/// A resource record type (RFC 1035 §3.2.2 and later registrations). Open: any `u16`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RecordType(pub u16);

impl RecordType {
    /// IPv4 address (RFC 1035).
    pub const A: Self = Self(1);
    /// Name server (RFC 1035).
    pub const NS: Self = Self(2);
    /// Canonical name (RFC 1035).
    pub const CNAME: Self = Self(5);
    /// Start of authority (RFC 1035).
    pub const SOA: Self = Self(6);
    /// Domain name pointer (RFC 1035), DNS-SD browse (RFC 6763 §4).
    pub const PTR: Self = Self(12);
    /// Text strings (RFC 1035), DNS-SD attributes (RFC 6763 §6).
    pub const TXT: Self = Self(16);
    /// IPv6 address (RFC 3596).
    pub const AAAA: Self = Self(28);
    /// Service location (RFC 2782).
    pub const SRV: Self = Self(33);
    /// EDNS(0) pseudo-record (RFC 6891).
    pub const OPT: Self = Self(41);
}

impl fmt::Debug for RecordType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match *self {
            Self::A => "A",
            Self::NS => "NS",
            Self::CNAME => "CNAME",
            Self::SOA => "SOA",
            Self::PTR => "PTR",
            Self::TXT => "TXT",
            Self::AAAA => "AAAA",
            Self::SRV => "SRV",
            Self::OPT => "OPT",
            Self(n) => return write!(f, "TYPE{n}"),
        };
        f.write_str(name)
    }
}

/// The Internet class (RFC 1035 §3.2.4).
pub const CLASS_IN: u16 = 1;

/// Response codes (RFC 1035 §4.1.1, RFC 6895), extended by the OPT record (RFC 6891 §6.1.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rcode {
    /// 0: no error.
    NoError,
    /// 1: the server could not interpret the query.
    FormErr,
    /// 2: the server failed to answer.
    ServFail,
    /// 3: the name does not exist.
    NxDomain,
    /// 4: not implemented.
    NotImp,
    /// 5: refused by policy.
    Refused,
    /// Any other value.
    Other(u16),
}

impl Rcode {
    /// Maps a (possibly extended) numeric RCODE.
    pub fn from_u16(v: u16) -> Self {
        match v {
            0 => Self::NoError,
            1 => Self::FormErr,
            2 => Self::ServFail,
            3 => Self::NxDomain,
            4 => Self::NotImp,
            5 => Self::Refused,
            n => Self::Other(n),
        }
    }

    /// The numeric value.
    pub fn to_u16(self) -> u16 {
        match self {
            Self::NoError => 0,
            Self::FormErr => 1,
            Self::ServFail => 2,
            Self::NxDomain => 3,
            Self::NotImp => 4,
            Self::Refused => 5,
            Self::Other(n) => n,
        }
    }
}

/// The fixed 12-byte header (RFC 1035 §4.1.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Transaction ID.
    pub id: u16,
    /// QR, Opcode, AA, TC, RD, RA, Z, AD, CD and RCODE, as on the wire.
    pub flags: u16,
    /// Number of questions.
    pub qdcount: u16,
    /// Number of answer records.
    pub ancount: u16,
    /// Number of authority records.
    pub nscount: u16,
    /// Number of additional records.
    pub arcount: u16,
}

impl Header {
    /// QR flag: recursion desired.
    pub const RD: u16 = 0x0100;
    /// QR flag: this is a response.
    pub const QR: u16 = 0x8000;
    /// TC flag: truncated.
    pub const TC: u16 = 0x0200;

    /// Parses the header.
    pub fn parse(msg: &[u8]) -> Result<Self> {
        if msg.len() < HEADER_LEN {
            return Err(Error::UnexpectedEnd {
                offset: msg.len(),
                what: "the 12-byte DNS header",
            });
        }
        Ok(Header {
            id: u16_at(msg, 0, "ID")?,
            flags: u16_at(msg, 2, "flags")?,
            qdcount: u16_at(msg, 4, "QDCOUNT")?,
            ancount: u16_at(msg, 6, "ANCOUNT")?,
            nscount: u16_at(msg, 8, "NSCOUNT")?,
            arcount: u16_at(msg, 10, "ARCOUNT")?,
        })
    }

    pub(crate) fn emit(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u16(self.id)?;
        w.u16(self.flags)?;
        w.u16(self.qdcount)?;
        w.u16(self.ancount)?;
        w.u16(self.nscount)?;
        w.u16(self.arcount)
    }

    /// QR: true for a response.
    pub fn is_response(&self) -> bool {
        self.flags & Self::QR != 0
    }
    /// Opcode (0 = QUERY).
    pub fn opcode(&self) -> u8 {
        ((self.flags >> 11) & 0xF) as u8
    }
    /// AA: authoritative answer.
    pub fn authoritative(&self) -> bool {
        self.flags & 0x0400 != 0
    }
    /// TC: the message was truncated; retry over TCP.
    pub fn truncated(&self) -> bool {
        self.flags & Self::TC != 0
    }
    /// RD: recursion desired.
    pub fn recursion_desired(&self) -> bool {
        self.flags & Self::RD != 0
    }
    /// RA: recursion available.
    pub fn recursion_available(&self) -> bool {
        self.flags & 0x0080 != 0
    }
    /// The low 4 bits of the RCODE (see [`Message::rcode`] for the extended one).
    pub fn rcode_low(&self) -> u8 {
        (self.flags & 0xF) as u8
    }
}

/// A question (RFC 1035 §4.1.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Question<'a> {
    /// QNAME.
    pub name: Name<'a>,
    /// QTYPE.
    pub qtype: RecordType,
    /// QCLASS (the top bit is mDNS's unicast-response bit; kept as is).
    pub qclass: u16,
}

impl<'a> Question<'a> {
    /// `CHECK = false` re-reads a question the message parse already validated.
    fn parse<const CHECK: bool>(msg: &'a [u8], pos: usize) -> Result<(Self, usize)> {
        let (name, pos) = if CHECK {
            Name::parse(msg, pos)?
        } else {
            Name::skip(msg, pos)
        };
        let qtype = RecordType(u16_at(msg, pos, "QTYPE")?);
        let qclass = u16_at(msg, pos + 2, "QCLASS")?;
        Ok((
            Question {
                name,
                qtype,
                qclass,
            },
            pos + 4,
        ))
    }
}

/// SRV rdata (RFC 2782).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Srv<'a> {
    /// Lower is tried first.
    pub priority: u16,
    /// Relative weight among targets of equal priority; 0 = only if nothing else.
    pub weight: u16,
    /// TCP port.
    pub port: u16,
    /// Host name; `.` (root) means the service is decidedly not available.
    pub target: Name<'a>,
}

/// The EDNS(0) OPT pseudo-record (RFC 6891 §6.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Opt<'a> {
    /// Requestor's UDP payload size (the CLASS field).
    pub udp_payload_size: u16,
    /// Upper 8 bits of the extended RCODE.
    pub extended_rcode: u8,
    /// EDNS version.
    pub version: u8,
    /// DO bit and the other flags (the low 16 bits of TTL).
    pub flags: u16,
    /// The options, validated as `{code u16, length u16, data}` filling the rdata exactly.
    pub options: &'a [u8],
}

impl<'a> Opt<'a> {
    /// The options as `(code, data)`.
    pub fn options(&self) -> impl Iterator<Item = (u16, &'a [u8])> + use<'a> {
        let mut rest = self.options;
        core::iter::from_fn(move || {
            let code = u16_at(rest, 0, "").ok()?;
            let len = usize::from(u16_at(rest, 2, "").ok()?);
            let data = rest.get(4..4 + len)?;
            rest = rest.get(4 + len..)?;
            Some((code, data))
        })
    }
}

/// Typed rdata. Types this crate does not interpret are kept raw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RData<'a> {
    /// An IPv4 address.
    A(Ipv4Addr),
    /// An IPv6 address.
    Aaaa(Ipv6Addr),
    /// The canonical name this owner is an alias for.
    Cname(Name<'a>),
    /// A DNS-SD service instance name (or a reverse mapping).
    Ptr(Name<'a>),
    /// A service location.
    Srv(Srv<'a>),
    /// Text strings.
    Txt(Txt<'a>),
    /// EDNS(0) options.
    Opt(Opt<'a>),
    /// Any other type, uninterpreted (RFC 3597).
    Unknown(&'a [u8]),
}

/// A resource record (RFC 1035 §4.1.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Record<'a> {
    /// Owner name.
    pub name: Name<'a>,
    /// TYPE.
    pub rtype: RecordType,
    /// CLASS (the UDP payload size for OPT).
    pub class: u16,
    /// TTL (extended RCODE and flags for OPT).
    pub ttl: u32,
    /// Typed rdata.
    pub rdata: RData<'a>,
    /// Offset of the rdata in the message.
    pub rdata_offset: usize,
}

impl<'a> Record<'a> {
    /// `CHECK = false` re-reads a record the message parse already validated: names are only
    /// skipped and TXT/OPT layouts not re-walked, which halves the cost of iterating.
    fn parse<const CHECK: bool>(msg: &'a [u8], pos: usize) -> Result<(Self, usize)> {
        let (name, pos) = if CHECK {
            Name::parse(msg, pos)?
        } else {
            Name::skip(msg, pos)
        };
        let rtype = RecordType(u16_at(msg, pos, "TYPE")?);
        let class = u16_at(msg, pos + 2, "CLASS")?;
        let ttl = u32_at(msg, pos + 4, "TTL")?;
        let rdlen = usize::from(u16_at(msg, pos + 8, "RDLENGTH")?);
        let start = pos + 10;
        let end = start + rdlen;
        // The rdata view ends where the record does: a name in rdata cannot run past it.
        let scoped = msg.get(..end).ok_or(Error::UnexpectedEnd {
            offset: msg.len(),
            what: "rdata as long as RDLENGTH says",
        })?;
        let data = scoped.get(start..).unwrap_or(&[]);
        let bad_len = Error::RdataLength {
            offset: start,
            rtype: rtype.0,
            len: rdlen,
        };
        let exact_name = |at: usize| -> Result<Name<'a>> {
            if !CHECK {
                return Ok(Name::skip(scoped, at).0);
            }
            let (n, next) = Name::parse(scoped, at)?;
            if next != end {
                return Err(bad_len);
            }
            Ok(n)
        };
        let rdata = match rtype {
            RecordType::A => {
                let octets: [u8; 4] = data.try_into().map_err(|_| bad_len)?;
                RData::A(Ipv4Addr::from(octets))
            }
            RecordType::AAAA => {
                let octets: [u8; 16] = data.try_into().map_err(|_| bad_len)?;
                RData::Aaaa(Ipv6Addr::from(octets))
            }
            RecordType::CNAME => RData::Cname(exact_name(start)?),
            RecordType::PTR => RData::Ptr(exact_name(start)?),
            RecordType::SRV => {
                if rdlen < 7 {
                    return Err(bad_len);
                }
                RData::Srv(Srv {
                    priority: u16_at(scoped, start, "SRV priority")?,
                    weight: u16_at(scoped, start + 2, "SRV weight")?,
                    port: u16_at(scoped, start + 4, "SRV port")?,
                    target: exact_name(start + 6)?,
                })
            }
            RecordType::TXT if CHECK => RData::Txt(Txt::parse(data, start)?),
            RecordType::TXT => RData::Txt(Txt::trusted(data)),
            RecordType::OPT => {
                if CHECK && !name.is_root() {
                    return Err(Error::BadOpt {
                        offset: name.offset(),
                    });
                }
                let mut p = if CHECK { 0 } else { data.len() };
                while p < data.len() {
                    let len = usize::from(u16_at(data, p + 2, "").map_err(|_| bad_len)?);
                    p += 4 + len;
                }
                if p != data.len() {
                    return Err(bad_len);
                }
                let [ext, version, f1, f2] = ttl.to_be_bytes();
                RData::Opt(Opt {
                    udp_payload_size: class,
                    extended_rcode: ext,
                    version,
                    flags: u16::from_be_bytes([f1, f2]),
                    options: data,
                })
            }
            _ => RData::Unknown(data),
        };
        Ok((
            Record {
                name,
                rtype,
                class,
                ttl,
                rdata,
                rdata_offset: start,
            },
            end,
        ))
    }

    /// Writes the record uncompressed (names in rdata are expanded too).
    pub(crate) fn emit(&self, w: &mut Writer<'_>) -> Result<()> {
        self.name.emit(w)?;
        w.u16(self.rtype.0)?;
        w.u16(self.class)?;
        w.u32(self.ttl)?;
        let len_at = w.pos();
        w.u16(0)?;
        let start = w.pos();
        match self.rdata {
            RData::A(a) => w.bytes(&a.octets())?,
            RData::Aaaa(a) => w.bytes(&a.octets())?,
            RData::Cname(n) | RData::Ptr(n) => n.emit(w)?,
            RData::Srv(s) => {
                w.u16(s.priority)?;
                w.u16(s.weight)?;
                w.u16(s.port)?;
                s.target.emit(w)?;
            }
            RData::Txt(t) => w.bytes(t.as_bytes())?,
            RData::Opt(o) => w.bytes(o.options)?,
            RData::Unknown(d) => w.bytes(d)?,
        }
        let len = u16::try_from(w.pos() - start)
            .map_err(|_| Error::BufferTooSmall { needed: w.pos() })?;
        w.patch_u16(len_at, len)
    }
}

/// Which section a record came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Section {
    /// Answer section.
    Answer,
    /// Authority section.
    Authority,
    /// Additional section.
    Additional,
}

/// A parsed, fully validated DNS message borrowing its bytes. Parsing walks every name and
/// rdata once and allocates nothing; the accessors then iterate without failing.
#[derive(Clone, Copy, Debug)]
pub struct Message<'a> {
    bytes: &'a [u8],
    header: Header,
    answer_start: usize,
    authority_start: usize,
    additional_start: usize,
    opt: Option<Opt<'a>>,
}

impl<'a> Message<'a> {
    /// Parses and validates a whole message. Errors carry the byte offset of the problem.
    pub fn parse(bytes: &'a [u8]) -> Result<Self> {
        let header = Header::parse(bytes)?;
        let mut pos = HEADER_LEN;
        for _ in 0..header.qdcount {
            pos = Question::parse::<true>(bytes, pos)?.1;
        }
        let answer_start = pos;
        for _ in 0..header.ancount {
            let (r, next) = Record::parse::<true>(bytes, pos)?;
            if r.rtype == RecordType::OPT {
                return Err(Error::BadOpt { offset: pos });
            }
            pos = next;
        }
        let authority_start = pos;
        for _ in 0..header.nscount {
            let (r, next) = Record::parse::<true>(bytes, pos)?;
            if r.rtype == RecordType::OPT {
                return Err(Error::BadOpt { offset: pos });
            }
            pos = next;
        }
        let additional_start = pos;
        let mut opt = None;
        for _ in 0..header.arcount {
            let (r, next) = Record::parse::<true>(bytes, pos)?;
            if let RData::Opt(o) = r.rdata {
                if opt.is_some() {
                    return Err(Error::BadOpt { offset: pos });
                }
                opt = Some(o);
            }
            pos = next;
        }
        if pos != bytes.len() {
            return Err(Error::TrailingBytes {
                offset: pos,
                count: bytes.len() - pos,
            });
        }
        Ok(Message {
            bytes,
            header,
            answer_start,
            authority_start,
            additional_start,
            opt,
        })
    }

    /// The message bytes.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The EDNS(0) OPT record, if any.
    pub fn opt(&self) -> Option<&Opt<'a>> {
        self.opt.as_ref()
    }

    /// The RCODE, extended with the OPT record's upper 8 bits (RFC 6891 §6.1.3).
    pub fn rcode(&self) -> Rcode {
        let high = self.opt.map_or(0, |o| u16::from(o.extended_rcode));
        Rcode::from_u16((high << 4) | u16::from(self.header.rcode_low()))
    }

    /// The questions.
    pub fn questions(&self) -> Questions<'a> {
        Questions {
            msg: self.bytes,
            pos: HEADER_LEN,
            remaining: self.header.qdcount,
        }
    }

    /// The answer records.
    pub fn answers(&self) -> Records<'a> {
        Records {
            msg: self.bytes,
            pos: self.answer_start,
            remaining: self.header.ancount,
        }
    }

    /// The authority records.
    pub fn authorities(&self) -> Records<'a> {
        Records {
            msg: self.bytes,
            pos: self.authority_start,
            remaining: self.header.nscount,
        }
    }

    /// The additional records (the OPT pseudo-record included).
    pub fn additionals(&self) -> Records<'a> {
        Records {
            msg: self.bytes,
            pos: self.additional_start,
            remaining: self.header.arcount,
        }
    }

    /// All records of the three sections with the section each came from.
    pub fn records(&self) -> impl Iterator<Item = (Section, Record<'a>)> + use<'a> {
        let an = self.answers().map(|r| (Section::Answer, r));
        let ns = self.authorities().map(|r| (Section::Authority, r));
        let ar = self.additionals().map(|r| (Section::Additional, r));
        an.chain(ns).chain(ar)
    }

    /// Re-emits the message into `buf` without compression; returns the length written.
    /// Parsing the output gives back the same header, questions and records.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let mut w = Writer::new(buf);
        self.header.emit(&mut w)?;
        for q in self.questions() {
            q.name.emit(&mut w)?;
            w.u16(q.qtype.0)?;
            w.u16(q.qclass)?;
        }
        for (_, r) in self.records() {
            r.emit(&mut w)?;
        }
        Ok(w.pos())
    }
}

/// Iterator over questions (the message was validated, so it yields them all).
#[derive(Clone, Debug)]
pub struct Questions<'a> {
    msg: &'a [u8],
    pos: usize,
    remaining: u16,
}

impl<'a> Iterator for Questions<'a> {
    type Item = Question<'a>;

    fn next(&mut self) -> Option<Question<'a>> {
        self.remaining = self.remaining.checked_sub(1)?;
        let (q, next) = Question::parse::<false>(self.msg, self.pos).ok()?;
        self.pos = next;
        Some(q)
    }
}

/// Iterator over the records of one section.
#[derive(Clone, Debug)]
pub struct Records<'a> {
    msg: &'a [u8],
    pos: usize,
    remaining: u16,
}

impl<'a> Iterator for Records<'a> {
    type Item = Record<'a>;

    fn next(&mut self) -> Option<Record<'a>> {
        self.remaining = self.remaining.checked_sub(1)?;
        let (r, next) = Record::parse::<false>(self.msg, self.pos).ok()?;
        self.pos = next;
        Some(r)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(usize::from(self.remaining)))
    }
}
