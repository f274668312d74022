//! DHCPv6 (RFC 8415): message header view, options with nested options, and (with `alloc`) an
//! owned [`Repr`] with builders.

use core::net::Ipv6Addr;

use crate::error::{Error, Result};
use crate::name::NameList;
use crate::warning::{OptionWarning, Warnings};
use crate::wire;

/// DHCPv6 ports (RFC 8415 §7.2).
pub const CLIENT_PORT: u16 = 546;
/// See [`CLIENT_PORT`].
pub const SERVER_PORT: u16 = 547;

/// Deepest option nesting accepted (IA_NA → IAADDR → STATUS is 3; relays add one per hop).
pub const MAX_NESTING: usize = 8;

/// Byte offsets (RFC 8415 §8 and §9).
mod field {
    pub(crate) const MSG_TYPE: usize = 0;
    pub(crate) const XID: usize = 1;
    pub(crate) const OPTIONS: usize = 4;
    pub(crate) const HOP_COUNT: usize = 1;
    pub(crate) const LINK_ADDRESS: usize = 2;
    pub(crate) const PEER_ADDRESS: usize = 18;
    pub(crate) const RELAY_OPTIONS: usize = 34;
}

/// Option codes (RFC 8415 §21 unless noted).
pub mod code {
    /// 1
    pub const CLIENTID: u16 = 1;
    /// 2
    pub const SERVERID: u16 = 2;
    /// 3
    pub const IA_NA: u16 = 3;
    /// 4
    pub const IA_TA: u16 = 4;
    /// 5
    pub const IAADDR: u16 = 5;
    /// 6: option request option.
    pub const ORO: u16 = 6;
    /// 7
    pub const PREFERENCE: u16 = 7;
    /// 8
    pub const ELAPSED_TIME: u16 = 8;
    /// 9
    pub const RELAY_MSG: u16 = 9;
    /// 13
    pub const STATUS_CODE: u16 = 13;
    /// 14
    pub const RAPID_COMMIT: u16 = 14;
    /// 16
    pub const VENDOR_CLASS: u16 = 16;
    /// 17
    pub const VENDOR_OPTS: u16 = 17;
    /// 18
    pub const INTERFACE_ID: u16 = 18;
    /// 23 (RFC 3646)
    pub const DNS_SERVERS: u16 = 23;
    /// 24 (RFC 3646)
    pub const DOMAIN_LIST: u16 = 24;
    /// 25
    pub const IA_PD: u16 = 25;
    /// 26
    pub const IAPREFIX: u16 = 26;
}

/// DHCPv6 message type (RFC 8415 §7.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageType {
    /// 1
    Solicit,
    /// 2
    Advertise,
    /// 3
    Request,
    /// 4
    Confirm,
    /// 5
    Renew,
    /// 6
    Rebind,
    /// 7
    Reply,
    /// 8
    Release,
    /// 9
    Decline,
    /// 10
    Reconfigure,
    /// 11
    InformationRequest,
    /// 12
    RelayForw,
    /// 13
    RelayRepl,
    /// Anything else.
    Unknown(u8),
}

impl From<u8> for MessageType {
    fn from(v: u8) -> Self {
        use MessageType::*;
        match v {
            1 => Solicit,
            2 => Advertise,
            3 => Request,
            4 => Confirm,
            5 => Renew,
            6 => Rebind,
            7 => Reply,
            8 => Release,
            9 => Decline,
            10 => Reconfigure,
            11 => InformationRequest,
            12 => RelayForw,
            13 => RelayRepl,
            v => Unknown(v),
        }
    }
}

impl From<MessageType> for u8 {
    fn from(v: MessageType) -> u8 {
        use MessageType::*;
        match v {
            Solicit => 1,
            Advertise => 2,
            Request => 3,
            Confirm => 4,
            Renew => 5,
            Rebind => 6,
            Reply => 7,
            Release => 8,
            Decline => 9,
            Reconfigure => 10,
            InformationRequest => 11,
            RelayForw => 12,
            RelayRepl => 13,
            Unknown(v) => v,
        }
    }
}

