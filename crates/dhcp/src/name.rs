//! Domain names: FQDN validation for hints, RFC 1035 wire-form names, and RFC 3397 compressed
//! search lists (DHCPv4 option 119) / uncompressed lists (DHCPv6 option 24, RFC 8415 §10).

use core::fmt;

use crate::error::{Error, FqdnError, Result};

/// Longest FQDN text this crate accepts (RFC 1035 §2.3.4: 255 wire bytes = 253 text characters).
pub const MAX_FQDN_LEN: usize = 253;

/// Checks `text` against the preferred name syntax (RFC 1035 §2.3.1, RFC 1123 §2.1): labels of
/// 1–63 letters/digits/hyphens, no hyphen at a label's edge, at most 253 characters. One trailing
/// dot is allowed and removed. Returns the name without the trailing dot.
pub fn validate_fqdn(text: &[u8]) -> Result<&str, FqdnError> {
    let text = text.strip_suffix(b".").unwrap_or(text);
    if text.is_empty() {
        return Err(FqdnError::Empty);
    }
    if text.len() > MAX_FQDN_LEN {
        return Err(FqdnError::TooLong);
    }
    for label in text.split(|&b| b == b'.') {
        if label.is_empty() {
            return Err(FqdnError::EmptyLabel);
        }
        if label.len() > 63 {
            return Err(FqdnError::LabelTooLong);
        }
        if !label
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
        {
            return Err(FqdnError::BadCharacter);
        }
        if label.first() == Some(&b'-') || label.last() == Some(&b'-') {
            return Err(FqdnError::HyphenAtEdge);
        }
    }
    // All bytes are ASCII by now.
    core::str::from_utf8(text).map_err(|_| FqdnError::BadCharacter)
}

/// A validated fully qualified domain name (without trailing dot), stored inline: no allocation.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fqdn {
    buf: [u8; MAX_FQDN_LEN],
    len: u8,
}

impl Fqdn {
    /// Validates `text` (see [`validate_fqdn`]) and stores it.
    pub fn new(text: &str) -> Result<Self, FqdnError> {
        Self::from_bytes(text.as_bytes())
    }

    /// Like [`Fqdn::new`] for bytes.
    pub fn from_bytes(text: &[u8]) -> Result<Self, FqdnError> {
        let s = validate_fqdn(text)?;
        let mut buf = [0u8; MAX_FQDN_LEN];
        let len = s.len();
        buf.get_mut(..len)
            .ok_or(FqdnError::TooLong)?
            .copy_from_slice(s.as_bytes());
        Ok(Fqdn {
            buf,
            len: u8::try_from(len).map_err(|_| FqdnError::TooLong)?,
        })
    }

    /// The name as text, without trailing dot.
    pub fn as_str(&self) -> &str {
        let b = self.buf.get(..usize::from(self.len)).unwrap_or_default();
        core::str::from_utf8(b).unwrap_or_default()
    }

    /// Parses an RFC 1035 wire-form name (uncompressed, ending with the root label exactly at the
    /// end of `wire`) into a validated FQDN; `None` if `wire` is not such a name.
    pub(crate) fn from_wire(wire: &[u8]) -> Option<Result<Self, FqdnError>> {
        let mut text = [0u8; 255];
        let mut n = 0usize;
        let mut pos = 0usize;
        loop {
            let len = usize::from(*wire.get(pos)?);
            if len == 0 {
                if pos + 1 != wire.len() || n == 0 {
                    return None;
                }
                break;
            }
            if len > 63 {
                return None;
            }
            let label = wire.get(pos + 1..pos + 1 + len)?;
            if n > 0 {
                *text.get_mut(n)? = b'.';
                n += 1;
            }
            text.get_mut(n..n + len)?.copy_from_slice(label);
            n += len;
            pos += 1 + len;
        }
        Some(Self::from_bytes(text.get(..n)?))
    }
}

impl fmt::Debug for Fqdn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Fqdn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A domain name in uncompressed RFC 1035 wire form (length-prefixed labels, ending with the root
/// label), stored inline (at most 255 bytes). Labels may hold any bytes, as the DNS allows.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Name {
    buf: [u8; 255],
    len: u8,
}

