//! Domain names on the wire (RFC 1035 §3.1, §4.1.4): zero-copy views with validated compression.

use core::fmt;

use crate::error::{Error, Result};
use crate::wire::Writer;

/// Longest name in wire form, length bytes and root label included (RFC 1035 §2.3.4).
pub const MAX_NAME_LEN: usize = 255;
/// Longest label (RFC 1035 §2.3.4).
pub const MAX_LABEL_LEN: usize = 63;
/// Most compression pointers followed within one name. Pointers must already go strictly
/// backwards (so loops are impossible); this only bounds the work per name.
pub const MAX_POINTERS: usize = 64;
/// Most labels a 255-byte name can hold.
pub(crate) const MAX_LABELS: usize = 128;

/// A domain name inside a parsed message. The compression pointers were checked when the
/// message was parsed: they point strictly backwards, inside the message, at most
/// [`MAX_POINTERS`] of them, and the decompressed name fits in [`MAX_NAME_LEN`] bytes.
///
/// Comparison (`==`) is ASCII case-insensitive, as DNS names are (RFC 4343).
#[derive(Clone, Copy)]
pub struct Name<'a> {
    /// The message up to the end of the field the name sits in.
    msg: &'a [u8],
    /// Offset of the first label byte.
    start: usize,
}

impl<'a> Name<'a> {
    /// Parses and validates the name starting at `start` in `msg`. Returns the name and the
    /// offset just after it in the uncompressed stream (after its first pointer, if any).
    pub(crate) fn parse(msg: &'a [u8], start: usize) -> Result<(Self, usize)> {
        let mut pos = start;
        // Pointer targets must be strictly below every offset read so far: this refuses
        // forward pointers, self pointers and loops in one check.
        let mut limit = start;
        let mut after: Option<usize> = None;
        let mut total = 0usize;
        let mut hops = 0usize;
        loop {
            let Some(&b) = msg.get(pos) else {
                return Err(Error::UnexpectedEnd {
                    offset: pos,
                    what: "a domain name label",
                });
            };
            match b & 0xC0 {
                0x00 => {
                    let len = usize::from(b);
                    total += len + 1;
                    if total > MAX_NAME_LEN {
                        return Err(Error::NameTooLong { offset: start });
                    }
                    if len == 0 {
                        let next = after.unwrap_or(pos + 1);
                        return Ok((Name { msg, start }, next));
                    }
                    if pos + 1 + len > msg.len() {
                        return Err(Error::UnexpectedEnd {
                            offset: msg.len(),
                            what: "the rest of a domain name label",
                        });
                    }
                    pos += 1 + len;
                }
                0xC0 => {
                    let Some(&b2) = msg.get(pos + 1) else {
                        return Err(Error::UnexpectedEnd {
                            offset: pos + 1,
                            what: "the second byte of a compression pointer",
                        });
                    };
                    let target = (usize::from(b & 0x3F) << 8) | usize::from(b2);
                    if target >= msg.len() {
                        return Err(Error::PointerOutOfBounds {
                            offset: pos,
                            target,
                        });
                    }
                    if target >= limit {
                        return Err(Error::PointerNotBackward {
                            offset: pos,
                            target,
                        });
                    }
                    hops += 1;
                    if hops > MAX_POINTERS {
                        return Err(Error::TooManyPointers { offset: start });
                    }
                    if after.is_none() {
                        after = Some(pos + 2);
                    }
                    limit = target;
                    pos = target;
                }
                _ => {
                    return Err(Error::ReservedLabelType {
                        offset: pos,
                        byte: b,
                    });
                }
            }
        }
    }

    /// Re-reads a name that [`Name::parse`] already accepted: only finds where it ends in
    /// the uncompressed stream, without following pointers.
    pub(crate) fn skip(msg: &'a [u8], start: usize) -> (Self, usize) {
        let mut pos = start;
        while let Some(&b) = msg.get(pos) {
            match b {
                0 => return (Name { msg, start }, pos + 1),
                0xC0..=0xFF => return (Name { msg, start }, pos + 2),
                _ => pos += 1 + usize::from(b),
            }
        }
        (Name { msg, start }, pos)
    }