impl MessageType {
    /// True for RELAY-FORW and RELAY-REPL, whose header is 34 bytes (RFC 8415 §9).
    pub fn is_relay(self) -> bool {
        matches!(self, MessageType::RelayForw | MessageType::RelayRepl)
    }
}

/// A zero-copy view of a DHCPv6 message. Getters never panic.
#[derive(Debug, Clone, Copy)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without checks.
    pub const fn new_unchecked(buffer: T) -> Self {
        Packet { buffer }
    }

    /// Wraps a buffer after checking the header and the framing of every option, nested ones
    /// included (up to [`MAX_NESTING`] levels).
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Packet { buffer };
        p.check()?;
        Ok(p)
    }

    /// The checks of [`Packet::new_checked`].
    pub fn check(&self) -> Result<()> {
        self.check_header()?;
        check_options(self.options_bytes(), self.header_len(), 0)
    }

    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    /// The message type.
    pub fn msg_type(&self) -> MessageType {
        self.b()
            .get(field::MSG_TYPE)
            .copied()
            .unwrap_or_default()
            .into()
    }

    fn header_len(&self) -> usize {
        if self.msg_type().is_relay() {
            field::RELAY_OPTIONS
        } else {
            field::OPTIONS
        }
    }

    /// Transaction id (24 bits; 0 for relay messages).
    pub fn transaction_id(&self) -> u32 {
        if self.msg_type().is_relay() {
            return 0;
        }
        wire::array::<3>(self.b(), field::XID)
            .map_or(0, |[a, b, c]| u32::from_be_bytes([0, a, b, c]))
    }

    /// Relay hop count (relay messages).
    pub fn hop_count(&self) -> u8 {
        self.b().get(field::HOP_COUNT).copied().unwrap_or_default()
    }

    /// Relay link address (relay messages).
    pub fn link_address(&self) -> Ipv6Addr {
        Ipv6Addr::from(wire::array::<16>(self.b(), field::LINK_ADDRESS).unwrap_or_default())
    }

    /// Relay peer address (relay messages).
    pub fn peer_address(&self) -> Ipv6Addr {
        Ipv6Addr::from(wire::array::<16>(self.b(), field::PEER_ADDRESS).unwrap_or_default())
    }

    /// The bytes holding the top-level options.
    pub fn options_bytes(&self) -> &[u8] {
        self.b().get(self.header_len()..).unwrap_or_default()
    }

    /// The top-level options.
    pub fn options(&self) -> Options<'_> {
        Options::new(self.options_bytes(), self.header_len())
    }

    /// The first top-level option with `code`.
    pub fn option(&self, code: u16) -> Option<RawOption<'_>> {
        self.options().flatten().find(|o| o.code == code)
    }

    /// Checks every option, nested ones included, with its typed parser
    /// ([`Dhcpv6Option::parse`]) without allocating, and returns the ones
    /// [`Repr::parse_lenient`] would set aside: content errors, and a framing error that ends
    /// a walk. Works on an unchecked packet; only a header shorter than its fixed part is an
    /// error.
    pub fn option_warnings(&self) -> Result<Warnings> {
        self.check_header()?;
        let mut warnings = Warnings::new();
        warn_options(self.options(), &mut warnings, 0);
        Ok(warnings)
    }

    /// The header and the framing of the top-level options, not of nested ones.
    pub(crate) fn check_top_level(&self) -> Result<()> {
        self.check_header()?;
        self.options().try_for_each(|o| o.map(drop))
    }

    fn check_header(&self) -> Result<()> {
        let len = self.b().len();
        let header = self.header_len();
        if len < header {
            return Err(Error::Truncated {
                offset: len,
                needed: header - len,
            });
        }
        Ok(())
    }
}

