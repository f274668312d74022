//! Owned DHCPv4 message representation (needs `alloc`): parse, emit, and builders.

use alloc::string::String;
use alloc::vec::Vec;
use core::net::Ipv4Addr;

use super::option::{DhcpOption, code};
use super::{MAGIC_COOKIE, MessageType, Op, Packet, field};
use crate::error::{Error, Result};
use crate::hint::{ENTERPRISE_NUMBER, SUBOPT_DIRECTORY_URL, SUBOPT_FQDN};
use crate::name::{Fqdn, Name, encode_list};
use crate::warning::{OptionWarning, Warnings};
use crate::wire::{Writer, len_u8};

/// Smallest message emitted: RFC 1542 §2.1 asks for at least 300 bytes of BOOTP.
pub const MIN_MESSAGE_LEN: usize = 300;

/// An owned DHCPv4 option. Overload (52), pad and end are framing and never appear here.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OptionRepr {
    /// 1
    SubnetMask(Ipv4Addr),
    /// 3
    Router(Vec<Ipv4Addr>),
    /// 6
    DomainNameServer(Vec<Ipv4Addr>),
    /// 12
    HostName(Vec<u8>),
    /// 15
    DomainName(Vec<u8>),
    /// 50
    RequestedIpAddress(Ipv4Addr),
    /// 51
    LeaseTime(u32),
    /// 53
    MessageType(MessageType),
    /// 54
    ServerIdentifier(Ipv4Addr),
    /// 55
    ParameterRequestList(Vec<u8>),
    /// 57
    MaxMessageSize(u16),
    /// 58
    RenewalTime(u32),
    /// 59
    RebindingTime(u32),
    /// 60
    VendorClassIdentifier(Vec<u8>),
    /// 61
    ClientIdentifier(Vec<u8>),
    /// 119 (emitted with RFC 3397 compression)
    DomainSearch(Vec<Name>),
    /// 124
    ViVendorClass(Vec<VendorClass>),
    /// 125
    ViVendorSpecific(Vec<VendorSpecific>),
    /// Anything else.
    Unknown {
        /// Code (not 0, 52 or 255).
        code: u8,
        /// Data.
        data: Vec<u8>,
    },
}

/// One enterprise block of option 124.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VendorClass {
    /// IANA private enterprise number.
    pub enterprise: u32,
    /// The vendor-class-data items.
    pub data: Vec<Vec<u8>>,
}

/// One enterprise block of option 125.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VendorSpecific {
    /// IANA private enterprise number.
    pub enterprise: u32,
    /// Its sub-options.
    pub suboptions: Vec<VendorSubOption>,
}

/// One sub-option of a 125 block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VendorSubOption {
    /// Code.
    pub code: u8,
    /// Data.
    pub data: Vec<u8>,
}