    /// Offset of the name's first byte in the message.
    pub fn offset(&self) -> usize {
        self.start
    }

    /// Length of the name in uncompressed wire form (root label included), 1..=255.
    pub fn wire_len(&self) -> usize {
        1 + self.labels().map(|l| l.len() + 1).sum::<usize>()
    }

    /// True for the root name `.`.
    pub fn is_root(&self) -> bool {
        self.labels().next().is_none()
    }

    /// The labels, leftmost first, compression pointers followed. The root label is not
    /// yielded.
    pub fn labels(&self) -> Labels<'a> {
        Labels {
            msg: self.msg,
            pos: self.start,
            hops: 0,
            done: false,
        }
    }

    /// Number of labels (root excluded).
    pub fn label_count(&self) -> usize {
        self.labels().count()
    }

    /// Compares with a dotted text name (`"_acme-server._tcp.example.test"`, trailing dot
    /// optional, no escapes), ASCII case-insensitively.
    pub fn eq_str(&self, text: &str) -> bool {
        labels_eq(self.labels(), text_labels(text))
    }

    /// True if the name is at or under the dotted text `suffix` (case-insensitive).
    pub fn ends_with_str(&self, suffix: &str) -> bool {
        let mut buf: [&[u8]; MAX_LABELS] = [&[]; MAX_LABELS];
        let n = collect_labels(self.labels(), &mut buf);
        let mut suf: [&[u8]; MAX_LABELS] = [&[]; MAX_LABELS];
        let m = collect_labels(text_labels(suffix), &mut suf);
        ends_with(buf.get(..n).unwrap_or(&[]), suf.get(..m).unwrap_or(&[]))
    }

    /// Writes the name uncompressed.
    pub(crate) fn emit(&self, w: &mut Writer<'_>) -> Result<()> {
        w.labels(self.labels())
    }
}

impl PartialEq for Name<'_> {
    fn eq(&self, other: &Self) -> bool {
        labels_eq(self.labels(), other.labels())
    }
}

impl Eq for Name<'_> {}

/// Master-file presentation (RFC 1035 §5.1): dots between labels, `\.`, `\\` and `\DDD`
/// escapes for bytes that are not printable ASCII; the root is `.`; no trailing dot otherwise.
impl fmt::Display for Name<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_root() {
            return f.write_str(".");
        }
        for (i, label) in self.labels().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            for &b in label {
                match b {
                    b'.' | b'\\' => write!(f, "\\{}", char::from(b))?,
                    0x21..=0x7E => write!(f, "{}", char::from(b))?,
                    _ => write!(f, "\\{b:03}")?,
                }
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Name<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Name({self})")
    }
}

/// Iterator over the labels of a [`Name`].
#[derive(Clone, Debug)]
pub struct Labels<'a> {
    msg: &'a [u8],
    pos: usize,
    hops: usize,
    done: bool,
}

impl<'a> Iterator for Labels<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        // The name was validated at parse time; the checks here only keep this total.
        while !self.done {
            let b = *self.msg.get(self.pos)?;
            if b & 0xC0 == 0xC0 {
                let b2 = *self.msg.get(self.pos + 1)?;
                self.hops += 1;
                if self.hops > MAX_POINTERS {
                    self.done = true;
                    return None;
                }
                self.pos = (usize::from(b & 0x3F) << 8) | usize::from(b2);
                continue;
            }
            if b == 0 {
                self.done = true;
                return None;
            }
            let len = usize::from(b & 0x3F);
            let label = self.msg.get(self.pos + 1..self.pos + 1 + len)?;
            self.pos += 1 + len;
            return Some(label);
        }
        None
    }
}

/// Labels of a dotted text name (no escapes; trailing dot optional; `""` and `"."` are root).
pub(crate) fn text_labels(text: &str) -> impl Iterator<Item = &[u8]> + Clone {
    let trimmed = text.strip_suffix('.').unwrap_or(text);
    trimmed
        .split('.')
        .filter(move |_| !trimmed.is_empty())
        .map(str::as_bytes)
}

