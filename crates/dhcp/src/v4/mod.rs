//! DHCPv4 (RFC 2131, RFC 2132): the BOOTP header view, option walking with RFC 3396
//! concatenation and option overload (52), typed options, and (with `alloc`) an owned [`Repr`].

mod option;
#[cfg(feature = "alloc")]
mod repr;

pub use option::{
    Addresses, DhcpOption, SubOption, SubOptions, VendorClassBlock, VendorClassData,
    VendorClassLayout, VendorSpecificBlock, ViVendorClass, ViVendorClassIter, ViVendorSpecific,
    ViVendorSpecificIter, code,
};
pub(crate) use option::{Cursor, items_fit};
#[cfg(feature = "alloc")]
pub use repr::{
    MIN_MESSAGE_LEN, OptionRepr, Repr, ServerLease, VendorClass, VendorSpecific, VendorSubOption,
};

use core::net::Ipv4Addr;

#[cfg(feature = "alloc")]
use alloc::vec::Vec;

use crate::error::{Error, Result};
use crate::warning::{OptionWarning, Warnings};
use crate::wire;

/// The DHCP magic cookie (RFC 2131 §3): 99.130.83.99.
pub const MAGIC_COOKIE: [u8; 4] = [99, 130, 83, 99];

/// The well-known DHCPv4 ports (RFC 2131 §4.1).
pub const SERVER_PORT: u16 = 67;
/// See [`SERVER_PORT`].
pub const CLIENT_PORT: u16 = 68;

/// Byte offsets of the BOOTP header fields (RFC 2131 §2, figure 1).
mod field {
    #![allow(dead_code)]
    use core::ops::Range;
    pub(crate) const OP: usize = 0;
    pub(crate) const HTYPE: usize = 1;
    pub(crate) const HLEN: usize = 2;
    pub(crate) const HOPS: usize = 3;
    pub(crate) const XID: usize = 4;
    pub(crate) const SECS: usize = 8;
    pub(crate) const FLAGS: usize = 10;
    pub(crate) const CIADDR: usize = 12;
    pub(crate) const YIADDR: usize = 16;
    pub(crate) const SIADDR: usize = 20;
    pub(crate) const GIADDR: usize = 24;
    pub(crate) const CHADDR: Range<usize> = 28..44;
    pub(crate) const SNAME: Range<usize> = 44..108;
    pub(crate) const FILE: Range<usize> = 108..236;
    pub(crate) const MAGIC: Range<usize> = 236..240;
    pub(crate) const OPTIONS: usize = 240;
}

/// Longest RFC 3396 split option that [`Packet::option_warnings`] copies to check (a full
/// 576-byte message, RFC 2131 §2, cannot hold a longer one).
pub const SPLIT_CHECK_LEN: usize = 576;

/// Length of the fixed header including the magic cookie.
pub const HEADER_LEN: usize = field::OPTIONS;

/// BOOTP `op` (RFC 951).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// 1: client to server.
    BootRequest,
    /// 2: server to client.
    BootReply,
    /// Any other value.
    Unknown(u8),
}

impl From<u8> for Op {
    fn from(v: u8) -> Self {
        match v {
            1 => Op::BootRequest,
            2 => Op::BootReply,
            v => Op::Unknown(v),
        }
    }
}

impl From<Op> for u8 {
    fn from(v: Op) -> u8 {
        match v {
            Op::BootRequest => 1,
            Op::BootReply => 2,
            Op::Unknown(v) => v,
        }
    }
}

/// DHCP message type, option 53 (RFC 2132 §9.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageType {
    /// 1
    Discover,
    /// 2
    Offer,
    /// 3
    Request,
    /// 4
    Decline,
    /// 5
    Ack,
    /// 6
    Nak,
    /// 7
    Release,
    /// 8
    Inform,
    /// Any other value.
    Unknown(u8),
}

impl From<u8> for MessageType {
    fn from(v: u8) -> Self {
        match v {
            1 => MessageType::Discover,
            2 => MessageType::Offer,
            3 => MessageType::Request,
            4 => MessageType::Decline,
            5 => MessageType::Ack,
            6 => MessageType::Nak,
            7 => MessageType::Release,
            8 => MessageType::Inform,
            v => MessageType::Unknown(v),
        }
    }
}

