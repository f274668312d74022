//! Typed DHCPv4 options (RFC 2132, RFC 3397, RFC 3925), borrowed from the message.

use core::net::Ipv4Addr;

use super::MessageType;
use crate::error::{Error, Result};
use crate::name::NameList;
use crate::wire;

/// Option codes this crate knows by name (RFC 2132 unless noted).
pub mod code {
    /// 0: padding.
    pub const PAD: u8 = 0;
    /// 1: subnet mask.
    pub const SUBNET_MASK: u8 = 1;
    /// 3: routers.
    pub const ROUTER: u8 = 3;
    /// 6: DNS servers.
    pub const DOMAIN_NAME_SERVER: u8 = 6;
    /// 12: host name.
    pub const HOST_NAME: u8 = 12;
    /// 15: domain name.
    pub const DOMAIN_NAME: u8 = 15;
    /// 50: requested IP address.
    pub const REQUESTED_IP_ADDRESS: u8 = 50;
    /// 51: IP address lease time.
    pub const LEASE_TIME: u8 = 51;
    /// 52: option overload.
    pub const OVERLOAD: u8 = 52;
    /// 53: DHCP message type.
    pub const MESSAGE_TYPE: u8 = 53;
    /// 54: server identifier.
    pub const SERVER_IDENTIFIER: u8 = 54;
    /// 55: parameter request list.
    pub const PARAMETER_REQUEST_LIST: u8 = 55;
    /// 57: maximum DHCP message size.
    pub const MAX_MESSAGE_SIZE: u8 = 57;
    /// 58: renewal (T1) time.
    pub const RENEWAL_TIME: u8 = 58;
    /// 59: rebinding (T2) time.
    pub const REBINDING_TIME: u8 = 59;
    /// 60: vendor class identifier.
    pub const VENDOR_CLASS_IDENTIFIER: u8 = 60;
    /// 61: client identifier.
    pub const CLIENT_IDENTIFIER: u8 = 61;
    /// 119: domain search (RFC 3397).
    pub const DOMAIN_SEARCH: u8 = 119;
    /// 124: V-I vendor class (RFC 3925 §3).
    pub const VI_VENDOR_CLASS: u8 = 124;
    /// 125: V-I vendor-specific information (RFC 3925 §4).
    pub const VI_VENDOR_SPECIFIC: u8 = 125;
    /// 255: end.
    pub const END: u8 = 255;
}

