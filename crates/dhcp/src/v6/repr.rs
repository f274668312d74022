//! Owned DHCPv6 message representation (needs `alloc`).

use alloc::vec::Vec;
use core::net::Ipv6Addr;

use super::{
    Dhcpv6Option, MessageType, Packet, addresses, code, field, oro_codes, vendor_class_items,
    vendor_suboptions,
};
use crate::error::{Error, Result};
use crate::hint::{ENTERPRISE_NUMBER, SUBOPT_DIRECTORY_URL, SUBOPT_FQDN};
use crate::name::{Fqdn, Name, encode_list};
use crate::warning::{OptionWarning, Warnings};
use crate::wire::{Writer, len_u16};

/// The fixed part of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Header {
    /// Client/server messages (RFC 8415 §8).
    Client {
        /// 24-bit transaction id.
        transaction_id: u32,
    },
    /// Relay messages (RFC 8415 §9).
    Relay {
        /// Hop count.
        hop_count: u8,
        /// Link address.
        link_address: Ipv6Addr,
        /// Peer address.
        peer_address: Ipv6Addr,
    },
}

/// An owned DHCPv6 option.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OptionRepr {
    /// 1
    ClientId(Vec<u8>),
    /// 2
    ServerId(Vec<u8>),
    /// 3
    IaNa {
        /// IAID.
        iaid: u32,
        /// T1.
        t1: u32,
        /// T2.
        t2: u32,
        /// Nested options.
        options: Vec<OptionRepr>,
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
        options: Vec<OptionRepr>,
    },
    /// 6
    Oro(Vec<u16>),
    /// 7
    Preference(u8),
    /// 8
    ElapsedTime(u16),
    /// 13
    StatusCode {
        /// Status.
        status: u16,
        /// Message.
        message: Vec<u8>,
    },
    /// 14
    RapidCommit,
    /// 16
    VendorClass {
        /// Enterprise.
        enterprise: u32,
        /// Items.
        data: Vec<Vec<u8>>,
    },
    /// 17
    VendorOpts {
        /// Enterprise.
        enterprise: u32,
        /// Sub-options (code, data).
        options: Vec<(u16, Vec<u8>)>,
    },
    /// 23
    DnsServers(Vec<Ipv6Addr>),
    /// 24
    DomainList(Vec<Name>),
    /// Anything else (IA_TA, IA_PD, … are kept raw).
    Unknown {
        /// Code.
        code: u16,
        /// Data.
        data: Vec<u8>,
    },
}

/// Parses a list of options: strictly when `warnings` is `None`; otherwise a bad option is
/// left out and reported, and a framing error ends the list (keeping what came before).
fn parse_list(
    options: super::Options<'_>,
    mut warnings: Option<&mut Warnings>,
) -> Result<Vec<OptionRepr>> {
    let mut out = Vec::new();
    for o in options {
        let o = match (o, warnings.as_deref_mut()) {
            (Ok(o), _) => o,
            (Err(e), Some(w)) => {
                w.push(OptionWarning::framing(e));
                break;
            }
            (Err(e), None) => return Err(e),
        };
        let typed =
            super::parse_checked(&o).and_then(|t| OptionRepr::convert(t, warnings.as_deref_mut()));
        match (typed, warnings.as_deref_mut()) {
            (Ok(t), _) => out.push(t),
            (Err(e), Some(w)) => w.push(OptionWarning {
                code: o.code,
                offset: o.offset,
                error: e,
            }),
            (Err(e), None) => return Err(e),
        }
    }
    Ok(out)
}

impl TryFrom<Dhcpv6Option<'_>> for OptionRepr {
    type Error = Error;
    fn try_from(o: Dhcpv6Option<'_>) -> Result<Self> {
        OptionRepr::convert(o, None)
    }
}