impl From<MessageType> for u8 {
    fn from(v: MessageType) -> u8 {
        match v {
            MessageType::Discover => 1,
            MessageType::Offer => 2,
            MessageType::Request => 3,
            MessageType::Decline => 4,
            MessageType::Ack => 5,
            MessageType::Nak => 6,
            MessageType::Release => 7,
            MessageType::Inform => 8,
            MessageType::Unknown(v) => v,
        }
    }
}

/// A zero-copy view of a DHCPv4 message. Getters never panic, even on an unchecked buffer
/// (missing bytes read as zero); use [`Packet::new_checked`] on untrusted input.
#[derive(Debug, Clone, Copy)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
    /// What [`Packet::new_checked`] learnt while validating, so lookups need not walk again.
    index: Option<Index>,
}

/// Option codes present / present more than once (RFC 3396 fragments), as 256-bit sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Index {
    seen: [u64; 4],
    repeated: [u64; 4],
}

impl Index {
    fn build(buf: &[u8]) -> Result<Self> {
        let mut index = Index {
            seen: [0; 4],
            repeated: [0; 4],
        };
        for f in Fragments::new(buf) {
            let code = f?.code;
            if bit(&index.seen, code) {
                set_bit(&mut index.repeated, code);
            }
            set_bit(&mut index.seen, code);
        }
        Ok(index)
    }
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without checking anything.
    pub const fn new_unchecked(buffer: T) -> Self {
        Packet {
            buffer,
            index: None,
        }
    }

    /// Wraps a buffer after checking the header length, the magic cookie, and the framing of every
    /// option in the options field and in overloaded `sname`/`file` (RFC 3396, RFC 2132 §9.3).
    pub fn new_checked(buffer: T) -> Result<Self> {
        let mut p = Packet {
            buffer,
            index: None,
        };
        p.check_header()?;
        p.index = Some(Index::build(p.b())?);
        Ok(p)
    }

