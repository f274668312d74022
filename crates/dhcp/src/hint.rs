//! ACME-server discovery hints (draft-sweet-iot-acme §3.3, §5.1).
//!
//! Precedence, first form present wins:
//! 1. the "ACME Server" option, whose code is a parameter ([`HintConfig`]) until IANA assigns
//!    one; payload an FQDN as text or in RFC 1035 wire form;
//! 2. V-I vendor-specific information (v4 option 125 / v6 option 17) for enterprise 55357:
//!    sub-option 1 = FQDN, sub-option 2 = optional directory URL;
//! 3. V-I vendor class (v4 124 / v6 16) for enterprise 55357, first data item = FQDN;
//! 4. vendor class identifier (v4 option 60) `55357:<fqdn>`, the draft's prototyping form.
//!
//! A form that is present but malformed is an error rather than a reason to fall back to a
//! weaker form: a misconfigured router should be noticed, not silently outvoted.
//!
//! Enterprise-tagged data (v4 124 and 125 blocks, v6 16 and 17 options) follows one rule in
//! both protocols: another enterprise's block is skipped whatever it holds, even when malformed
//! (it is that vendor's business, RFC 3925 §3-4, RFC 8415 §21.16-21.17), and so is a block too
//! short to name its enterprise; only a block of enterprise 55357 is read, and a malformed one is
//! an error. Option 124 is read in every [`v4::VendorClassLayout`] (RFC 3925, Kea 2.2 and dhcpcd
//! 9.x without the data-len byte, a lone enterprise number).

#[cfg(feature = "alloc")]
use alloc::string::String;
use core::fmt;

use crate::error::{Error, Result};
use crate::name::Fqdn;
use crate::{v4, v6, wire};

/// IANA private enterprise number 55357 (Lakeside Robotics Corporation), the draft's prototype.
pub const ENTERPRISE_NUMBER: u32 = 55357;
/// Sub-option carrying the ACME server FQDN.
pub const SUBOPT_FQDN: u8 = 1;
/// Sub-option carrying the ACME directory URL.
pub const SUBOPT_DIRECTORY_URL: u8 = 2;
/// Longest directory URL accepted.
pub const MAX_URL_LEN: usize = 255;

/// Which option codes to honour for form (1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HintConfig {
    /// DHCPv4 code of the "ACME Server" option (not yet assigned by IANA).
    pub v4_acme_option: Option<u8>,
    /// DHCPv6 code of the "ACME Server" option (not yet assigned by IANA).
    pub v6_acme_option: Option<u16>,
}

/// Which form the hint came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HintSource {
    /// Form (1): the configured ACME Server option.
    AcmeServerOption,
    /// Form (2): option 125 / v6 17.
    VendorSpecificInfo,
    /// Form (3): option 124 / v6 16.
    VendorClass,
    /// Form (4): option 60.
    VendorClassIdentifier,
}

/// A validated `https://` URL, stored inline.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct DirectoryUrl {
    buf: [u8; MAX_URL_LEN],
    len: u8,
}

impl DirectoryUrl {
    /// Validates and stores `url`.
    pub fn new(url: &[u8]) -> Result<Self> {
        check_url(url, 0)?;
        let mut buf = [0u8; MAX_URL_LEN];
        buf.get_mut(..url.len())
            .ok_or(Error::InvalidUrl { offset: 0 })?
            .copy_from_slice(url);
        Ok(DirectoryUrl {
            buf,
            len: url.len() as u8,
        })
    }
    /// The URL.
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(self.buf.get(..usize::from(self.len)).unwrap_or_default())
            .unwrap_or_default()
    }
}

impl fmt::Debug for DirectoryUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for DirectoryUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `https://`, printable ASCII without spaces, at most 255 bytes.
pub(crate) fn check_url(url: &[u8], offset: usize) -> Result<()> {
    let ok = url.len() <= MAX_URL_LEN
        && url.len() > "https://".len()
        && url
            .get(..8)
            .is_some_and(|p| p.eq_ignore_ascii_case(b"https://"))
        && url.iter().all(|b| b.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidUrl { offset })
    }
}

/// Where a device finds its local ACME server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AcmeServerHint {
    /// The server's validated host name.
    pub fqdn: Fqdn,
    /// The directory URL, when the network gave one (form 2 only).
    pub directory_url: Option<DirectoryUrl>,
    /// Which form it came from.
    pub source: HintSource,
}