/// A typed DHCPv4 option borrowing from the message. Codes without a variant are `Unknown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DhcpOption<'a> {
    /// 1
    SubnetMask(Ipv4Addr),
    /// 3
    Router(Addresses<'a>),
    /// 6
    DomainNameServer(Addresses<'a>),
    /// 12
    HostName(&'a [u8]),
    /// 15
    DomainName(&'a [u8]),
    /// 50
    RequestedIpAddress(Ipv4Addr),
    /// 51, seconds
    LeaseTime(u32),
    /// 53
    MessageType(MessageType),
    /// 54
    ServerIdentifier(Ipv4Addr),
    /// 55, the requested codes
    ParameterRequestList(&'a [u8]),
    /// 57
    MaxMessageSize(u16),
    /// 58, seconds
    RenewalTime(u32),
    /// 59, seconds
    RebindingTime(u32),
    /// 60
    VendorClassIdentifier(&'a [u8]),
    /// 61
    ClientIdentifier(&'a [u8]),
    /// 119 (RFC 3397)
    DomainSearch(NameList<'a>),
    /// 124 (RFC 3925 §3)
    ViVendorClass(ViVendorClass<'a>),
    /// 125 (RFC 3925 §4)
    ViVendorSpecific(ViVendorSpecific<'a>),
    /// Any other code, data kept raw.
    Unknown {
        /// The code.
        code: u8,
        /// The data.
        data: &'a [u8],
    },
}

#[inline]
fn exact<const N: usize>(code: u8, data: &[u8], offset: usize) -> Result<[u8; N]> {
    if data.len() != N {
        return Err(Error::BadOptionLength {
            offset,
            code: code.into(),
            len: data.len(),
        });
    }
    wire::array::<N>(data, 0).ok_or(Error::BadOptionLength {
        offset,
        code: code.into(),
        len: data.len(),
    })
}

impl<'a> DhcpOption<'a> {
    /// Parses the (concatenated) data of option `code`. `offset` is where `data` starts in the
    /// message and is used for error offsets.
    #[inline]
    pub fn parse(code: u8, data: &'a [u8], offset: usize) -> Result<Self> {
        use crate::v4::code as c;
        Ok(match code {
            c::SUBNET_MASK => DhcpOption::SubnetMask(exact::<4>(code, data, offset)?.into()),
            c::ROUTER => DhcpOption::Router(Addresses::parse(code, data, offset)?),
            c::DOMAIN_NAME_SERVER => {
                DhcpOption::DomainNameServer(Addresses::parse(code, data, offset)?)
            }
            c::HOST_NAME => DhcpOption::HostName(non_empty(code, data, offset)?),
            c::DOMAIN_NAME => DhcpOption::DomainName(non_empty(code, data, offset)?),
            c::REQUESTED_IP_ADDRESS => {
                DhcpOption::RequestedIpAddress(exact::<4>(code, data, offset)?.into())
            }
            c::LEASE_TIME => DhcpOption::LeaseTime(u32::from_be_bytes(exact(code, data, offset)?)),
            c::MESSAGE_TYPE => DhcpOption::MessageType(exact::<1>(code, data, offset)?[0].into()),
            c::SERVER_IDENTIFIER => {
                DhcpOption::ServerIdentifier(exact::<4>(code, data, offset)?.into())
            }
            c::PARAMETER_REQUEST_LIST => {
                DhcpOption::ParameterRequestList(non_empty(code, data, offset)?)
            }
            c::MAX_MESSAGE_SIZE => {
                DhcpOption::MaxMessageSize(u16::from_be_bytes(exact(code, data, offset)?))
            }
            c::RENEWAL_TIME => {
                DhcpOption::RenewalTime(u32::from_be_bytes(exact(code, data, offset)?))
            }
            c::REBINDING_TIME => {
                DhcpOption::RebindingTime(u32::from_be_bytes(exact(code, data, offset)?))
            }
            c::VENDOR_CLASS_IDENTIFIER => {
                DhcpOption::VendorClassIdentifier(non_empty(code, data, offset)?)
            }
            c::CLIENT_IDENTIFIER => {
                if data.len() < 2 {
                    return Err(Error::BadOptionLength {
                        offset,
                        code: code.into(),
                        len: data.len(),
                    });
                }
                DhcpOption::ClientIdentifier(data)
            }
            c::DOMAIN_SEARCH => DhcpOption::DomainSearch(NameList::parse(data, true, offset)?),
            c::VI_VENDOR_CLASS => DhcpOption::ViVendorClass(ViVendorClass::parse(data, offset)?),
            c::VI_VENDOR_SPECIFIC => {
                DhcpOption::ViVendorSpecific(ViVendorSpecific::parse(data, offset)?)
            }
            code => DhcpOption::Unknown { code, data },
        })
    }

    /// The option code.
    pub fn code(&self) -> u8 {
        use crate::v4::code as c;
        match self {
            DhcpOption::SubnetMask(_) => c::SUBNET_MASK,
            DhcpOption::Router(_) => c::ROUTER,
            DhcpOption::DomainNameServer(_) => c::DOMAIN_NAME_SERVER,
            DhcpOption::HostName(_) => c::HOST_NAME,
            DhcpOption::DomainName(_) => c::DOMAIN_NAME,
            DhcpOption::RequestedIpAddress(_) => c::REQUESTED_IP_ADDRESS,
            DhcpOption::LeaseTime(_) => c::LEASE_TIME,
            DhcpOption::MessageType(_) => c::MESSAGE_TYPE,
            DhcpOption::ServerIdentifier(_) => c::SERVER_IDENTIFIER,
            DhcpOption::ParameterRequestList(_) => c::PARAMETER_REQUEST_LIST,
            DhcpOption::MaxMessageSize(_) => c::MAX_MESSAGE_SIZE,
            DhcpOption::RenewalTime(_) => c::RENEWAL_TIME,
            DhcpOption::RebindingTime(_) => c::REBINDING_TIME,
            DhcpOption::VendorClassIdentifier(_) => c::VENDOR_CLASS_IDENTIFIER,
            DhcpOption::ClientIdentifier(_) => c::CLIENT_IDENTIFIER,
            DhcpOption::DomainSearch(_) => c::DOMAIN_SEARCH,
            DhcpOption::ViVendorClass(_) => c::VI_VENDOR_CLASS,
            DhcpOption::ViVendorSpecific(_) => c::VI_VENDOR_SPECIFIC,
            DhcpOption::Unknown { code, .. } => *code,
        }
    }
}

fn non_empty(code: u8, data: &[u8], offset: usize) -> Result<&[u8]> {
    if data.is_empty() {
        return Err(Error::BadOptionLength {
            offset,
            code: code.into(),
            len: 0,
        });
    }
    Ok(data)
}

/// A non-empty list of IPv4 addresses (options 3, 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Addresses<'a>(&'a [u8]);

impl<'a> Addresses<'a> {
    fn parse(code: u8, data: &'a [u8], offset: usize) -> Result<Self> {
        if data.is_empty() || data.len() % 4 != 0 {
            return Err(Error::BadOptionLength {
                offset,
                code: code.into(),
                len: data.len(),
            });
        }
        Ok(Addresses(data))
    }
    /// The addresses in order.
    pub fn iter(&self) -> impl Iterator<Item = Ipv4Addr> + 'a {
        self.0
            .chunks_exact(4)
            .filter_map(|c| wire::array::<4>(c, 0))
            .map(Ipv4Addr::from)
    }
    /// How many addresses.
    pub fn len(&self) -> usize {
        self.0.len() / 4
    }
    /// Never true for a parsed list (RFC 2132 requires at least one).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Option 124 (RFC 3925 §3): one or more enterprise blocks of vendor-class data items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ViVendorClass<'a>(&'a [u8]);

/// Option 125 (RFC 3925 §4): one or more enterprise blocks of sub-options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ViVendorSpecific<'a>(&'a [u8]);

/// Splits `data` into (enterprise, block data) pairs: `enterprise(4) len(1) data(len)`.
fn blocks(data: &[u8]) -> impl Iterator<Item = (u32, &[u8], usize)> + '_ {
    let mut pos = 0usize;
    core::iter::from_fn(move || {
        let enterprise = wire::u32_at(data, pos)?;
        let len = usize::from(*data.get(pos + 4)?);
        let body = data.get(pos + 5..pos + 5 + len)?;
        let at = pos + 5;
        pos += 5 + len;
        Some((enterprise, body, at))
    })
}

/// Checks the block framing; `inner` checks each block's data.
fn check_blocks(
    data: &[u8],
    code: u8,
    offset: usize,
    inner: impl Fn(&[u8], usize) -> Result<()>,
) -> Result<()> {
    if data.is_empty() {
        return Err(Error::BadOptionLength {
            offset,
            code: code.into(),
            len: 0,
        });
    }
    let mut pos = 0usize;
    while pos < data.len() {
        let Some(len) = data.get(pos + 4) else {
            return Err(Error::MalformedSubOption {
                offset: offset + pos,
                code: code.into(),
            });
        };
        let end = pos + 5 + usize::from(*len);
        let Some(body) = data.get(pos + 5..end) else {
            return Err(Error::MalformedSubOption {
                offset: offset + pos,
                code: code.into(),
            });
        };
        inner(body, offset + pos + 5)?;
        pos = end;
    }
    Ok(())
}

/// Checks a sequence of `len(1) data(len)` items or `code(1) len(1) data(len)` sub-options.
fn check_items(body: &[u8], offset: usize, code: u8, header: usize) -> Result<()> {
    let mut pos = 0usize;
    while pos < body.len() {
        let Some(len) = body.get(pos + header - 1) else {
            return Err(Error::MalformedSubOption {
                offset: offset + pos,
                code: code.into(),
            });
        };
        let end = pos + header + usize::from(*len);
        if end > body.len() {
            return Err(Error::MalformedSubOption {
                offset: offset + pos,
                code: code.into(),
            });
        }
        pos = end;
    }
    Ok(())
}

impl<'a> ViVendorClass<'a> {
    /// Validates option 124 data.
    pub fn parse(data: &'a [u8], offset: usize) -> Result<Self> {
        check_blocks(data, code::VI_VENDOR_CLASS, offset, |b, o| {
            check_items(b, o, code::VI_VENDOR_CLASS, 1)
        })?;
        Ok(ViVendorClass(data))
    }
    /// The enterprise blocks.
    pub fn iter(&self) -> ViVendorClassIter<'a> {
        ViVendorClassIter {
            data: self.0,
            pos: 0,
        }
    }
    /// The raw option data.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.0
    }
}

impl<'a> ViVendorSpecific<'a> {
    /// Validates option 125 data.
    pub fn parse(data: &'a [u8], offset: usize) -> Result<Self> {
        check_blocks(data, code::VI_VENDOR_SPECIFIC, offset, |b, o| {
            check_items(b, o, code::VI_VENDOR_SPECIFIC, 2)
        })?;
        Ok(ViVendorSpecific(data))
    }
    /// The enterprise blocks.
    pub fn iter(&self) -> ViVendorSpecificIter<'a> {
        ViVendorSpecificIter {
            data: self.0,
            pos: 0,
        }
    }
    /// The raw option data.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.0
    }
}

/// Iterator over the blocks of option 124.
#[derive(Debug, Clone)]
pub struct ViVendorClassIter<'a> {
    data: &'a [u8],
    pos: usize,
}

/// Iterator over the blocks of option 125.
#[derive(Debug, Clone)]
pub struct ViVendorSpecificIter<'a> {
    data: &'a [u8],
    pos: usize,
}

fn next_block<'a>(data: &'a [u8], pos: &mut usize) -> Option<(u32, &'a [u8])> {
    let rest = data.get(*pos..)?;
    let (enterprise, body, at) = blocks(rest).next()?;
    *pos += at + body.len();
    Some((enterprise, body))
}

impl<'a> Iterator for ViVendorClassIter<'a> {
    type Item = VendorClassBlock<'a>;
    fn next(&mut self) -> Option<Self::Item> {
        let (enterprise, body) = next_block(self.data, &mut self.pos)?;
        Some(VendorClassBlock {
            enterprise,
            data: VendorClassData(body),
        })
    }
}

impl<'a> Iterator for ViVendorSpecificIter<'a> {
    type Item = VendorSpecificBlock<'a>;
    fn next(&mut self) -> Option<Self::Item> {
        let (enterprise, body) = next_block(self.data, &mut self.pos)?;
        Some(VendorSpecificBlock {
            enterprise,
            suboptions: SubOptions(body),
        })
    }
}

/// One enterprise's vendor-class data in option 124.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VendorClassBlock<'a> {
    /// IANA private enterprise number.
    pub enterprise: u32,
    /// The vendor-class-data items.
    pub data: VendorClassData<'a>,
}