/// The checks of [`Packet::option_warnings`] over one list of options, `depth` levels down:
/// the same as [`Repr::parse_lenient`] makes, so both report the same options.
fn warn_options(options: Options<'_>, warnings: &mut Warnings, depth: usize) {
    for o in options {
        let o = match o {
            Ok(o) => o,
            Err(e) => {
                warnings.push(OptionWarning::framing(e));
                return;
            }
        };
        match parse_checked(&o) {
            Ok(Dhcpv6Option::IaNa { options, .. } | Dhcpv6Option::IaAddr { options, .. })
                if depth < MAX_NESTING =>
            {
                warn_options(options, warnings, depth + 1)
            }
            Ok(_) => {}
            Err(e) => warnings.push(OptionWarning {
                code: o.code,
                offset: o.offset,
                error: e,
            }),
        }
    }
}

/// The typed parse of `o`, plus, for the options kept raw that carry nested options (IA_TA,
/// IA_PD, IAPREFIX), the framing check [`Packet::check`] gives them.
pub(crate) fn parse_checked<'a>(o: &RawOption<'a>) -> Result<Dhcpv6Option<'a>> {
    let typed = o.parse()?;
    if let (Dhcpv6Option::Unknown { .. }, Some(skip)) = (&typed, nested_start(o.code)) {
        let rest = o
            .data
            .get(skip..)
            .ok_or_else(|| bad_len(o.code, o.data, o.offset))?;
        check_options(rest, o.offset + 4 + skip, 1)?;
    }
    Ok(typed)
}

fn check_options(data: &[u8], base: usize, depth: usize) -> Result<()> {
    if depth > MAX_NESTING {
        return Err(Error::NestingTooDeep { offset: base });
    }
    for o in Options::new(data, base) {
        let o = o?;
        if let Some(skip) = nested_start(o.code) {
            if o.data.len() < skip {
                return Err(Error::BadOptionLength {
                    offset: o.offset,
                    code: o.code,
                    len: o.data.len(),
                });
            }
            check_options(
                o.data.get(skip..).unwrap_or_default(),
                o.offset + 4 + skip,
                depth + 1,
            )?;
        }
    }
    Ok(())
}

/// Where the nested options start inside the data of options that carry them.
fn nested_start(code: u16) -> Option<usize> {
    match code {
        code::IA_NA | code::IA_PD => Some(12),
        code::IA_TA => Some(4),
        code::IAADDR => Some(24),
        code::IAPREFIX => Some(25),
        _ => None,
    }
}

/// One option: code, data, offset of its code in the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawOption<'a> {
    /// Code.
    pub code: u16,
    /// Data.
    pub data: &'a [u8],
    /// Offset of the code field in the message.
    pub offset: usize,
}

impl<'a> RawOption<'a> {
    /// The options nested in IA_NA, IA_TA, IA_PD, IAADDR and IAPREFIX; `None` for other codes.
    pub fn nested(&self) -> Option<Options<'a>> {
        let skip = nested_start(self.code)?;
        Some(Options::new(self.data.get(skip..)?, self.offset + 4 + skip))
    }

    /// Parses the typed option.
    pub fn parse(&self) -> Result<Dhcpv6Option<'a>> {
        Dhcpv6Option::parse(self.code, self.data, self.offset)
    }
}

/// Iterator over options in a byte range; stops after the first error.
#[derive(Debug, Clone)]
pub struct Options<'a> {
    data: &'a [u8],
    pos: usize,
    base: usize,
}

impl<'a> Options<'a> {
    /// Options in `data`, whose first byte is at `base` in the message.
    pub fn new(data: &'a [u8], base: usize) -> Self {
        Options { data, pos: 0, base }
    }
}

impl<'a> Iterator for Options<'a> {
    type Item = Result<RawOption<'a>>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.data.len() {
            return None;
        }
        let at = self.pos;
        let offset = self.base + at;
        let (Some(code), Some(len)) =
            (wire::u16_at(self.data, at), wire::u16_at(self.data, at + 2))
        else {
            self.pos = self.data.len();
            return Some(Err(Error::Truncated {
                offset,
                needed: 4 - (self.data.len() - at).min(4),
            }));
        };
        let len = usize::from(len);
        let Some(data) = self.data.get(at + 4..at + 4 + len) else {
            self.pos = self.data.len();
            return Some(Err(Error::OptionOverrun { offset, code, len }));
        };
        self.pos = at + 4 + len;
        Some(Ok(RawOption { code, data, offset }))
    }
}