    fn check_header(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(Error::Truncated {
                offset: b.len(),
                needed: HEADER_LEN - b.len(),
            });
        }
        if b.get(field::MAGIC) != Some(&MAGIC_COOKIE[..]) {
            return Err(Error::BadMagicCookie {
                offset: field::MAGIC.start,
            });
        }
        Ok(())
    }

    /// The checks of [`Packet::new_checked`].
    pub fn check(&self) -> Result<()> {
        self.check_header()?;
        if self.index.is_none() {
            Index::build(self.b())?;
        }
        Ok(())
    }

    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    fn addr(&self, at: usize) -> Ipv4Addr {
        Ipv4Addr::from(wire::array::<4>(self.b(), at).unwrap_or_default())
    }

    /// `op`: request or reply.
    pub fn op(&self) -> Op {
        Op::from(self.b().get(field::OP).copied().unwrap_or_default())
    }
    /// `htype`: hardware address type (1 = Ethernet).
    pub fn htype(&self) -> u8 {
        self.b().get(field::HTYPE).copied().unwrap_or_default()
    }
    /// `hlen`: hardware address length.
    pub fn hlen(&self) -> u8 {
        self.b().get(field::HLEN).copied().unwrap_or_default()
    }
    /// `hops`: relay hop count.
    pub fn hops(&self) -> u8 {
        self.b().get(field::HOPS).copied().unwrap_or_default()
    }
    /// `xid`: transaction id.
    pub fn xid(&self) -> u32 {
        wire::u32_at(self.b(), field::XID).unwrap_or_default()
    }
    /// `secs`: seconds since the client began.
    pub fn secs(&self) -> u16 {
        wire::u16_at(self.b(), field::SECS).unwrap_or_default()
    }
    /// `flags` (bit 15 = broadcast).
    pub fn flags(&self) -> u16 {
        wire::u16_at(self.b(), field::FLAGS).unwrap_or_default()
    }
    /// `ciaddr`: client address (INFORM, renewals).
    pub fn ciaddr(&self) -> Ipv4Addr {
        self.addr(field::CIADDR)
    }
    /// `yiaddr`: "your" (offered) address.
    pub fn yiaddr(&self) -> Ipv4Addr {
        self.addr(field::YIADDR)
    }
    /// `siaddr`: next server address.
    pub fn siaddr(&self) -> Ipv4Addr {
        self.addr(field::SIADDR)
    }
    /// `giaddr`: relay agent address.
    pub fn giaddr(&self) -> Ipv4Addr {
        self.addr(field::GIADDR)
    }
    /// `chaddr`: the 16-byte client hardware address field.
    pub fn chaddr(&self) -> [u8; 16] {
        wire::array::<16>(self.b(), field::CHADDR.start).unwrap_or_default()
    }
    /// The client hardware address, `hlen` bytes of `chaddr` (at most 16).
    pub fn client_hardware_address(&self) -> &[u8] {
        let n = usize::from(self.hlen()).min(16);
        self.b()
            .get(field::CHADDR.start..field::CHADDR.start + n)
            .unwrap_or_default()
    }
    /// The raw 64-byte `sname` field (holds options when overloaded, see [`Packet::overload`]).
    pub fn sname(&self) -> &[u8] {
        self.b().get(field::SNAME).unwrap_or_default()
    }
    /// The raw 128-byte `file` field (holds options when overloaded).
    pub fn file(&self) -> &[u8] {
        self.b().get(field::FILE).unwrap_or_default()
    }

    /// The option overload value (RFC 2132 §9.3): bit 0 = `file` holds options, bit 1 = `sname`.
    pub fn overload(&self) -> u8 {
        let mut it = Fragments::new(self.b());
        while let Some(Ok(_)) = it.next() {
            if it.area != Area::Options {
                break;
            }
        }
        it.overload
    }

    /// Every option fragment as it appears on the wire, in RFC 3396 order (options field, then
    /// `file`, then `sname` when overloaded); pad, end and overload (52) are consumed.
    pub fn fragments(&self) -> Fragments<'_> {
        Fragments::new(self.b())
    }

    /// Every option once, in order of first appearance, with RFC 3396 fragments of the same
    /// code concatenated.
    pub fn options(&self) -> LogicalOptions<'_> {
        match self.index {
            Some(index) => LogicalOptions {
                inner: Fragments::new(self.b()),
                seen: [0; 4],
                repeated: index.repeated,
            },
            None => LogicalOptions::new(self.b()),
        }
    }

    /// The option with `code`, concatenated per RFC 3396, or `None` if absent.
    pub fn option(&self, code: u8) -> Option<LongOption<'_>> {
        let single = match self.index {
            Some(index) if !bit(&index.seen, code) => return None,
            Some(index) => !bit(&index.repeated, code),
            None => false,
        };
        let mut it = Fragments::new(self.b());
        loop {
            match it.next()? {
                Ok(f) if f.code == code && single => return Some(LongOption::single(f)),
                Ok(f) if f.code == code => return Some(LongOption::from_first(f, it)),
                Ok(_) => {}
                Err(_) => return None,
            }
        }
    }

    fn fixed<const N: usize>(&self, code: u8) -> Option<[u8; N]> {
        let opt = self.option(code)?;
        if opt.len() != N {
            return None;
        }
        let mut out = [0u8; N];
        opt.reader().read_into(&mut out).then_some(out)
    }

    /// Checks every option with its typed parser ([`DhcpOption::parse`]) without allocating and
    /// returns the ones [`Repr::parse_lenient`] would set aside: content errors, and the framing
    /// error (if any) that ends the walk. Works on an unchecked packet; only a missing header or
    /// magic cookie is an error. An option split per RFC 3396 is copied to a
    /// [`SPLIT_CHECK_LEN`]-byte stack buffer to be checked; a longer one is checked only by
    /// [`Repr::parse_lenient`].
    pub fn option_warnings(&self) -> Result<Warnings> {
        self.check_header()?;
        let mut warnings = Warnings::new();
        let mut scratch = [0u8; SPLIT_CHECK_LEN];
        for opt in self.options() {
            let opt = match opt {
                Ok(opt) => opt,
                Err(e) => {
                    warnings.push(OptionWarning::framing(e));
                    break;
                }
            };
            let data = match opt.contiguous() {
                Some(d) => d,
                None => match opt.copy_to(&mut scratch) {
                    Ok(d) => d,
                    Err(_) => continue,
                },
            };
            if let Err(e) = DhcpOption::parse(opt.code(), data, opt.offset() + 2) {
                warnings.push(OptionWarning {
                    code: opt.code().into(),
                    offset: opt.offset(),
                    error: e,
                });
            }
        }
        Ok(warnings)
    }

    /// Option 53, if present and well-formed.
    pub fn message_type(&self) -> Option<MessageType> {
        self.fixed::<1>(code::MESSAGE_TYPE)
            .map(|[v]| MessageType::from(v))
    }

    /// Option 54, if present and well-formed.
    pub fn server_identifier(&self) -> Option<Ipv4Addr> {
        self.fixed::<4>(code::SERVER_IDENTIFIER).map(Ipv4Addr::from)
    }

    /// Option 51 in seconds, if present and well-formed.
    pub fn lease_time(&self) -> Option<u32> {
        self.fixed::<4>(code::LEASE_TIME).map(u32::from_be_bytes)
    }
}