impl OptionRepr {
    /// The owned form; nested options are parsed strictly unless `warnings` is given.
    fn convert(o: Dhcpv6Option<'_>, warnings: Option<&mut Warnings>) -> Result<Self> {
        Ok(match o {
            Dhcpv6Option::ClientId(d) => OptionRepr::ClientId(d.to_vec()),
            Dhcpv6Option::ServerId(d) => OptionRepr::ServerId(d.to_vec()),
            Dhcpv6Option::IaNa {
                iaid,
                t1,
                t2,
                options,
            } => OptionRepr::IaNa {
                iaid,
                t1,
                t2,
                options: parse_list(options, warnings)?,
            },
            Dhcpv6Option::IaAddr {
                address,
                preferred,
                valid,
                options,
            } => OptionRepr::IaAddr {
                address,
                preferred,
                valid,
                options: parse_list(options, warnings)?,
            },
            Dhcpv6Option::Oro(d) => OptionRepr::Oro(oro_codes(d).collect()),
            Dhcpv6Option::Preference(p) => OptionRepr::Preference(p),
            Dhcpv6Option::ElapsedTime(t) => OptionRepr::ElapsedTime(t),
            Dhcpv6Option::StatusCode { status, message } => OptionRepr::StatusCode {
                status,
                message: message.to_vec(),
            },
            Dhcpv6Option::RapidCommit => OptionRepr::RapidCommit,
            Dhcpv6Option::VendorClass { enterprise, data } => OptionRepr::VendorClass {
                enterprise,
                data: vendor_class_items(data).map(<[u8]>::to_vec).collect(),
            },
            Dhcpv6Option::VendorOpts {
                enterprise,
                options,
            } => OptionRepr::VendorOpts {
                enterprise,
                options: vendor_suboptions(options)
                    .map(|(c, d)| (c, d.to_vec()))
                    .collect(),
            },
            Dhcpv6Option::DnsServers(d) => OptionRepr::DnsServers(addresses(d).collect()),
            Dhcpv6Option::DomainList(l) => OptionRepr::DomainList(l.iter().collect()),
            Dhcpv6Option::Unknown { code, data } => OptionRepr::Unknown {
                code,
                data: data.to_vec(),
            },
        })
    }
}

impl OptionRepr {
    /// The option code.
    pub fn code(&self) -> u16 {
        match self {
            OptionRepr::ClientId(_) => code::CLIENTID,
            OptionRepr::ServerId(_) => code::SERVERID,
            OptionRepr::IaNa { .. } => code::IA_NA,
            OptionRepr::IaAddr { .. } => code::IAADDR,
            OptionRepr::Oro(_) => code::ORO,
            OptionRepr::Preference(_) => code::PREFERENCE,
            OptionRepr::ElapsedTime(_) => code::ELAPSED_TIME,
            OptionRepr::StatusCode { .. } => code::STATUS_CODE,
            OptionRepr::RapidCommit => code::RAPID_COMMIT,
            OptionRepr::VendorClass { .. } => code::VENDOR_CLASS,
            OptionRepr::VendorOpts { .. } => code::VENDOR_OPTS,
            OptionRepr::DnsServers(_) => code::DNS_SERVERS,
            OptionRepr::DomainList(_) => code::DOMAIN_LIST,
            OptionRepr::Unknown { code, .. } => *code,
        }
    }

    /// Data length (without the 4-byte header).
    pub fn payload_len(&self) -> usize {
        match self {
            OptionRepr::ClientId(d)
            | OptionRepr::ServerId(d)
            | OptionRepr::Unknown { data: d, .. } => d.len(),
            OptionRepr::IaNa { options, .. } => {
                12 + options.iter().map(OptionRepr::wire_len).sum::<usize>()
            }
            OptionRepr::IaAddr { options, .. } => {
                24 + options.iter().map(OptionRepr::wire_len).sum::<usize>()
            }
            OptionRepr::Oro(c) => 2 * c.len(),
            OptionRepr::Preference(_) => 1,
            OptionRepr::ElapsedTime(_) => 2,
            OptionRepr::StatusCode { message, .. } => 2 + message.len(),
            OptionRepr::RapidCommit => 0,
            OptionRepr::VendorClass { data, .. } => {
                4 + data.iter().map(|d| 2 + d.len()).sum::<usize>()
            }
            OptionRepr::VendorOpts { options, .. } => {
                4 + options.iter().map(|(_, d)| 4 + d.len()).sum::<usize>()
            }
            OptionRepr::DnsServers(a) => 16 * a.len(),
            OptionRepr::DomainList(names) => names.iter().map(|n| n.as_wire().len()).sum(),
        }
    }

    /// Length on the wire.
    pub fn wire_len(&self) -> usize {
        4 + self.payload_len()
    }

