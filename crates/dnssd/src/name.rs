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
    /// Decompressed wire length (1..=255).
    wire_len: u8,
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
                        let wire_len = u8::try_from(total)
                            .map_err(|_| Error::NameTooLong { offset: start })?;
                        return Ok((
                            Name {
                                msg,
                                start,
                                wire_len,
                            },
                            next,
                        ));
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

    /// Offset of the name's first byte in the message.
    pub fn offset(&self) -> usize {
        self.start
    }

    /// Length of the name in uncompressed wire form (root label included), 1..=255.
    pub fn wire_len(&self) -> usize {
        usize::from(self.wire_len)
    }

    /// True for the root name `.`.
    pub fn is_root(&self) -> bool {
        self.wire_len == 1
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
        self.wire_len == other.wire_len && labels_eq(self.labels(), other.labels())
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