/// Which part of the message an option fragment came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Area {
    /// The options field after the magic cookie.
    Options,
    /// The `file` field (overload bit 0).
    File,
    /// The `sname` field (overload bit 1).
    Sname,
}

/// One option as it appears on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawOption<'a> {
    /// Option code.
    pub code: u8,
    /// Option data (without code and length).
    pub data: &'a [u8],
    /// Offset of the code byte in the message.
    pub offset: usize,
    /// Where it was found.
    pub area: Area,
}

/// Iterator over option fragments; see [`Packet::fragments`]. Stops after the first error.
#[derive(Debug, Clone)]
pub struct Fragments<'a> {
    buf: &'a [u8],
    area: Area,
    pos: usize,
    end: usize,
    overload: u8,
    seen_overload: bool,
    done: bool,
}

impl<'a> Fragments<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Fragments {
            buf,
            area: Area::Options,
            pos: field::OPTIONS,
            end: buf.len(),
            overload: 0,
            seen_overload: false,
            done: buf.len() < HEADER_LEN,
        }
    }

    /// Moves to the next area in RFC 3396 §7 order; false when none is left.
    fn next_area(&mut self) -> bool {
        let next = match self.area {
            Area::Options if self.overload & 1 != 0 => Some((Area::File, field::FILE)),
            Area::Options | Area::File if self.overload & 2 != 0 => {
                Some((Area::Sname, field::SNAME))
            }
            _ => None,
        };
        match next {
            Some((area, range)) => {
                self.area = area;
                self.pos = range.start;
                self.end = range.end;
                true
            }
            None => false,
        }
    }

    fn fail(&mut self, e: Error) -> Option<Result<RawOption<'a>>> {
        self.done = true;
        Some(Err(e))
    }
}

impl<'a> Iterator for Fragments<'a> {
    type Item = Result<RawOption<'a>>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.done {
                return None;
            }
            if self.pos >= self.end {
                if !self.next_area() {
                    self.done = true;
                }
                continue;
            }
            let at = self.pos;
            let code = self.buf.get(at).copied().unwrap_or(code::END);
            match code {
                code::PAD => {
                    self.pos += 1;
                    continue;
                }
                code::END => {
                    self.pos = self.end;
                    continue;
                }
                _ => {}
            }
            let Some(&len) = self.buf.get(at + 1).filter(|_| at + 1 < self.end) else {
                return self.fail(Error::OptionOverrun {
                    offset: at,
                    code: code.into(),
                    len: 0,
                });
            };
            let len = usize::from(len);
            let data_end = at + 2 + len;
            if data_end > self.end {
                return self.fail(Error::OptionOverrun {
                    offset: at,
                    code: code.into(),
                    len,
                });
            }
            let data = self.buf.get(at + 2..data_end).unwrap_or_default();
            self.pos = data_end;
            if code == code::OVERLOAD {
                if self.area != Area::Options {
                    return self.fail(Error::OverloadLoop { offset: at });
                }
                if self.seen_overload {
                    return self.fail(Error::DuplicateOverload { offset: at });
                }
                match data {
                    [v @ 1..=3] => self.overload = *v,
                    _ => return self.fail(Error::BadOverload { offset: at }),
                }
                self.seen_overload = true;
                continue;
            }
            return Some(Ok(RawOption {
                code,
                data,
                offset: at,
                area: self.area,
            }));
        }
    }
}