    fn emit(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u16(self.code())?;
        w.u16(len_u16(self.payload_len(), "DHCPv6 option")?)?;
        match self {
            OptionRepr::ClientId(d)
            | OptionRepr::ServerId(d)
            | OptionRepr::Unknown { data: d, .. } => w.put(d),
            OptionRepr::IaNa {
                iaid,
                t1,
                t2,
                options,
            } => {
                w.u32(*iaid)?;
                w.u32(*t1)?;
                w.u32(*t2)?;
                options.iter().try_for_each(|o| o.emit(w))
            }
            OptionRepr::IaAddr {
                address,
                preferred,
                valid,
                options,
            } => {
                w.put(&address.octets())?;
                w.u32(*preferred)?;
                w.u32(*valid)?;
                options.iter().try_for_each(|o| o.emit(w))
            }
            OptionRepr::Oro(c) => c.iter().try_for_each(|c| w.u16(*c)),
            OptionRepr::Preference(p) => w.u8(*p),
            OptionRepr::ElapsedTime(t) => w.u16(*t),
            OptionRepr::StatusCode { status, message } => {
                w.u16(*status)?;
                w.put(message)
            }
            OptionRepr::RapidCommit => Ok(()),
            OptionRepr::VendorClass { enterprise, data } => {
                w.u32(*enterprise)?;
                data.iter().try_for_each(|d| {
                    w.u16(len_u16(d.len(), "vendor-class item")?)?;
                    w.put(d)
                })
            }
            OptionRepr::VendorOpts {
                enterprise,
                options,
            } => {
                w.u32(*enterprise)?;
                options.iter().try_for_each(|(c, d)| {
                    w.u16(*c)?;
                    w.u16(len_u16(d.len(), "vendor sub-option")?)?;
                    w.put(d)
                })
            }
            OptionRepr::DnsServers(a) => a.iter().try_for_each(|a| w.put(&a.octets())),
            OptionRepr::DomainList(names) => encode_list(names, false, Some(w)).map(|_| ()),
        }
    }

    /// The lantrust form (2) hint for ADVERTISE/REPLY: option 17, enterprise 55357,
    /// sub-option 1 = FQDN, sub-option 2 = directory URL when given.
    pub fn acme_hint(fqdn: &Fqdn, directory_url: Option<&str>) -> Result<Self> {
        let mut options = alloc::vec![(u16::from(SUBOPT_FQDN), fqdn.as_str().as_bytes().to_vec())];
        if let Some(url) = directory_url {
            crate::hint::check_url(url.as_bytes(), 0)?;
            options.push((u16::from(SUBOPT_DIRECTORY_URL), url.as_bytes().to_vec()));
        }
        Ok(OptionRepr::VendorOpts {
            enterprise: ENTERPRISE_NUMBER,
            options,
        })
    }
}

/// An owned DHCPv6 message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repr {
    /// Message type.
    pub msg_type: MessageType,
    /// Header fields (client/server or relay form, matching `msg_type`).
    pub header: Header,
    /// Top-level options in order.
    pub options: Vec<OptionRepr>,
}