fn fqdn_at(text: &[u8], offset: usize) -> Result<Fqdn> {
    Fqdn::from_bytes(text).map_err(|reason| Error::InvalidFqdn { offset, reason })
}

/// Form (1) payload: RFC 1035 wire form or plain text.
fn fqdn_payload(data: &[u8], offset: usize) -> Result<Fqdn> {
    match Fqdn::from_wire(data) {
        Some(r) => r.map_err(|reason| Error::InvalidFqdn { offset, reason }),
        None => fqdn_at(data, offset),
    }
}

impl AcmeServerHint {
    /// The directory URL given by the network, or `https://<fqdn>/acme/directory` (lantrust's
    /// server layout) when it gave none. Needs `alloc`.
    #[cfg(feature = "alloc")]
    pub fn directory_url_or_default(&self) -> String {
        match &self.directory_url {
            Some(u) => String::from(u.as_str()),
            None => alloc::format!("https://{}/acme/directory", self.fqdn),
        }
    }

    /// Parses `bytes` as a DHCPv4 message and extracts the hint. The BOOTP header and magic
    /// cookie must be right; a framing error in the options (an option running past the end, a
    /// bad overload) is not fatal: the options before it are still read, so a broken unrelated
    /// option after the hint does not hide it.
    pub fn from_v4_bytes(bytes: &[u8], config: &HintConfig) -> Result<Option<Self>> {
        match v4::Packet::new_checked(bytes) {
            Ok(packet) => Self::from_v4(&packet, config),
            Err(e @ (Error::Truncated { .. } | Error::BadMagicCookie { .. })) => Err(e),
            Err(_) => Self::from_v4(&v4::Packet::new_unchecked(bytes), config),
        }
    }

    /// Parses `bytes` as a DHCPv6 message and extracts the hint. The top-level options must be
    /// framed right; a framing error nested inside an unrelated option (an IA_NA whose IAADDR
    /// runs past it) does not hide the hint, which is read from top-level options only.
    pub fn from_v6_bytes(bytes: &[u8], config: &HintConfig) -> Result<Option<Self>> {
        match v6::Packet::new_checked(bytes) {
            Ok(packet) => Self::from_v6(&packet, config),
            Err(e) => {
                let packet = v6::Packet::new_unchecked(bytes);
                match packet.check_top_level() {
                    Ok(()) => Self::from_v6(&packet, config),
                    Err(_) => Err(e),
                }
            }
        }
    }

    /// Extracts the hint from a DHCPv4 message, in the module's precedence. Allocates nothing;
    /// options split per RFC 3396 are read across their fragments.
    pub fn from_v4<T: AsRef<[u8]>>(
        packet: &v4::Packet<T>,
        config: &HintConfig,
    ) -> Result<Option<Self>> {
        use v4::code;
        let mut buf = [0u8; 255];
        // (1)
        if let Some(c) = config.v4_acme_option {
            if let Some(opt) = packet.option(c) {
                let offset = opt.offset() + 2;
                let data = opt.copy_to(&mut buf).map_err(|_| Error::InvalidFqdn {
                    offset,
                    reason: crate::error::FqdnError::TooLong,
                })?;
                let fqdn = fqdn_payload(data, offset)?;
                return Ok(Some(AcmeServerHint {
                    fqdn,
                    directory_url: None,
                    source: HintSource::AcmeServerOption,
                }));
            }
        }
        // (2)
        if let Some(opt) = packet.option(code::VI_VENDOR_SPECIFIC) {
            if let Some(h) = v4_vendor_specific(&opt, &mut buf)? {
                return Ok(Some(h));
            }
        }
        // (3)
        if let Some(opt) = packet.option(code::VI_VENDOR_CLASS) {
            if let Some(h) = v4_vendor_class(&opt, &mut buf)? {
                return Ok(Some(h));
            }
        }
        // (4)
        if let Some(opt) = packet.option(code::VENDOR_CLASS_IDENTIFIER) {
            let offset = opt.offset() + 2;
            if let Ok(data) = opt.copy_to(&mut buf) {
                if let Some(h) = from_vendor_class_identifier(data, offset)? {
                    return Ok(Some(h));
                }
            }
        }
        Ok(None)
    }