/// One option with all its RFC 3396 fragments, read without copying. Kept small: it is
/// created for every option a caller iterates over.
#[derive(Debug, Clone, Copy)]
pub struct LongOption<'a> {
    /// Data of the first fragment.
    first: &'a [u8],
    /// The whole message, to resume the walk for later fragments.
    packet: &'a [u8],
    /// Offset of the first fragment's code byte.
    offset: usize,
    /// Where the walk resumes after the first fragment.
    resume: usize,
    len: usize,
    parts: usize,
    /// `code | area << 8 | overload << 16`, packed in a full word: building three adjacent byte
    /// fields (or a u32 followed by padding) made the compiler copy them as one 8-byte word right
    /// after narrower stores, a store-forwarding stall that cost more than the whole option walk.
    meta: u64,
}

fn pack(code: u8, area: Area, overload: u8) -> u64 {
    let area = match area {
        Area::Options => 0u64,
        Area::File => 1,
        Area::Sname => 2,
    };
    u64::from(code) | area << 8 | u64::from(overload) << 16
}

impl<'a> LongOption<'a> {
    fn from_first(first: RawOption<'a>, after: Fragments<'a>) -> Self {
        let mut len = first.data.len();
        let mut parts = 1;
        for f in after.clone().flatten() {
            if f.code == first.code {
                len += f.data.len();
                parts += 1;
            }
        }
        LongOption {
            first: first.data,
            packet: after.buf,
            offset: first.offset,
            resume: after.pos,
            len,
            parts,
            meta: pack(first.code, after.area, after.overload),
        }
    }

    #[inline]
    fn single(first: RawOption<'a>) -> Self {
        LongOption {
            first: first.data,
            packet: &[],
            offset: first.offset,
            resume: 0,
            len: first.data.len(),
            parts: 1,
            meta: pack(first.code, first.area, 0),
        }
    }

    /// The fragment walk positioned after the first fragment, when there are more.
    fn rest(&self) -> Option<Fragments<'a>> {
        if self.parts < 2 {
            return None;
        }
        let (area, end) = match (self.meta >> 8) & 0xFF {
            0 => (Area::Options, self.packet.len()),
            1 => (Area::File, field::FILE.end),
            _ => (Area::Sname, field::SNAME.end),
        };
        let overload = (self.meta >> 16) as u8;
        Some(Fragments {
            buf: self.packet,
            area,
            pos: self.resume,
            end,
            overload,
            seen_overload: overload != 0,
            done: false,
        })
    }

    /// The option code.
    pub fn code(&self) -> u8 {
        self.meta as u8
    }
    /// Total data length over all fragments.
    pub fn len(&self) -> usize {
        self.len
    }
    /// True when the option carries no data.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// How many fragments carry it (1 unless split per RFC 3396).
    pub fn parts(&self) -> usize {
        self.parts
    }
    /// Offset of the first fragment's code byte.
    pub fn offset(&self) -> usize {
        self.offset
    }
    /// The data as one slice when it was not split.
    pub fn contiguous(&self) -> Option<&'a [u8]> {
        (self.parts == 1).then_some(self.first)
    }
    /// Parses the option when it is contiguous; for a split option use
    /// [`LongOption::copy_to`] and [`DhcpOption::parse`] (or [`Repr`] with `alloc`).
    #[inline]
    pub fn parse(&self) -> Option<Result<DhcpOption<'a>>> {
        self.contiguous()
            .map(|d| DhcpOption::parse(self.code(), d, self.offset + 2))
    }
    /// A byte reader over the concatenated data.
    pub fn reader(&self) -> OptionReader<'a> {
        OptionReader {
            code: self.code(),
            cur: self.first,
            cur_off: self.offset + 2,
            rest: self.rest(),
            remaining: self.len,
        }
    }
    /// Copies the concatenated data into `out`, returning the filled prefix.
    pub fn copy_to<'b>(&self, out: &'b mut [u8]) -> Result<&'b [u8]> {
        let available = out.len();
        let dst = out.get_mut(..self.len).ok_or(Error::BufferTooSmall {
            needed: self.len,
            available,
        })?;
        self.reader().read_into(dst);
        Ok(dst)
    }
    /// Appends the concatenated data to `out`.
    #[cfg(feature = "alloc")]
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.len);
        let mut r = self.reader();
        while let Some(chunk) = r.next_chunk(usize::MAX) {
            v.extend_from_slice(chunk);
        }
        v
    }
}