/// Checks a dotted text name: non-empty labels of at most 63 bytes, at most 255 bytes in wire
/// form.
pub(crate) fn check_text_name(text: &str) -> Result<()> {
    if text.is_empty() || text == "." {
        return Ok(());
    }
    let mut total = 1usize;
    for label in text_labels(text) {
        if label.is_empty() {
            return Err(Error::InvalidName {
                reason: "empty label (two dots in a row, or a leading dot)",
            });
        }
        if label.len() > MAX_LABEL_LEN {
            return Err(Error::InvalidName {
                reason: "a label is longer than 63 bytes",
            });
        }
        total += label.len() + 1;
    }
    if total > MAX_NAME_LEN {
        return Err(Error::InvalidName {
            reason: "the name is longer than 255 bytes in wire form",
        });
    }
    Ok(())
}

pub(crate) fn labels_eq<'x, 'y>(
    mut a: impl Iterator<Item = &'x [u8]>,
    mut b: impl Iterator<Item = &'y [u8]>,
) -> bool {
    loop {
        match (a.next(), b.next()) {
            (None, None) => return true,
            (Some(x), Some(y)) if x.eq_ignore_ascii_case(y) => {}
            _ => return false,
        }
    }
}

pub(crate) fn collect_labels<'x>(
    it: impl Iterator<Item = &'x [u8]>,
    out: &mut [&'x [u8]],
) -> usize {
    let mut n = 0;
    for (slot, label) in out.iter_mut().zip(it) {
        *slot = label;
        n += 1;
    }
    n
}

pub(crate) fn ends_with(labels: &[&[u8]], suffix: &[&[u8]]) -> bool {
    labels.len() >= suffix.len()
        && labels
            .iter()
            .rev()
            .zip(suffix.iter().rev())
            .all(|(a, b)| a.eq_ignore_ascii_case(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 1035 §4.1.4's example: F.ISI.ARPA at offset 20, FOO.F.ISI.ARPA at 40 as "FOO" and
    /// a pointer to 20, ARPA at 64 as a pointer to 26, and the root at 92.
    #[test]
    fn rfc1035_compression_example() {
        let mut msg = [0u8; 93];
        msg[20..32].copy_from_slice(b"\x01F\x03ISI\x04ARPA\x00");
        msg[40..46].copy_from_slice(b"\x03FOO\xC0\x14");
        msg[64..66].copy_from_slice(&[0xC0, 26]);
        msg[92] = 0;
        let (f, next) = Name::parse(&msg, 20).unwrap();
        assert_eq!((f.to_string().as_str(), next), ("F.ISI.ARPA", 32));
        let (foo, next) = Name::parse(&msg, 40).unwrap();
        assert_eq!((foo.to_string().as_str(), next), ("FOO.F.ISI.ARPA", 46));
        assert_eq!(foo.wire_len(), 16);
        let (arpa, next) = Name::parse(&msg, 64).unwrap();
        assert_eq!((arpa.to_string().as_str(), next), ("ARPA", 66));
        let (root, next) = Name::parse(&msg, 92).unwrap();
        assert!(root.is_root());
        assert_eq!((root.to_string().as_str(), next), (".", 93));
        assert!(foo.eq_str("foo.f.isi.arpa."));
        assert!(foo.ends_with_str("isi.ARPA"));
        assert!(!foo.ends_with_str("si.arpa"));
        assert_eq!(Name::skip(&msg, 40).1, 46);
        assert_eq!(arpa, Name::parse(&msg, 26).unwrap().0);
        assert_ne!(arpa, f);
    }

    #[test]
    fn display_escapes() {
        let msg = b"\x04a.b\\\x02\x00\xff\x00";
        let (n, _) = Name::parse(msg, 0).unwrap();
        assert_eq!(n.to_string(), "a\\.b\\\\.\\000\\255");
        assert_eq!(format!("{n:?}"), "Name(a\\.b\\\\.\\000\\255)");
    }
}