impl From<DhcpOption<'_>> for OptionRepr {
    fn from(o: DhcpOption<'_>) -> Self {
        match o {
            DhcpOption::SubnetMask(a) => OptionRepr::SubnetMask(a),
            DhcpOption::Router(a) => OptionRepr::Router(a.iter().collect()),
            DhcpOption::DomainNameServer(a) => OptionRepr::DomainNameServer(a.iter().collect()),
            DhcpOption::HostName(d) => OptionRepr::HostName(d.to_vec()),
            DhcpOption::DomainName(d) => OptionRepr::DomainName(d.to_vec()),
            DhcpOption::RequestedIpAddress(a) => OptionRepr::RequestedIpAddress(a),
            DhcpOption::LeaseTime(v) => OptionRepr::LeaseTime(v),
            DhcpOption::MessageType(v) => OptionRepr::MessageType(v),
            DhcpOption::ServerIdentifier(a) => OptionRepr::ServerIdentifier(a),
            DhcpOption::ParameterRequestList(d) => OptionRepr::ParameterRequestList(d.to_vec()),
            DhcpOption::MaxMessageSize(v) => OptionRepr::MaxMessageSize(v),
            DhcpOption::RenewalTime(v) => OptionRepr::RenewalTime(v),
            DhcpOption::RebindingTime(v) => OptionRepr::RebindingTime(v),
            DhcpOption::VendorClassIdentifier(d) => OptionRepr::VendorClassIdentifier(d.to_vec()),
            DhcpOption::ClientIdentifier(d) => OptionRepr::ClientIdentifier(d.to_vec()),
            DhcpOption::DomainSearch(l) => OptionRepr::DomainSearch(l.iter().collect()),
            DhcpOption::ViVendorClass(v) => OptionRepr::ViVendorClass(
                v.iter()
                    .map(|b| VendorClass {
                        enterprise: b.enterprise,
                        data: b.data.iter().map(<[u8]>::to_vec).collect(),
                    })
                    .collect(),
            ),
            DhcpOption::ViVendorSpecific(v) => OptionRepr::ViVendorSpecific(
                v.iter()
                    .map(|b| VendorSpecific {
                        enterprise: b.enterprise,
                        suboptions: b
                            .suboptions
                            .iter()
                            .map(|s| VendorSubOption {
                                code: s.code,
                                data: s.data.to_vec(),
                            })
                            .collect(),
                    })
                    .collect(),
            ),
            DhcpOption::Unknown { code, data } => OptionRepr::Unknown {
                code,
                data: data.to_vec(),
            },
        }
    }
}

impl OptionRepr {
    /// The option code.
    pub fn code(&self) -> u8 {
        match self {
            OptionRepr::SubnetMask(_) => code::SUBNET_MASK,
            OptionRepr::Router(_) => code::ROUTER,
            OptionRepr::DomainNameServer(_) => code::DOMAIN_NAME_SERVER,
            OptionRepr::HostName(_) => code::HOST_NAME,
            OptionRepr::DomainName(_) => code::DOMAIN_NAME,
            OptionRepr::RequestedIpAddress(_) => code::REQUESTED_IP_ADDRESS,
            OptionRepr::LeaseTime(_) => code::LEASE_TIME,
            OptionRepr::MessageType(_) => code::MESSAGE_TYPE,
            OptionRepr::ServerIdentifier(_) => code::SERVER_IDENTIFIER,
            OptionRepr::ParameterRequestList(_) => code::PARAMETER_REQUEST_LIST,
            OptionRepr::MaxMessageSize(_) => code::MAX_MESSAGE_SIZE,
            OptionRepr::RenewalTime(_) => code::RENEWAL_TIME,
            OptionRepr::RebindingTime(_) => code::REBINDING_TIME,
            OptionRepr::VendorClassIdentifier(_) => code::VENDOR_CLASS_IDENTIFIER,
            OptionRepr::ClientIdentifier(_) => code::CLIENT_IDENTIFIER,
            OptionRepr::DomainSearch(_) => code::DOMAIN_SEARCH,
            OptionRepr::ViVendorClass(_) => code::VI_VENDOR_CLASS,
            OptionRepr::ViVendorSpecific(_) => code::VI_VENDOR_SPECIFIC,
            OptionRepr::Unknown { code, .. } => *code,
        }
    }

    /// Length of the option data (before RFC 3396 splitting).
    pub fn payload_len(&self) -> usize {
        match self {
            OptionRepr::MessageType(_) => 1,
            OptionRepr::MaxMessageSize(_) => 2,
            OptionRepr::SubnetMask(_)
            | OptionRepr::RequestedIpAddress(_)
            | OptionRepr::ServerIdentifier(_)
            | OptionRepr::LeaseTime(_)
            | OptionRepr::RenewalTime(_)
            | OptionRepr::RebindingTime(_) => 4,
            OptionRepr::Router(a) | OptionRepr::DomainNameServer(a) => 4 * a.len(),
            OptionRepr::HostName(d)
            | OptionRepr::DomainName(d)
            | OptionRepr::ParameterRequestList(d)
            | OptionRepr::VendorClassIdentifier(d)
            | OptionRepr::ClientIdentifier(d)
            | OptionRepr::Unknown { data: d, .. } => d.len(),
            OptionRepr::DomainSearch(names) => encode_list(names, true, None).unwrap_or(0),
            OptionRepr::ViVendorClass(blocks) => blocks
                .iter()
                .map(|b| 5 + b.data.iter().map(|d| 1 + d.len()).sum::<usize>())
                .sum(),
            OptionRepr::ViVendorSpecific(blocks) => blocks
                .iter()
                .map(|b| 5 + b.suboptions.iter().map(|s| 2 + s.data.len()).sum::<usize>())
                .sum(),
        }
    }