impl Name {
    /// The root name (a single zero byte).
    pub const fn root() -> Self {
        Name {
            buf: [0u8; 255],
            len: 1,
        }
    }

    /// Builds a name from dotted text (`"eng.apple.com"`, trailing dot optional). Labels must be
    /// 1–63 bytes; the name at most 255 wire bytes. Any other byte than `.` is taken literally.
    pub fn from_dotted(text: &str) -> Result<Self> {
        let text = text.strip_suffix('.').unwrap_or(text);
        let mut name = Name {
            buf: [0u8; 255],
            len: 0,
        };
        let mut n = 0usize;
        if !text.is_empty() {
            for label in text.split('.') {
                if label.is_empty() || label.len() > 63 {
                    return Err(Error::BadLabel { offset: n });
                }
                let dst = name
                    .buf
                    .get_mut(n..n + 1 + label.len())
                    .ok_or(Error::NameTooLong { offset: 0 })?;
                let (head, rest) = dst.split_at_mut(1);
                head.fill(label.len() as u8);
                rest.copy_from_slice(label.as_bytes());
                n += 1 + label.len();
            }
        }
        *name
            .buf
            .get_mut(n)
            .ok_or(Error::NameTooLong { offset: 0 })? = 0;
        name.len = u8::try_from(n + 1).map_err(|_| Error::NameTooLong { offset: 0 })?;
        Ok(name)
    }

    /// Builds a name from uncompressed wire bytes, which must be exactly one name.
    pub fn from_wire(wire: &[u8]) -> Result<Self> {
        let (name, end) = decode(wire, 0, 0, false)?;
        if end != wire.len() {
            return Err(Error::BadLabel { offset: end });
        }
        Ok(name)
    }

    /// The uncompressed wire form, ending with the root label.
    pub fn as_wire(&self) -> &[u8] {
        self.buf.get(..usize::from(self.len)).unwrap_or_default()
    }

    /// The labels, leftmost first (the root label is not included).
    pub fn labels(&self) -> Labels<'_> {
        Labels {
            wire: self.as_wire(),
        }
    }

    /// Appends one label (used by the decoder); `false` if the name would exceed 255 bytes.
    fn push_label(&mut self, label: &[u8]) -> bool {
        // The stored form does not include the root label until `finish`.
        let n = usize::from(self.len);
        let end = n + 1 + label.len();
        if end + 1 > 255 {
            return false;
        }
        match self.buf.get_mut(n..end) {
            Some(dst) => {
                let (head, rest) = dst.split_at_mut(1);
                head.fill(label.len() as u8);
                rest.copy_from_slice(label);
                self.len = end as u8;
                true
            }
            None => false,
        }
    }

    fn finish(&mut self) {
        let n = usize::from(self.len);
        if let Some(b) = self.buf.get_mut(n) {
            *b = 0;
            self.len = (n + 1) as u8;
        }
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Name({self})")
    }
}

/// Dotted presentation form with RFC 4343 escapes (`\.` and `\DDD`), trailing dot omitted; the
/// root is shown as `.`.
impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for label in self.labels() {
            if !first {
                f.write_str(".")?;
            }
            first = false;
            for &b in label {
                match b {
                    b'.' | b'\\' => write!(f, "\\{}", b as char)?,
                    0x21..=0x7e => write!(f, "{}", b as char)?,
                    _ => write!(f, "\\{b:03}")?,
                }
            }
        }
        if first {
            f.write_str(".")?;
        }
        Ok(())
    }
}

/// Iterator over the labels of a [`Name`].
#[derive(Debug, Clone)]
pub struct Labels<'a> {
    wire: &'a [u8],
}

impl<'a> Iterator for Labels<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        let len = usize::from(*self.wire.first()?);
        if len == 0 {
            return None;
        }
        let label = self.wire.get(1..1 + len)?;
        self.wire = self.wire.get(1 + len..).unwrap_or_default();
        Some(label)
    }
}