/// Reads the concatenated data of a [`LongOption`] across its fragments.
#[derive(Debug, Clone)]
pub struct OptionReader<'a> {
    code: u8,
    cur: &'a [u8],
    cur_off: usize,
    rest: Option<Fragments<'a>>,
    remaining: usize,
}

impl<'a> OptionReader<'a> {
    fn refill(&mut self) -> bool {
        while self.cur.is_empty() {
            let Some(rest) = self.rest.as_mut() else {
                return false;
            };
            match rest.next() {
                Some(Ok(f)) if f.code == self.code => {
                    self.cur = f.data;
                    self.cur_off = f.offset + 2;
                }
                Some(Ok(_)) => {}
                _ => {
                    self.rest = None;
                    return false;
                }
            }
        }
        true
    }

    /// Bytes left to read.
    pub fn remaining(&self) -> usize {
        self.remaining
    }

    /// Offset in the message of the next byte (approximate at a fragment boundary).
    pub fn position(&self) -> usize {
        self.cur_off
    }

    /// The next contiguous piece of at most `max` bytes.
    pub fn next_chunk(&mut self, max: usize) -> Option<&'a [u8]> {
        if max == 0 || !self.refill() {
            return None;
        }
        let n = max.min(self.cur.len());
        let (head, tail) = self.cur.split_at(n);
        self.cur = tail;
        self.cur_off += n;
        self.remaining = self.remaining.saturating_sub(n);
        Some(head)
    }

    /// One byte.
    pub fn read_u8(&mut self) -> Option<u8> {
        self.next_chunk(1).and_then(|c| c.first().copied())
    }

    /// Fills `out` completely; false (with `out` partly filled) if the data ends first.
    pub fn read_into(&mut self, out: &mut [u8]) -> bool {
        let mut filled = 0;
        while filled < out.len() {
            let Some(chunk) = self.next_chunk(out.len() - filled) else {
                return false;
            };
            if let Some(dst) = out.get_mut(filled..filled + chunk.len()) {
                dst.copy_from_slice(chunk);
            }
            filled += chunk.len();
        }
        true
    }

    /// A big-endian u32.
    pub fn read_u32(&mut self) -> Option<u32> {
        let mut b = [0u8; 4];
        self.read_into(&mut b).then(|| u32::from_be_bytes(b))
    }

    /// Skips `n` bytes; false if the data ends first.
    pub fn skip(&mut self, mut n: usize) -> bool {
        while n > 0 {
            let Some(chunk) = self.next_chunk(n) else {
                return false;
            };
            n -= chunk.len();
        }
        true
    }
}

/// Iterator over options once per code; see [`Packet::options`].
#[derive(Debug, Clone)]
pub struct LogicalOptions<'a> {
    inner: Fragments<'a>,
    seen: [u64; 4],
    repeated: [u64; 4],
}

fn bit(set: &[u64; 4], code: u8) -> bool {
    set.get(usize::from(code >> 6))
        .is_some_and(|w| w & (1u64 << (code & 63)) != 0)
}

fn set_bit(set: &mut [u64; 4], code: u8) {
    if let Some(w) = set.get_mut(usize::from(code >> 6)) {
        *w |= 1u64 << (code & 63);
    }
}

impl<'a> LogicalOptions<'a> {
    fn new(buf: &'a [u8]) -> Self {
        let inner = Fragments::new(buf);
        let mut seen = [0u64; 4];
        let mut repeated = [0u64; 4];
        for f in inner.clone().flatten() {
            if bit(&seen, f.code) {
                set_bit(&mut repeated, f.code);
            }
            set_bit(&mut seen, f.code);
        }
        LogicalOptions {
            inner,
            seen: [0; 4],
            repeated,
        }
    }
}

impl<'a> Iterator for LogicalOptions<'a> {
    type Item = Result<LongOption<'a>>;
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let f = match self.inner.next()? {
                Ok(f) => f,
                Err(e) => return Some(Err(e)),
            };
            // Common case: no option is split, so every fragment is a whole option.
            if self.repeated == [0; 4] {
                return Some(Ok(LongOption::single(f)));
            }
            if bit(&self.seen, f.code) {
                continue;
            }
            set_bit(&mut self.seen, f.code);
            return Some(Ok(if bit(&self.repeated, f.code) {
                LongOption::from_first(f, self.inner.clone())
            } else {
                LongOption::single(f)
            }));
        }
    }
}
