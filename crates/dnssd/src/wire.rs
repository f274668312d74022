//! Bounds-checked big-endian reads and a caller-buffer writer.

use crate::error::{Error, Result};

pub(crate) fn u16_at(msg: &[u8], pos: usize, what: &'static str) -> Result<u16> {
    match msg.get(pos..pos + 2) {
        Some(&[a, b]) => Ok(u16::from_be_bytes([a, b])),
        _ => Err(Error::UnexpectedEnd { offset: pos, what }),
    }
}

pub(crate) fn u32_at(msg: &[u8], pos: usize, what: &'static str) -> Result<u32> {
    match msg.get(pos..pos + 4) {
        Some(&[a, b, c, d]) => Ok(u32::from_be_bytes([a, b, c, d])),
        _ => Err(Error::UnexpectedEnd { offset: pos, what }),
    }
}

/// Writes into a caller-owned buffer; never grows it.
pub(crate) struct Writer<'b> {
    buf: &'b mut [u8],
    pos: usize,
}

impl<'b> Writer<'b> {
    pub(crate) fn new(buf: &'b mut [u8]) -> Self {
        Writer { buf, pos: 0 }
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn bytes(&mut self, bytes: &[u8]) -> Result<()> {
        let end = self.pos + bytes.len();
        let dst = self
            .buf
            .get_mut(self.pos..end)
            .ok_or(Error::BufferTooSmall { needed: end })?;
        dst.copy_from_slice(bytes);
        self.pos = end;
        Ok(())
    }

    pub(crate) fn u8(&mut self, v: u8) -> Result<()> {
        self.bytes(&[v])
    }

    pub(crate) fn u16(&mut self, v: u16) -> Result<()> {
        self.bytes(&v.to_be_bytes())
    }

    pub(crate) fn u32(&mut self, v: u32) -> Result<()> {
        self.bytes(&v.to_be_bytes())
    }

    /// Overwrites a u16 already written at `at`.
    pub(crate) fn patch_u16(&mut self, at: usize, v: u16) -> Result<()> {
        let dst = self
            .buf
            .get_mut(at..at + 2)
            .ok_or(Error::BufferTooSmall { needed: at + 2 })?;
        dst.copy_from_slice(&v.to_be_bytes());
        Ok(())
    }

    /// Writes labels then the root label, uncompressed.
    pub(crate) fn labels<'l>(&mut self, labels: impl Iterator<Item = &'l [u8]>) -> Result<()> {
        for label in labels {
            let len = u8::try_from(label.len())
                .ok()
                .filter(|&l| (1..=63).contains(&l))
                .ok_or(Error::InvalidName {
                    reason: "a label is empty or longer than 63 bytes",
                })?;
            self.u8(len)?;
            self.bytes(label)?;
        }
        self.u8(0)
    }
}