/// Decodes one name starting at `start` in `data`. With `allow_ptr`, RFC 1035 §4.1.4 pointers are
/// followed; each must point strictly before the label sequence it interrupts, which rules out
/// loops. Returns the name and the offset just past it in the original sequence. Error offsets are
/// `base + position in data`.
pub(crate) fn decode(
    data: &[u8],
    start: usize,
    base: usize,
    allow_ptr: bool,
) -> Result<(Name, usize)> {
    let mut name = Name {
        buf: [0u8; 255],
        len: 0,
    };
    let mut pos = start;
    let mut segment_start = start;
    let mut end = None;
    loop {
        let len = *data.get(pos).ok_or(Error::Truncated {
            offset: base + pos,
            needed: 1,
        })?;
        match len & 0xC0 {
            0x00 => {
                if len == 0 {
                    name.finish();
                    return Ok((name, end.unwrap_or(pos + 1)));
                }
                let label = crate::wire::slice(data, pos + 1, usize::from(len), base)?;
                if !name.push_label(label) {
                    return Err(Error::NameTooLong {
                        offset: base + start,
                    });
                }
                pos += 1 + usize::from(len);
            }
            0xC0 if allow_ptr => {
                let lo = *data.get(pos + 1).ok_or(Error::Truncated {
                    offset: base + pos + 1,
                    needed: 1,
                })?;
                let target = usize::from(u16::from_be_bytes([len & 0x3F, lo]));
                if target >= segment_start {
                    return Err(Error::BadPointer { offset: base + pos });
                }
                if end.is_none() {
                    end = Some(pos + 2);
                }
                segment_start = target;
                pos = target;
            }
            _ => return Err(Error::BadLabel { offset: base + pos }),
        }
    }
}

/// Validates one name like [`decode`] without copying it; returns the offset just past it.
fn skip(data: &[u8], start: usize, base: usize, allow_ptr: bool) -> Result<usize> {
    let mut pos = start;
    let mut segment_start = start;
    let mut end = None;
    let mut wire_len = 1usize;
    loop {
        let len = *data.get(pos).ok_or(Error::Truncated {
            offset: base + pos,
            needed: 1,
        })?;
        match len & 0xC0 {
            0x00 => {
                if len == 0 {
                    return Ok(end.unwrap_or(pos + 1));
                }
                let next = pos + 1 + usize::from(len);
                if next > data.len() {
                    return Err(Error::Truncated {
                        offset: base + pos + 1,
                        needed: next - data.len(),
                    });
                }
                wire_len += 1 + usize::from(len);
                if wire_len > 255 {
                    return Err(Error::NameTooLong {
                        offset: base + start,
                    });
                }
                pos = next;
            }
            0xC0 if allow_ptr => {
                let lo = *data.get(pos + 1).ok_or(Error::Truncated {
                    offset: base + pos + 1,
                    needed: 1,
                })?;
                let target = usize::from(u16::from_be_bytes([len & 0x3F, lo]));
                if target >= segment_start {
                    return Err(Error::BadPointer { offset: base + pos });
                }
                if end.is_none() {
                    end = Some(pos + 2);
                }
                segment_start = target;
                pos = target;
            }
            _ => return Err(Error::BadLabel { offset: base + pos }),
        }
    }
}

/// A list of domain names as carried in DHCPv4 option 119 (RFC 3397, compression allowed,
/// pointers relative to the start of the concatenated option data) or DHCPv6 option 24
/// (RFC 8415 §10, no compression). Validated on creation; iterating allocates nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NameList<'a> {
    data: &'a [u8],
    compressed: bool,
}

impl<'a> NameList<'a> {
    /// Validates `data` as a list of names; `base` is added to error offsets.
    pub fn parse(data: &'a [u8], compressed: bool, base: usize) -> Result<Self> {
        let mut pos = 0;
        while pos < data.len() {
            pos = skip(data, pos, base, compressed)?;
        }
        Ok(NameList { data, compressed })
    }

