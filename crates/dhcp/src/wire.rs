//! Panic-free byte helpers shared by the codecs.

use crate::error::{Error, Result};

/// Reads `N` bytes at `at`, or `None` when the input is too short.
#[inline]
pub(crate) fn array<const N: usize>(b: &[u8], at: usize) -> Option<[u8; N]> {
    let s = b.get(at..at.checked_add(N)?)?;
    let mut out = [0u8; N];
    out.copy_from_slice(s);
    Some(out)
}

#[inline]
pub(crate) fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    array::<2>(b, at).map(u16::from_be_bytes)
}

#[inline]
pub(crate) fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    array::<4>(b, at).map(u32::from_be_bytes)
}

/// `b[at..at+len]` or a `Truncated` error located at `base + at`.
#[inline]
pub(crate) fn slice(b: &[u8], at: usize, len: usize, base: usize) -> Result<&[u8]> {
    let end = at.saturating_add(len);
    b.get(at..end).ok_or(Error::Truncated {
        offset: base.saturating_add(at),
        needed: end.saturating_sub(b.len()),
    })
}

#[cfg(feature = "alloc")]
/// A cursor writing into a caller-owned buffer; every write is bounds-checked.
pub(crate) struct Writer<'a> {
    pub(crate) buf: &'a mut [u8],
    pub(crate) pos: usize,
}

#[cfg(feature = "alloc")]
impl<'a> Writer<'a> {
    pub(crate) fn new(buf: &'a mut [u8]) -> Self {
        Writer { buf, pos: 0 }
    }

    fn too_small(&self, n: usize) -> Error {
        Error::BufferTooSmall {
            needed: self.pos.saturating_add(n),
            available: self.buf.len(),
        }
    }

    #[inline]
    pub(crate) fn put(&mut self, data: &[u8]) -> Result<()> {
        let end = self
            .pos
            .checked_add(data.len())
            .ok_or(Error::TooLong { what: "message" })?;
        match self.buf.get_mut(self.pos..end) {
            Some(d) => d.copy_from_slice(data),
            None => return Err(self.too_small(data.len())),
        }
        self.pos = end;
        Ok(())
    }

    #[inline]
    pub(crate) fn u8(&mut self, v: u8) -> Result<()> {
        self.put(&[v])
    }

    #[inline]
    pub(crate) fn u16(&mut self, v: u16) -> Result<()> {
        self.put(&v.to_be_bytes())
    }

    #[inline]
    pub(crate) fn u32(&mut self, v: u32) -> Result<()> {
        self.put(&v.to_be_bytes())
    }

    /// Writes `n` zero bytes.
    pub(crate) fn zeros(&mut self, n: usize) -> Result<()> {
        let end = self
            .pos
            .checked_add(n)
            .ok_or(Error::TooLong { what: "message" })?;
        if end > self.buf.len() {
            return Err(self.too_small(n));
        }
        if let Some(d) = self.buf.get_mut(self.pos..end) {
            d.fill(0);
        }
        self.pos = end;
        Ok(())
    }
}

#[cfg(feature = "alloc")]
/// Converts a length to a one-byte length field.
#[inline]
pub(crate) fn len_u8(n: usize, what: &'static str) -> Result<u8> {
    u8::try_from(n).map_err(|_| Error::TooLong { what })
}

#[cfg(feature = "alloc")]
/// Converts a length to a two-byte length field.
#[inline]
pub(crate) fn len_u16(n: usize, what: &'static str) -> Result<u16> {
    u16::try_from(n).map_err(|_| Error::TooLong { what })
}