    /// Length on the wire including code/length headers of every RFC 3396 fragment.
    pub fn wire_len(&self) -> usize {
        let n = self.payload_len();
        n + 2 * n.div_ceil(255).max(1)
    }

    fn write_payload(&self, w: &mut Writer<'_>) -> Result<()> {
        match self {
            OptionRepr::MessageType(t) => w.u8((*t).into()),
            OptionRepr::MaxMessageSize(v) => w.u16(*v),
            OptionRepr::SubnetMask(a)
            | OptionRepr::RequestedIpAddress(a)
            | OptionRepr::ServerIdentifier(a) => w.put(&a.octets()),
            OptionRepr::LeaseTime(v)
            | OptionRepr::RenewalTime(v)
            | OptionRepr::RebindingTime(v) => w.u32(*v),
            OptionRepr::Router(a) | OptionRepr::DomainNameServer(a) => {
                a.iter().try_for_each(|a| w.put(&a.octets()))
            }
            OptionRepr::HostName(d)
            | OptionRepr::DomainName(d)
            | OptionRepr::ParameterRequestList(d)
            | OptionRepr::VendorClassIdentifier(d)
            | OptionRepr::ClientIdentifier(d)
            | OptionRepr::Unknown { data: d, .. } => w.put(d),
            OptionRepr::DomainSearch(names) => encode_list(names, true, Some(w)).map(|_| ()),
            OptionRepr::ViVendorClass(blocks) => blocks.iter().try_for_each(|b| {
                w.u32(b.enterprise)?;
                w.u8(len_u8(
                    b.data.iter().map(|d| 1 + d.len()).sum(),
                    "option 124 enterprise block",
                )?)?;
                b.data.iter().try_for_each(|d| {
                    w.u8(len_u8(d.len(), "option 124 vendor-class-data item")?)?;
                    w.put(d)
                })
            }),
            OptionRepr::ViVendorSpecific(blocks) => blocks.iter().try_for_each(|b| {
                w.u32(b.enterprise)?;
                w.u8(len_u8(
                    b.suboptions.iter().map(|s| 2 + s.data.len()).sum(),
                    "option 125 enterprise block",
                )?)?;
                b.suboptions.iter().try_for_each(|s| {
                    w.u8(s.code)?;
                    w.u8(len_u8(s.data.len(), "option 125 sub-option")?)?;
                    w.put(&s.data)
                })
            }),
        }
    }

    /// Writes the option, split into 255-byte fragments per RFC 3396 §5 when longer.
    fn emit(&self, w: &mut Writer<'_>) -> Result<()> {
        let code = self.code();
        if matches!(code, code::PAD | code::END | code::OVERLOAD) {
            return Err(Error::TooLong {
                what: "option with a framing code (0, 52 or 255)",
            });
        }
        let len = self.payload_len();
        let chunks = len.div_ceil(255).max(1);
        let start = w.pos;
        let total = len + 2 * chunks;
        if start + total > w.buf.len() {
            return Err(Error::BufferTooSmall {
                needed: start + total,
                available: w.buf.len(),
            });
        }
        // Write the data after room for every header, then slide each chunk down to its place,
        // lowest first: chunk i moves from start+2k+255i to start+257i+2, never over unread data.
        w.pos = start + 2 * chunks;
        self.write_payload(w)?;
        if w.pos != start + total {
            return Err(Error::TooLong {
                what: "option (length changed while encoding)",
            });
        }
        for i in 0..chunks {
            let src = start + 2 * chunks + 255 * i;
            let n = (len - 255 * i).min(255);
            let dst = start + 257 * i;
            if src + n <= w.buf.len() {
                w.buf.copy_within(src..src + n, dst + 2);
            }
            if let Some(h) = w.buf.get_mut(dst..dst + 2) {
                h.copy_from_slice(&[code, n as u8]);
            }
        }
        w.pos = start + 257 * (chunks - 1) + 2 + (len - 255 * (chunks - 1));
        Ok(())
    }