    /// The raw option bytes.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.data
    }

    /// The names, in order.
    pub fn iter(&self) -> NameListIter<'a> {
        NameListIter {
            data: self.data,
            pos: 0,
            compressed: self.compressed,
        }
    }
}

impl<'a> IntoIterator for NameList<'a> {
    type Item = Name;
    type IntoIter = NameListIter<'a>;
    fn into_iter(self) -> NameListIter<'a> {
        self.iter()
    }
}

/// Iterator over a [`NameList`].
#[derive(Debug, Clone)]
pub struct NameListIter<'a> {
    data: &'a [u8],
    pos: usize,
    compressed: bool,
}

impl Iterator for NameListIter<'_> {
    type Item = Name;
    fn next(&mut self) -> Option<Name> {
        if self.pos >= self.data.len() {
            return None;
        }
        match decode(self.data, self.pos, 0, self.compressed) {
            Ok((name, next)) => {
                self.pos = next;
                Some(name)
            }
            Err(_) => {
                self.pos = self.data.len();
                None
            }
        }
    }
}

/// Encodes `names` as an RFC 3397 search list, compressing common suffixes, into `out` (or only
/// measures when `out` is `None`). Returns the encoded length.
#[cfg(feature = "alloc")]
pub(crate) fn encode_list(
    names: &[Name],
    compress: bool,
    mut out: Option<&mut crate::wire::Writer<'_>>,
) -> Result<usize> {
    use alloc::vec::Vec;
    // (offset within the list, uncompressed suffix wire bytes) of every literally written label.
    let mut table: Vec<(usize, &[u8])> = Vec::new();
    let mut written = 0usize;
    for name in names {
        let wire = name.as_wire();
        let mut pos = 0usize;
        loop {
            let suffix = wire.get(pos..).unwrap_or_default();
            let len = usize::from(*suffix.first().unwrap_or(&0));
            if len == 0 {
                if let Some(w) = out.as_deref_mut() {
                    w.u8(0)?;
                }
                written += 1;
                break;
            }
            if compress {
                if let Some(&(off, _)) = table.iter().find(|(_, s)| *s == suffix) {
                    if off <= 0x3FFF {
                        if let Some(w) = out.as_deref_mut() {
                            w.u16(0xC000 | off as u16)?;
                        }
                        written += 2;
                        break;
                    }
                }
                table.push((written, suffix));
            }
            let label = suffix.get(..1 + len).unwrap_or_default();
            if let Some(w) = out.as_deref_mut() {
                w.put(label)?;
            }
            written += label.len();
            pos += 1 + len;
        }
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fqdn_rules() {
        assert_eq!(validate_fqdn(b"acme.example.com."), Ok("acme.example.com"));
        assert_eq!(validate_fqdn(b""), Err(FqdnError::Empty));
        assert_eq!(validate_fqdn(b"a..b"), Err(FqdnError::EmptyLabel));
        assert_eq!(validate_fqdn(b"-a.b"), Err(FqdnError::HyphenAtEdge));
        assert_eq!(validate_fqdn(b"a_b.c"), Err(FqdnError::BadCharacter));
        assert_eq!(validate_fqdn(&[b'a'; 64]), Err(FqdnError::LabelTooLong));
        let long = [b"abcdefghi.".as_slice(); 26].concat();
        assert_eq!(validate_fqdn(&long), Err(FqdnError::TooLong));
    }

    #[test]
    fn pointer_loop_rejected() {
        // A name that points to itself.
        assert_eq!(
            decode(&[0xC0, 0x00], 0, 0, true).map(|_| ()),
            Err(Error::BadPointer { offset: 0 })
        );
        // Forward pointer.
        assert_eq!(
            decode(&[1, b'a', 0xC0, 0x04, 0], 0, 0, true).map(|_| ()),
            Err(Error::BadPointer { offset: 2 })
        );
        // Reserved label type.
        assert_eq!(
            decode(&[0x41, 0], 0, 7, true).map(|_| ()),
            Err(Error::BadLabel { offset: 7 })
        );
    }
}