    /// Extracts the hint from a DHCPv6 message (top-level options), in the module's precedence.
    pub fn from_v6<T: AsRef<[u8]>>(
        packet: &v6::Packet<T>,
        config: &HintConfig,
    ) -> Result<Option<Self>> {
        use v6::code;
        // (1)
        if let Some(c) = config.v6_acme_option {
            if let Some(o) = packet.option(c) {
                let fqdn = fqdn_payload(o.data, o.offset + 4)?;
                return Ok(Some(AcmeServerHint {
                    fqdn,
                    directory_url: None,
                    source: HintSource::AcmeServerOption,
                }));
            }
        }
        // (2): option 17 may appear once per enterprise (RFC 8415 §21.17).
        for o in packet
            .options()
            .flatten()
            .filter(|o| o.code == code::VENDOR_OPTS)
        {
            if !is_ours(wire::u32_at(o.data, 0)) {
                continue;
            }
            let v6::Dhcpv6Option::VendorOpts { options, .. } = o.parse()? else {
                continue;
            };
            let base = o.offset + 8;
            let mut fqdn = None;
            let mut url = None;
            let mut pos = 0usize;
            for (sub, data) in v6::vendor_suboptions(options) {
                let at = base + pos + 4;
                pos += 4 + data.len();
                if sub == u16::from(SUBOPT_FQDN) && fqdn.is_none() {
                    fqdn = Some(fqdn_at(data, at)?);
                } else if sub == u16::from(SUBOPT_DIRECTORY_URL) && url.is_none() {
                    check_url(data, at)?;
                    url = Some(
                        DirectoryUrl::new(data).map_err(|_| Error::InvalidUrl { offset: at })?,
                    );
                }
            }
            if let Some(fqdn) = fqdn {
                return Ok(Some(AcmeServerHint {
                    fqdn,
                    directory_url: url,
                    source: HintSource::VendorSpecificInfo,
                }));
            }
        }
        // (3): option 16, likewise once per enterprise (RFC 8415 §21.16).
        for o in packet
            .options()
            .flatten()
            .filter(|o| o.code == code::VENDOR_CLASS)
        {
            if !is_ours(wire::u32_at(o.data, 0)) {
                continue;
            }
            let v6::Dhcpv6Option::VendorClass { data, .. } = o.parse()? else {
                continue;
            };
            if let Some(item) = v6::vendor_class_items(data).next() {
                let fqdn = fqdn_at(item, o.offset + 10)?;
                return Ok(Some(AcmeServerHint {
                    fqdn,
                    directory_url: None,
                    source: HintSource::VendorClass,
                }));
            }
        }
        Ok(None)
    }
}

fn from_vendor_class_identifier(data: &[u8], offset: usize) -> Result<Option<AcmeServerHint>> {
    let Some(rest) = data.strip_prefix(b"55357:") else {
        return Ok(None);
    };
    let fqdn = fqdn_at(rest, offset + 6)?;
    Ok(Some(AcmeServerHint {
        fqdn,
        directory_url: None,
        source: HintSource::VendorClassIdentifier,
    }))
}

/// The one rule for enterprise-tagged data, v4 and v6 alike (see the module docs): only a block
/// that names enterprise 55357 is ours to read (and to report when malformed); any other block,
/// or one too short to name its enterprise, is skipped whatever it holds.
fn is_ours(enterprise: Option<u32>) -> bool {
    enterprise == Some(ENTERPRISE_NUMBER)
}

fn malformed<C: v4::Cursor>(r: &C, code: u8) -> Error {
    Error::MalformedSubOption {
        offset: r.position(),
        code: code.into(),
    }
}