/// The `len(1) data` items of a 124 block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VendorClassData<'a>(&'a [u8]);

impl<'a> VendorClassData<'a> {
    /// The items in order.
    pub fn iter(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        let data = self.0;
        let mut pos = 0usize;
        core::iter::from_fn(move || {
            let len = usize::from(*data.get(pos)?);
            let item = data.get(pos + 1..pos + 1 + len)?;
            pos += 1 + len;
            Some(item)
        })
    }
}

/// One enterprise's sub-options in option 125.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VendorSpecificBlock<'a> {
    /// IANA private enterprise number.
    pub enterprise: u32,
    /// The sub-options.
    pub suboptions: SubOptions<'a>,
}

/// `code(1) len(1) data` sub-options of a 125 block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubOptions<'a>(&'a [u8]);

/// One sub-option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubOption<'a> {
    /// Sub-option code.
    pub code: u8,
    /// Sub-option data.
    pub data: &'a [u8],
}

impl<'a> SubOptions<'a> {
    /// The sub-options in order.
    pub fn iter(&self) -> impl Iterator<Item = SubOption<'a>> + 'a {
        let data = self.0;
        let mut pos = 0usize;
        core::iter::from_fn(move || {
            let code = *data.get(pos)?;
            let len = usize::from(*data.get(pos + 1)?);
            let d = data.get(pos + 2..pos + 2 + len)?;
            pos += 2 + len;
            Some(SubOption { code, data: d })
        })
    }
    /// The first sub-option with `code`.
    pub fn get(&self, code: u8) -> Option<&'a [u8]> {
        self.iter().find(|s| s.code == code).map(|s| s.data)
    }
}