impl Repr {
    /// Parses a packet (checking it first). Any malformed option fails the whole parse; see
    /// [`Repr::parse_lenient`] for messages from the wild.
    pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>) -> Result<Self> {
        packet.check()?;
        Self::parse_inner(packet, None)
    }

    /// Parses a message, keeping every well-formed option and setting aside the others: an
    /// option whose content (or nested option) breaks RFC 8415 is left out and reported in the
    /// [`Warnings`]; a framing error ends its list of options there, keeping what came before,
    /// and is reported too. Only a message shorter than its fixed header is an error. The packet
    /// need not be checked ([`Packet::new_unchecked`] is fine).
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

    fn parse_inner<T: AsRef<[u8]>>(
        packet: &Packet<T>,
        warnings: Option<&mut Warnings>,
    ) -> Result<Self> {
        let msg_type = packet.msg_type();
        let header = if msg_type.is_relay() {
            Header::Relay {
                hop_count: packet.hop_count(),
                link_address: packet.link_address(),
                peer_address: packet.peer_address(),
            }
        } else {
            Header::Client {
                transaction_id: packet.transaction_id(),
            }
        };
        Ok(Repr {
            msg_type,
            header,
            options: parse_list(packet.options(), warnings)?,
        })
    }

    /// Parses raw bytes.
    pub fn parse_bytes(bytes: &[u8]) -> Result<Self> {
        Self::parse(&Packet::new_checked(bytes)?)
    }

    /// Bytes [`Repr::emit`] writes.
    pub fn buffer_len(&self) -> usize {
        let header = if self.msg_type.is_relay() {
            field::RELAY_OPTIONS
        } else {
            field::OPTIONS
        };
        header + self.options.iter().map(OptionRepr::wire_len).sum::<usize>()
    }

    /// Writes the message; returns its length. The header form follows `msg_type`.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let needed = self.buffer_len();
        if buf.len() < needed {
            return Err(Error::BufferTooSmall {
                needed,
                available: buf.len(),
            });
        }
        let mut w = Writer::new(buf);
        w.u8(self.msg_type.into())?;
        match (self.msg_type.is_relay(), self.header) {
            (false, Header::Client { transaction_id }) => {
                w.put(&transaction_id.to_be_bytes()[1..])?
            }
            (
                true,
                Header::Relay {
                    hop_count,
                    link_address,
                    peer_address,
                },
            ) => {
                w.u8(hop_count)?;
                w.put(&link_address.octets())?;
                w.put(&peer_address.octets())?;
            }
            _ => {
                return Err(Error::TooLong {
                    what: "DHCPv6 header (relay header on a client message or vice versa)",
                });
            }
        }
        for o in &self.options {
            o.emit(&mut w)?;
        }
        Ok(w.pos)
    }

    /// Emits into a new vector.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut v = alloc::vec![0u8; self.buffer_len()];
        let n = self.emit(&mut v)?;
        v.truncate(n);
        Ok(v)
    }

    /// The first top-level option with `code`.
    pub fn option(&self, code: u16) -> Option<&OptionRepr> {
        self.options.iter().find(|o| o.code() == code)
    }

    fn oro(acme_option: Option<u16>) -> OptionRepr {
        let mut codes = alloc::vec![code::DNS_SERVERS, code::DOMAIN_LIST, code::VENDOR_OPTS];
        codes.extend(acme_option);
        OptionRepr::Oro(codes)
    }

    fn client(
        msg_type: MessageType,
        transaction_id: u32,
        client_duid: &[u8],
        acme_option: Option<u16>,
    ) -> Self {
        Repr {
            msg_type,
            header: Header::Client {
                transaction_id: transaction_id & 0x00FF_FFFF,
            },
            options: alloc::vec![
                OptionRepr::ClientId(client_duid.to_vec()),
                OptionRepr::ElapsedTime(0),
                Self::oro(acme_option),
                OptionRepr::VendorClass {
                    enterprise: ENTERPRISE_NUMBER,
                    data: alloc::vec![b"lantrust".to_vec()]
                },
            ],
        }
    }

    /// A SOLICIT (RFC 8415 §18.2.1) with an IA_NA and an ORO asking for DNS, domains and the hint.
    pub fn solicit(
        transaction_id: u32,
        client_duid: &[u8],
        iaid: u32,
        acme_option: Option<u16>,
    ) -> Self {
        let mut r = Self::client(
            MessageType::Solicit,
            transaction_id,
            client_duid,
            acme_option,
        );
        r.options.push(OptionRepr::IaNa {
            iaid,
            t1: 0,
            t2: 0,
            options: Vec::new(),
        });
        r
    }

    /// An INFORMATION-REQUEST (RFC 8415 §18.2.6) asking for DNS, domains and the hint.
    pub fn information_request(
        transaction_id: u32,
        client_duid: &[u8],
        acme_option: Option<u16>,
    ) -> Self {
        Self::client(
            MessageType::InformationRequest,
            transaction_id,
            client_duid,
            acme_option,
        )
    }

    /// A server ADVERTISE or REPLY to `request`: echoes the client id and transaction id, adds
    /// the server id, DNS servers and domain list. Add the hint with [`Repr::set_acme_hint`].
    pub fn reply(
        request: &Repr,
        msg_type: MessageType,
        server_duid: &[u8],
        dns: &[Ipv6Addr],
        domains: &[Name],
    ) -> Self {
        let mut options = Vec::new();
        if let Some(c) = request.option(code::CLIENTID) {
            options.push(c.clone());
        }
        options.push(OptionRepr::ServerId(server_duid.to_vec()));
        if !dns.is_empty() {
            options.push(OptionRepr::DnsServers(dns.to_vec()));
        }
        if !domains.is_empty() {
            options.push(OptionRepr::DomainList(domains.to_vec()));
        }
        Repr {
            msg_type,
            header: request.header,
            options,
        }
    }

    /// Adds (replacing an earlier 55357 block) the form (2) hint.
    pub fn set_acme_hint(&mut self, fqdn: &Fqdn, directory_url: Option<&str>) -> Result<()> {
        let hint = OptionRepr::acme_hint(fqdn, directory_url)?;
        self.options
            .retain(|o| !matches!(o, OptionRepr::VendorOpts { enterprise, .. } if *enterprise == ENTERPRISE_NUMBER));
        self.options.push(hint);
        Ok(())
    }
}
