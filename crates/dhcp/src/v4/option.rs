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

/// Option 124 (RFC 3925 §3): one or more enterprise blocks of vendor-class data items, in one
/// of the [`VendorClassLayout`]s real senders use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ViVendorClass<'a> {
    data: &'a [u8],
    layout: VendorClassLayout,
}

/// How an option 124 lays out its enterprise blocks. RFC 3925 §3 gives each block a data-len
/// byte; Kea 2.2 (`OptionVendorClass`) and dhcpcd 9.x (`vendclass`) leave it out, and some phones
/// send an enterprise number alone. The parser takes the RFC layout whenever it frames the whole
/// option exactly (blocks and the items inside them), and otherwise the first of the others that
/// does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum VendorClassLayout {
    /// RFC 3925 §3: `enterprise(4) data-len(1)` then `len(1) data` items, per block.
    Rfc3925,
    /// dhcpcd 9.x, and Kea 2.2 with one item: `enterprise(4)` then `len(1) data` items up to the
    /// end of the option, no data-len byte (e.g. `00 00 d8 3d 08 "lantrust"`). An enterprise
    /// number alone (4 bytes) is this layout with no items.
    NoDataLen,
    /// Kea 2.2 with several items: `enterprise(4) len(1) data`, the same enterprise number
    /// repeated before every item.
    EnterprisePerItem,
}

/// Sequential reads over option data, contiguous or split per RFC 3396, so that the typed parse
/// and the streaming hint reader share one definition of each layout.
pub(crate) trait Cursor: Clone {
    fn remaining(&self) -> usize;
    fn position(&self) -> usize;
    fn read_u8(&mut self) -> Option<u8>;
    fn read_u32(&mut self) -> Option<u32>;
    fn skip(&mut self, n: usize) -> bool;
}

/// A [`Cursor`] over one slice whose first byte is at `base` in the message.
#[derive(Debug, Clone)]
pub(crate) struct SliceCursor<'a> {
    data: &'a [u8],
    pos: usize,
    base: usize,
}

impl<'a> SliceCursor<'a> {
    pub(crate) fn new(data: &'a [u8], base: usize) -> Self {
        SliceCursor { data, pos: 0, base }
    }
}

impl Cursor for SliceCursor<'_> {
    fn remaining(&self) -> usize {
        self.data.len().saturating_sub(self.pos)
    }
    fn position(&self) -> usize {
        self.base + self.pos
    }
    fn read_u8(&mut self) -> Option<u8> {
        let b = *self.data.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }
    fn read_u32(&mut self) -> Option<u32> {
        let v = wire::u32_at(self.data, self.pos)?;
        self.pos += 4;
        Some(v)
    }
    fn skip(&mut self, n: usize) -> bool {
        if n > self.remaining() {
            self.pos = self.data.len();
            return false;
        }
        self.pos += n;
        true
    }
}

impl Cursor for super::OptionReader<'_> {
    fn remaining(&self) -> usize {
        super::OptionReader::remaining(self)
    }
    fn position(&self) -> usize {
        super::OptionReader::position(self)
    }
    fn read_u8(&mut self) -> Option<u8> {
        super::OptionReader::read_u8(self)
    }
    fn read_u32(&mut self) -> Option<u32> {
        super::OptionReader::read_u32(self)
    }
    fn skip(&mut self, n: usize) -> bool {
        super::OptionReader::skip(self, n)
    }
}

/// True when the next `n` bytes are exactly a sequence of `len(1) data` items.
pub(crate) fn items_fit<C: Cursor>(c: &mut C, mut n: usize) -> bool {
    while n > 0 {
        let Some(len) = c.read_u8() else {
            return false;
        };
        let len = usize::from(len);
        if 1 + len > n || !c.skip(len) {
            return false;
        }
        n -= 1 + len;
    }
    true
}

impl VendorClassLayout {
    /// The layout that frames all of the option data `c` exactly, RFC 3925 first; `None` when
    /// none does.
    pub(crate) fn detect<C: Cursor>(c: &C) -> Option<Self> {
        let rfc = {
            let mut c = c.clone();
            let mut ok = c.remaining() > 0;
            while ok && c.remaining() > 0 {
                ok = c.read_u32().is_some()
                    && match c.read_u8() {
                        Some(len) => {
                            usize::from(len) <= c.remaining() && items_fit(&mut c, len.into())
                        }
                        None => false,
                    };
            }
            ok
        };
        if rfc {
            return Some(VendorClassLayout::Rfc3925);
        }
        let mut c1 = c.clone();
        if c1.read_u32().is_some() {
            let n = c1.remaining();
            // At most 255 so that the block can be emitted again in the RFC layout.
            if n <= 255 && items_fit(&mut c1, n) {
                return Some(VendorClassLayout::NoDataLen);
            }
        }
        // Kea's blocks all carry its one vendor id; requiring that keeps an RFC option whose
        // other-vendor block is malformed from being mistaken for this layout.
        let mut c2 = c.clone();
        let first = c2.clone().read_u32()?;
        let mut blocks = 0usize;
        while c2.remaining() > 0 {
            let enterprise = c2.read_u32()?;
            let len = c2.read_u8()?;
            if enterprise != first || len == 255 || !c2.skip(len.into()) {
                return None;
            }
            blocks += 1;
        }
        (blocks >= 2).then_some(VendorClassLayout::EnterprisePerItem)
    }

    /// Reads the next block's header under this layout: `(enterprise, body length, offset of
    /// the body)`, the cursor left at the body. The body is `len(1) data` items.
    pub(crate) fn next_block<C: Cursor>(self, c: &mut C) -> Option<(u32, usize, usize)> {
        if c.remaining() == 0 {
            return None;
        }
        let enterprise = c.read_u32()?;
        let len = match self {
            VendorClassLayout::Rfc3925 => usize::from(c.read_u8()?),
            VendorClassLayout::NoDataLen => c.remaining(),
            VendorClassLayout::EnterprisePerItem => 1 + usize::from(c.clone().read_u8()?),
        };
        (len <= c.remaining()).then(|| (enterprise, len, c.position()))
    }
}

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
    /// Validates option 124 data: RFC 3925 §3 blocks, or one of the other
    /// [`VendorClassLayout`]s when the RFC layout does not frame it.
    pub fn parse(data: &'a [u8], offset: usize) -> Result<Self> {
        match VendorClassLayout::detect(&SliceCursor::new(data, offset)) {
            Some(layout) => Ok(ViVendorClass { data, layout }),
            None => {
                // Report where the RFC layout breaks.
                check_blocks(data, code::VI_VENDOR_CLASS, offset, |b, o| {
                    check_items(b, o, code::VI_VENDOR_CLASS, 1)
                })?;
                Err(Error::MalformedSubOption {
                    offset,
                    code: code::VI_VENDOR_CLASS.into(),
                })
            }
        }
    }
    /// The enterprise blocks, whatever the layout.
    pub fn iter(&self) -> ViVendorClassIter<'a> {
        ViVendorClassIter {
            data: self.data,
            pos: 0,
            layout: self.layout,
        }
    }
    /// Which layout the sender used.
    pub fn layout(&self) -> VendorClassLayout {
        self.layout
    }
    /// The raw option data.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.data
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
    layout: VendorClassLayout,
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
        let mut c = SliceCursor::new(self.data, 0);
        c.pos = self.pos;
        let (enterprise, len, at) = self.layout.next_block(&mut c)?;
        let body = self.data.get(at..at + len)?;
        self.pos = at + len;
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