/// Text for humans: `b"home.arpa"` as `"home.arpa"`, other bytes escaped.
struct Text<'a>(&'a [u8]);

impl core::fmt::Display for Text<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("\"")?;
        for chunk in self.0.utf8_chunks() {
            for c in chunk.valid().chars() {
                write!(f, "{}", c.escape_debug())?;
            }
            for b in chunk.invalid() {
                write!(f, "\\x{b:02x}")?;
            }
        }
        f.write_str("\"")
    }
}

fn list<T: core::fmt::Display>(
    f: &mut core::fmt::Formatter<'_>,
    items: impl Iterator<Item = T>,
) -> core::fmt::Result {
    for (i, item) in items.enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{item}")?;
    }
    Ok(())
}

/// One line per option for logs and examples, e.g. `router 192.168.1.1`.
impl core::fmt::Display for DhcpOption<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            DhcpOption::SubnetMask(a) => write!(f, "subnet mask {a}"),
            DhcpOption::Router(a) => {
                f.write_str("router ")?;
                list(f, a.iter())
            }
            DhcpOption::DomainNameServer(a) => {
                f.write_str("DNS servers ")?;
                list(f, a.iter())
            }
            DhcpOption::HostName(d) => write!(f, "host name {}", Text(d)),
            DhcpOption::DomainName(d) => write!(f, "domain name {}", Text(d)),
            DhcpOption::RequestedIpAddress(a) => write!(f, "requested address {a}"),
            DhcpOption::LeaseTime(t) => write!(f, "lease time {t} s"),
            DhcpOption::MessageType(t) => write!(f, "message type {t:?}"),
            DhcpOption::ServerIdentifier(a) => write!(f, "server identifier {a}"),
            DhcpOption::ParameterRequestList(c) => write!(f, "parameter request list {c:?}"),
            DhcpOption::MaxMessageSize(n) => write!(f, "maximum message size {n}"),
            DhcpOption::RenewalTime(t) => write!(f, "renewal (T1) time {t} s"),
            DhcpOption::RebindingTime(t) => write!(f, "rebinding (T2) time {t} s"),
            DhcpOption::VendorClassIdentifier(d) => {
                write!(f, "vendor class identifier {}", Text(d))
            }
            DhcpOption::ClientIdentifier(d) => write!(f, "client identifier {d:02x?}"),
            DhcpOption::DomainSearch(l) => {
                f.write_str("domain search ")?;
                list(f, l.iter())
            }
            DhcpOption::ViVendorClass(v) => {
                f.write_str("V-I vendor class")?;
                for b in v.iter() {
                    write!(f, " [enterprise {}: ", b.enterprise)?;
                    list(f, b.data.iter().map(Text))?;
                    f.write_str("]")?;
                }
                Ok(())
            }
            DhcpOption::ViVendorSpecific(v) => {
                f.write_str("V-I vendor-specific")?;
                for b in v.iter() {
                    write!(f, " [enterprise {}: ", b.enterprise)?;
                    list(f, b.suboptions.iter().map(|s| SubText(s.code, s.data)))?;
                    f.write_str("]")?;
                }
                Ok(())
            }
            DhcpOption::Unknown { code, data } => write!(f, "option {code} {data:02x?}"),
        }
    }
}

struct SubText<'a>(u8, &'a [u8]);

impl core::fmt::Display for SubText<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "sub-option {} = {}", self.0, Text(self.1))
    }
}