    /// The lantrust form (2) hint for an OFFER/ACK (draft §3.3): option 125 with enterprise
    /// 55357, sub-option 1 = FQDN, sub-option 2 = directory URL when given.
    pub fn acme_hint(fqdn: &Fqdn, directory_url: Option<&str>) -> Result<Self> {
        let mut suboptions = alloc::vec![VendorSubOption {
            code: SUBOPT_FQDN,
            data: fqdn.as_str().as_bytes().to_vec()
        }];
        if let Some(url) = directory_url {
            crate::hint::check_url(url.as_bytes(), 0)?;
            suboptions.push(VendorSubOption {
                code: SUBOPT_DIRECTORY_URL,
                data: url.as_bytes().to_vec(),
            });
        }
        let block = VendorSpecific {
            enterprise: ENTERPRISE_NUMBER,
            suboptions,
        };
        // 255 is the block's length limit (RFC 3925 §4).
        len_u8(
            block.suboptions.iter().map(|s| 2 + s.data.len()).sum(),
            "ACME hint (FQDN + URL too long)",
        )?;
        Ok(OptionRepr::ViVendorSpecific(alloc::vec![block]))
    }
}

/// An owned DHCPv4 message.
///
/// `sname`/`file` hold the raw fields when they are not overloaded; when a parsed message
/// overloaded them, their options are merged into `options` and the fields read as zeros.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repr {
    /// `op`.
    pub op: Op,
    /// `htype`.
    pub htype: u8,
    /// `hlen`.
    pub hlen: u8,
    /// `hops`.
    pub hops: u8,
    /// `xid`.
    pub xid: u32,
    /// `secs`.
    pub secs: u16,
    /// `flags`.
    pub flags: u16,
    /// `ciaddr`.
    pub ciaddr: Ipv4Addr,
    /// `yiaddr`.
    pub yiaddr: Ipv4Addr,
    /// `siaddr`.
    pub siaddr: Ipv4Addr,
    /// `giaddr`.
    pub giaddr: Ipv4Addr,
    /// `chaddr` (16 bytes).
    pub chaddr: [u8; 16],
    /// `sname` (64 bytes).
    pub sname: [u8; 64],
    /// `file` (128 bytes).
    pub file: [u8; 128],
    /// The options in order of first appearance, each concatenated per RFC 3396.
    pub options: Vec<OptionRepr>,
}