/// Form (2) from option 125 (RFC 3925 §4 blocks), streaming across RFC 3396 fragments.
fn v4_vendor_specific(
    opt: &v4::LongOption<'_>,
    buf: &mut [u8; 255],
) -> Result<Option<AcmeServerHint>> {
    let code = v4::code::VI_VENDOR_SPECIFIC;
    let mut r = opt.reader();
    while r.remaining() > 0 {
        let block_at = r.position();
        let enterprise = r.read_u32();
        let len = r.read_u8().map(usize::from).filter(|l| *l <= r.remaining());
        if !is_ours(enterprise) {
            // Another vendor's block: skip it; when its framing is broken, nothing after it
            // can be found, so stop quietly.
            match len {
                Some(len) if r.skip(len) => continue,
                _ => return Ok(None),
            }
        }
        let Some(len) = len else {
            return Err(Error::MalformedSubOption {
                offset: block_at,
                code: code.into(),
            });
        };
        let mut fqdn = None;
        let mut url = None;
        let mut left = len;
        while left > 0 {
            let sub_at = r.position();
            let (Some(sub), Some(sub_len)) = (r.read_u8(), r.read_u8()) else {
                return Err(malformed(&r, code));
            };
            let sub_len = usize::from(sub_len);
            if left < 2 + sub_len {
                return Err(Error::MalformedSubOption {
                    offset: sub_at,
                    code: code.into(),
                });
            }
            left -= 2 + sub_len;
            let at = r.position();
            let dst = buf.get_mut(..sub_len).ok_or_else(|| malformed(&r, code))?;
            if !r.read_into(dst) {
                return Err(malformed(&r, code));
            }
            if sub == SUBOPT_FQDN && fqdn.is_none() {
                fqdn = Some(fqdn_at(dst, at)?);
            } else if sub == SUBOPT_DIRECTORY_URL && url.is_none() {
                url = Some(DirectoryUrl::new(dst).map_err(|_| Error::InvalidUrl { offset: at })?);
            }
        }
        if let Some(fqdn) = fqdn {
            return Ok(Some(AcmeServerHint {
                fqdn,
                directory_url: url,
                source: HintSource::VendorSpecificInfo,
            }));
        }
    }
    Ok(None)
}

/// Form (3) from option 124, in whichever [`v4::VendorClassLayout`] frames it; when none does,
/// RFC 3925 blocks are read as far as they go.
fn v4_vendor_class(
    opt: &v4::LongOption<'_>,
    buf: &mut [u8; 255],
) -> Result<Option<AcmeServerHint>> {
    let code = v4::code::VI_VENDOR_CLASS;
    let mut r = opt.reader();
    if let Some(layout) = v4::VendorClassLayout::detect(&r) {
        while let Some((enterprise, len, _)) = layout.next_block(&mut r) {
            if is_ours(Some(enterprise)) && len > 0 {
                return our_class_item(&mut r, len, buf).map(Some);
            }
            if !r.skip(len) {
                break;
            }
        }
        return Ok(None);
    }
    // No layout frames the option: something in it is malformed. Walk RFC 3925 blocks; the
    // one rule decides whether the broken block is ours to report or another vendor's to skip.
    while r.remaining() > 0 {
        let block_at = r.position();
        let enterprise = r.read_u32();
        let len = r.read_u8().map(usize::from).filter(|l| *l <= r.remaining());
        if !is_ours(enterprise) {
            match len {
                Some(len) if r.skip(len) => continue,
                _ => return Ok(None),
            }
        }
        let Some(len) = len else {
            return Err(Error::MalformedSubOption {
                offset: block_at,
                code: code.into(),
            });
        };
        if !v4::items_fit(&mut r.clone(), len) {
            return Err(malformed(&r, code));
        }
        if len > 0 {
            return our_class_item(&mut r, len, buf).map(Some);
        }
    }
    Ok(None)
}

/// The first vendor-class-data item of our block (`len` bytes of `len(1) data` items): the FQDN.
fn our_class_item<C: v4::Cursor>(
    r: &mut C,
    len: usize,
    buf: &mut [u8; 255],
) -> Result<AcmeServerHint> {
    let code = v4::code::VI_VENDOR_CLASS;
    let item_len = usize::from(r.read_u8().ok_or_else(|| malformed(r, code))?);
    if 1 + item_len > len {
        return Err(malformed(r, code));
    }
    let at = r.position();
    let dst = buf.get_mut(..item_len).ok_or_else(|| malformed(r, code))?;
    for slot in dst.iter_mut() {
        *slot = r.read_u8().ok_or_else(|| malformed(r, code))?;
    }
    Ok(AcmeServerHint {
        fqdn: fqdn_at(dst, at)?,
        directory_url: None,
        source: HintSource::VendorClass,
    })
}