/// A typed DHCPv6 option borrowing from the message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Dhcpv6Option<'a> {
    /// 1: client DUID.
    ClientId(&'a [u8]),
    /// 2: server DUID.
    ServerId(&'a [u8]),
    /// 3
    IaNa {
        /// IAID.
        iaid: u32,
        /// T1.
        t1: u32,
        /// T2.
        t2: u32,
        /// Nested options.
        options: Options<'a>,
    },
    /// 5
    IaAddr {
        /// Address.
        address: Ipv6Addr,
        /// Preferred lifetime.
        preferred: u32,
        /// Valid lifetime.
        valid: u32,
        /// Nested options.
        options: Options<'a>,
    },
    /// 6: requested option codes (big-endian u16 pairs).
    Oro(&'a [u8]),
    /// 7
    Preference(u8),
    /// 8: hundredths of a second.
    ElapsedTime(u16),
    /// 13
    StatusCode {
        /// Status.
        status: u16,
        /// UTF-8 message.
        message: &'a [u8],
    },
    /// 14
    RapidCommit,
    /// 16 (RFC 8415 §21.16)
    VendorClass {
        /// Enterprise number.
        enterprise: u32,
        /// `len(2) data` items.
        data: &'a [u8],
    },
    /// 17 (RFC 8415 §21.17)
    VendorOpts {
        /// Enterprise number.
        enterprise: u32,
        /// `code(2) len(2) data` sub-options.
        options: &'a [u8],
    },
    /// 23: DNS recursive name servers.
    DnsServers(&'a [u8]),
    /// 24: domain search list (uncompressed names).
    DomainList(NameList<'a>),
    /// Any other code.
    Unknown {
        /// Code.
        code: u16,
        /// Data.
        data: &'a [u8],
    },
}

impl PartialEq for Options<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.data == other.data
    }
}
impl Eq for Options<'_> {}

fn bad_len(code: u16, data: &[u8], offset: usize) -> Error {
    Error::BadOptionLength {
        offset,
        code,
        len: data.len(),
    }
}

/// Checks `len(2) data` items (16) or `code(2) len(2) data` sub-options (17).
fn check_items(data: &[u8], header: usize, offset: usize, code: u16) -> Result<()> {
    let mut pos = 0usize;
    while pos < data.len() {
        let Some(len) = wire::u16_at(data, pos + header - 2) else {
            return Err(Error::MalformedSubOption {
                offset: offset + pos,
                code,
            });
        };
        let end = pos + header + usize::from(len);
        if end > data.len() {
            return Err(Error::MalformedSubOption {
                offset: offset + pos,
                code,
            });
        }
        pos = end;
    }
    Ok(())
}

impl<'a> Dhcpv6Option<'a> {
    /// Parses option `code` with `data`; `offset` is the option's position in the message.
    pub fn parse(code: u16, data: &'a [u8], offset: usize) -> Result<Self> {
        let at = offset + 4;
        Ok(match code {
            code::CLIENTID | code::SERVERID => {
                if data.is_empty() {
                    return Err(bad_len(code, data, offset));
                }
                if code == code::CLIENTID {
                    Dhcpv6Option::ClientId(data)
                } else {
                    Dhcpv6Option::ServerId(data)
                }
            }
            code::IA_NA => {
                let (Some(iaid), Some(t1), Some(t2), Some(rest)) = (
                    wire::u32_at(data, 0),
                    wire::u32_at(data, 4),
                    wire::u32_at(data, 8),
                    data.get(12..),
                ) else {
                    return Err(bad_len(code, data, offset));
                };
                check_options(rest, at + 12, 1)?;
                Dhcpv6Option::IaNa {
                    iaid,
                    t1,
                    t2,
                    options: Options::new(rest, at + 12),
                }
            }
            code::IAADDR => {
                let (Some(a), Some(preferred), Some(valid), Some(rest)) = (
                    wire::array::<16>(data, 0),
                    wire::u32_at(data, 16),
                    wire::u32_at(data, 20),
                    data.get(24..),
                ) else {
                    return Err(bad_len(code, data, offset));
                };
                check_options(rest, at + 24, 1)?;
                Dhcpv6Option::IaAddr {
                    address: a.into(),
                    preferred,
                    valid,
                    options: Options::new(rest, at + 24),
                }
            }
            code::ORO => {
                if data.len() % 2 != 0 {
                    return Err(bad_len(code, data, offset));
                }
                Dhcpv6Option::Oro(data)
            }
            code::PREFERENCE => match data {
                [p] => Dhcpv6Option::Preference(*p),
                _ => return Err(bad_len(code, data, offset)),
            },
            code::ELAPSED_TIME => match data {
                [a, b] => Dhcpv6Option::ElapsedTime(u16::from_be_bytes([*a, *b])),
                _ => return Err(bad_len(code, data, offset)),
            },
            code::STATUS_CODE => {
                let (Some(status), Some(message)) = (wire::u16_at(data, 0), data.get(2..)) else {
                    return Err(bad_len(code, data, offset));
                };
                Dhcpv6Option::StatusCode { status, message }
            }
            code::RAPID_COMMIT => {
                if !data.is_empty() {
                    return Err(bad_len(code, data, offset));
                }
                Dhcpv6Option::RapidCommit
            }
            code::VENDOR_CLASS | code::VENDOR_OPTS => {
                let (Some(enterprise), Some(rest)) = (wire::u32_at(data, 0), data.get(4..)) else {
                    return Err(bad_len(code, data, offset));
                };
                if code == code::VENDOR_CLASS {
                    check_items(rest, 2, at + 4, code)?;
                    Dhcpv6Option::VendorClass {
                        enterprise,
                        data: rest,
                    }
                } else {
                    check_items(rest, 4, at + 4, code)?;
                    Dhcpv6Option::VendorOpts {
                        enterprise,
                        options: rest,
                    }
                }
            }
            code::DNS_SERVERS => {
                if data.len() % 16 != 0 {
                    return Err(bad_len(code, data, offset));
                }
                Dhcpv6Option::DnsServers(data)
            }
            code::DOMAIN_LIST => Dhcpv6Option::DomainList(NameList::parse(data, false, at)?),
            code => Dhcpv6Option::Unknown { code, data },
        })
    }
}

/// The `len(2) data` items of option 16.
pub fn vendor_class_items(data: &[u8]) -> impl Iterator<Item = &[u8]> + '_ {
    let mut pos = 0usize;
    core::iter::from_fn(move || {
        let len = usize::from(wire::u16_at(data, pos)?);
        let item = data.get(pos + 2..pos + 2 + len)?;
        pos += 2 + len;
        Some(item)
    })
}

/// The `code(2) len(2) data` sub-options of option 17.
pub fn vendor_suboptions(data: &[u8]) -> impl Iterator<Item = (u16, &[u8])> + '_ {
    let mut pos = 0usize;
    core::iter::from_fn(move || {
        let code = wire::u16_at(data, pos)?;
        let len = usize::from(wire::u16_at(data, pos + 2)?);
        let item = data.get(pos + 4..pos + 4 + len)?;
        pos += 4 + len;
        Some((code, item))
    })
}

/// Addresses of option 23.
pub fn addresses(data: &[u8]) -> impl Iterator<Item = Ipv6Addr> + '_ {
    data.chunks_exact(16)
        .filter_map(|c| wire::array::<16>(c, 0))
        .map(Ipv6Addr::from)
}

/// Codes of the ORO.
pub fn oro_codes(data: &[u8]) -> impl Iterator<Item = u16> + '_ {
    data.chunks_exact(2).filter_map(|c| wire::u16_at(c, 0))
}

#[cfg(feature = "alloc")]
mod repr;
#[cfg(feature = "alloc")]
pub use repr::{Header, OptionRepr, Repr};