impl Repr {
    /// Parses a checked packet. Any malformed option fails the whole parse; see
    /// [`Repr::parse_lenient`] for messages from the wild.
    pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>) -> Result<Self> {
        packet.check()?;
        Self::parse_inner(packet, None)
    }

    /// Parses a message, keeping every well-formed option and setting aside the others: an option
    /// whose content breaks its RFC is left out of `options` and reported in the [`Warnings`];
    /// a framing error (an option running past its area, a bad overload) ends the walk there,
    /// keeping the options before it, and is reported too. Only a message without a BOOTP header
    /// and magic cookie is an error. The packet need not be checked
    /// ([`Packet::new_unchecked`] is fine).
    pub fn parse_lenient<T: AsRef<[u8]>>(packet: &Packet<T>) -> Result<(Self, Warnings)> {
        packet.check_header()?;
        let mut warnings = Warnings::new();
        let repr = Self::parse_inner(packet, Some(&mut warnings))?;
        Ok((repr, warnings))
    }

    /// [`Repr::parse_lenient`] on raw bytes.
    pub fn parse_bytes_lenient(bytes: &[u8]) -> Result<(Self, Warnings)> {
        Self::parse_lenient(&Packet::new_unchecked(bytes))
    }

    /// Strict when `warnings` is `None`, lenient otherwise.
    fn parse_inner<T: AsRef<[u8]>>(
        packet: &Packet<T>,
        mut warnings: Option<&mut Warnings>,
    ) -> Result<Self> {
        let overload = packet.overload();
        let mut sname = [0u8; 64];
        let mut file = [0u8; 128];
        if overload & 2 == 0 {
            sname.copy_from_slice(packet.sname());
        }
        if overload & 1 == 0 {
            file.copy_from_slice(packet.file());
        }
        let mut options = Vec::new();
        for opt in packet.options() {
            let opt = match (opt, warnings.as_deref_mut()) {
                (Ok(opt), _) => opt,
                (Err(e), Some(w)) => {
                    w.push(OptionWarning::framing(e));
                    break;
                }
                (Err(e), None) => return Err(e),
            };
            let typed = match opt.contiguous() {
                Some(d) => DhcpOption::parse(opt.code(), d, opt.offset() + 2).map(OptionRepr::from),
                None => {
                    let data = opt.to_vec();
                    DhcpOption::parse(opt.code(), &data, opt.offset() + 2).map(OptionRepr::from)
                }
            };
            match (typed, warnings.as_deref_mut()) {
                (Ok(typed), _) => options.push(typed),
                (Err(e), Some(w)) => w.add(opt.code().into(), opt.offset(), e),
                (Err(e), None) => return Err(e),
            }
        }
        Ok(Repr {
            op: packet.op(),
            htype: packet.htype(),
            hlen: packet.hlen(),
            hops: packet.hops(),
            xid: packet.xid(),
            secs: packet.secs(),
            flags: packet.flags(),
            ciaddr: packet.ciaddr(),
            yiaddr: packet.yiaddr(),
            siaddr: packet.siaddr(),
            giaddr: packet.giaddr(),
            chaddr: packet.chaddr(),
            sname,
            file,
            options,
        })
    }

    /// Parses raw bytes (shorthand for [`Packet::new_checked`] + [`Repr::parse`]).
    pub fn parse_bytes(bytes: &[u8]) -> Result<Self> {
        Self::parse(&Packet::new_checked(bytes)?)
    }

    /// Bytes [`Repr::emit`] will write (at least [`MIN_MESSAGE_LEN`]).
    pub fn buffer_len(&self) -> usize {
        (field::OPTIONS + self.options.iter().map(OptionRepr::wire_len).sum::<usize>() + 1)
            .max(MIN_MESSAGE_LEN)
    }

    /// Writes the message into `buf`, returning the length written. Long options are split per
    /// RFC 3396; the message ends with option 255 and is zero-padded to 300 bytes.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let needed = self.buffer_len();
        if buf.len() < needed {
            return Err(Error::BufferTooSmall {
                needed,
                available: buf.len(),
            });
        }
        let mut w = Writer::new(buf);
        w.u8(self.op.into())?;
        w.u8(self.htype)?;
        w.u8(self.hlen)?;
        w.u8(self.hops)?;
        w.u32(self.xid)?;
        w.u16(self.secs)?;
        w.u16(self.flags)?;
        for a in [self.ciaddr, self.yiaddr, self.siaddr, self.giaddr] {
            w.put(&a.octets())?;
        }
        w.put(&self.chaddr)?;
        w.put(&self.sname)?;
        w.put(&self.file)?;
        w.put(&MAGIC_COOKIE)?;
        for o in &self.options {
            o.emit(&mut w)?;
        }
        w.u8(code::END)?;
        let pad = needed.saturating_sub(w.pos);
        w.zeros(pad)?;
        Ok(w.pos)
    }

    /// Emits into a new vector.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut v = alloc::vec![0u8; self.buffer_len()];
        let n = self.emit(&mut v)?;
        v.truncate(n);
        Ok(v)
    }

    /// The first option with `code`.
    pub fn option(&self, code: u8) -> Option<&OptionRepr> {
        self.options.iter().find(|o| o.code() == code)
    }

    /// Option 53.
    pub fn message_type(&self) -> Option<MessageType> {
        self.options.iter().find_map(|o| match o {
            OptionRepr::MessageType(t) => Some(*t),
            _ => None,
        })
    }

    /// Replaces (or adds) the option with the same code.
    pub fn set_option(&mut self, option: OptionRepr) {
        let code = option.code();
        match self.options.iter_mut().find(|o| o.code() == code) {
            Some(slot) => *slot = option,
            None => self.options.push(option),
        }
    }

    /// Adds the draft §3.3 form (2) hint (option 125, enterprise 55357), replacing any 55357
    /// block already present and keeping other enterprises' blocks.
    pub fn set_acme_hint(&mut self, fqdn: &Fqdn, directory_url: Option<&str>) -> Result<()> {
        let OptionRepr::ViVendorSpecific(mut new) = OptionRepr::acme_hint(fqdn, directory_url)?
        else {
            return Err(Error::TooLong { what: "ACME hint" });
        };
        match self
            .options
            .iter_mut()
            .find(|o| o.code() == code::VI_VENDOR_SPECIFIC)
        {
            Some(OptionRepr::ViVendorSpecific(blocks)) => {
                blocks.retain(|b| b.enterprise != ENTERPRISE_NUMBER);
                blocks.append(&mut new);
            }
            _ => self.options.push(OptionRepr::ViVendorSpecific(new)),
        }
        Ok(())
    }

    fn client(message_type: MessageType, xid: u32, mac: [u8; 6]) -> Self {
        let mut chaddr = [0u8; 16];
        chaddr[..6].copy_from_slice(&mac);
        Repr {
            op: Op::BootRequest,
            htype: 1,
            hlen: 6,
            hops: 0,
            xid,
            secs: 0,
            flags: 0,
            ciaddr: Ipv4Addr::UNSPECIFIED,
            yiaddr: Ipv4Addr::UNSPECIFIED,
            siaddr: Ipv4Addr::UNSPECIFIED,
            giaddr: Ipv4Addr::UNSPECIFIED,
            chaddr,
            sname: [0; 64],
            file: [0; 128],
            options: alloc::vec![OptionRepr::MessageType(message_type)],
        }
    }

    /// Adds the options that ask for the ACME-server hint: a parameter request list with the
    /// usual network options plus 60, 124, 125 (and `acme_option`, the not-yet-assigned "ACME
    /// Server" code, when given), and a V-I vendor class (124) naming enterprise 55357 so that a
    /// server knows which vendor's 125 block to send (RFC 3925 §4).
    fn ask_for_hint(&mut self, acme_option: Option<u8>) {
        let mut prl = alloc::vec![
            code::SUBNET_MASK,
            code::ROUTER,
            code::DOMAIN_NAME_SERVER,
            code::DOMAIN_NAME,
            code::DOMAIN_SEARCH,
            code::LEASE_TIME,
            code::RENEWAL_TIME,
            code::REBINDING_TIME,
            code::VENDOR_CLASS_IDENTIFIER,
            code::VI_VENDOR_CLASS,
            code::VI_VENDOR_SPECIFIC,
        ];
        if let Some(c) = acme_option {
            prl.push(c);
        }
        self.options.push(OptionRepr::ParameterRequestList(prl));
        self.options.push(OptionRepr::MaxMessageSize(1500));
        self.options
            .push(OptionRepr::ViVendorClass(alloc::vec![VendorClass {
                enterprise: ENTERPRISE_NUMBER,
                data: alloc::vec![b"lantrust".to_vec()],
            }]));
    }

    /// A DHCPDISCOVER (RFC 2131 §4.4.1) from `mac`, broadcast flag set, asking for the hint.
    pub fn discover(xid: u32, mac: [u8; 6], acme_option: Option<u8>) -> Self {
        let mut r = Self::client(MessageType::Discover, xid, mac);
        r.flags = 0x8000;
        r.ask_for_hint(acme_option);
        r
    }

    /// A DHCPREQUEST in SELECTING state (RFC 2131 §4.3.2) for `offered` from `server`.
    pub fn request(
        xid: u32,
        mac: [u8; 6],
        offered: Ipv4Addr,
        server: Ipv4Addr,
        acme_option: Option<u8>,
    ) -> Self {
        let mut r = Self::client(MessageType::Request, xid, mac);
        r.flags = 0x8000;
        r.options.push(OptionRepr::RequestedIpAddress(offered));
        r.options.push(OptionRepr::ServerIdentifier(server));
        r.ask_for_hint(acme_option);
        r
    }

    /// A DHCPINFORM (RFC 2131 §4.4.3) from a client that already has `ciaddr`.
    pub fn inform(xid: u32, mac: [u8; 6], ciaddr: Ipv4Addr, acme_option: Option<u8>) -> Self {
        let mut r = Self::client(MessageType::Inform, xid, mac);
        r.ciaddr = ciaddr;
        r.ask_for_hint(acme_option);
        r
    }

    /// A server reply (OFFER, ACK) to `request` (RFC 2131 §4.3.1, table 3) carrying `lease`.
    /// Add the ACME hint with [`Repr::set_acme_hint`].
    pub fn reply(request: &Repr, message_type: MessageType, lease: &ServerLease) -> Self {
        let inform = request.message_type() == Some(MessageType::Inform);
        let mut options = alloc::vec![
            OptionRepr::MessageType(message_type),
            OptionRepr::ServerIdentifier(lease.server_id)
        ];
        if !inform {
            options.push(OptionRepr::LeaseTime(lease.lease_time));
            options.push(OptionRepr::RenewalTime(lease.lease_time / 2));
            options.push(OptionRepr::RebindingTime(lease.lease_time / 8 * 7));
        }
        options.push(OptionRepr::SubnetMask(lease.subnet_mask));
        if !lease.routers.is_empty() {
            options.push(OptionRepr::Router(lease.routers.clone()));
        }
        if !lease.dns_servers.is_empty() {
            options.push(OptionRepr::DomainNameServer(lease.dns_servers.clone()));
        }
        if let Some(d) = &lease.domain_name {
            options.push(OptionRepr::DomainName(d.as_bytes().to_vec()));
        }
        if !lease.domain_search.is_empty() {
            options.push(OptionRepr::DomainSearch(lease.domain_search.clone()));
        }
        Repr {
            op: Op::BootReply,
            htype: request.htype,
            hlen: request.hlen,
            hops: 0,
            xid: request.xid,
            secs: 0,
            flags: request.flags,
            ciaddr: if inform {
                request.ciaddr
            } else {
                Ipv4Addr::UNSPECIFIED
            },
            yiaddr: if inform {
                Ipv4Addr::UNSPECIFIED
            } else {
                lease.address
            },
            siaddr: Ipv4Addr::UNSPECIFIED,
            giaddr: request.giaddr,
            chaddr: request.chaddr,
            sname: [0; 64],
            file: [0; 128],
            options,
        }
    }
}

/// What a server hands out in an OFFER/ACK; see [`Repr::reply`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerLease {
    /// Server identifier (54).
    pub server_id: Ipv4Addr,
    /// Address offered (`yiaddr`; ignored for INFORM).
    pub address: Ipv4Addr,
    /// Subnet mask (1).
    pub subnet_mask: Ipv4Addr,
    /// Routers (3).
    pub routers: Vec<Ipv4Addr>,
    /// DNS servers (6).
    pub dns_servers: Vec<Ipv4Addr>,
    /// Domain name (15).
    pub domain_name: Option<String>,
    /// Domain search list (119).
    pub domain_search: Vec<Name>,
    /// Lease time (51); T1 and T2 are derived as 1/2 and 7/8 (RFC 2131 §4.4.5).
    pub lease_time: u32,
}
