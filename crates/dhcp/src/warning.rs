//! Options set aside by a lenient parse: a bounded, allocation-free list.
//!
//! Real servers and clients send options that do not follow their RFC (a vendor's odd option,
//! Kea 2.2's and dhcpcd 9's option 124 without its data-len byte, a truncated last option). A
//! lenient parse ([`crate::v4::Repr::parse_lenient`], [`crate::v6::Repr::parse_lenient`], or the
//! views' `option_warnings`) keeps every other option and records each bad one here instead of
//! dropping the whole message.

use crate::error::Error;

/// How many warnings a [`Warnings`] list keeps; later ones are only counted
/// ([`Warnings::overflow`]).
pub const MAX_WARNINGS: usize = 8;

/// One option that a lenient parse set aside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptionWarning {
    /// The option's code (v4 codes are widened to `u16`).
    pub code: u16,
    /// Offset of the option's code byte(s) in the message.
    pub offset: usize,
    /// Why it was set aside, with the offset of the faulty byte inside it.
    pub error: Error,
}

impl OptionWarning {
    /// A warning for a framing error that ended an option walk: the option is the one the error
    /// names (option overload, 52, for the overload errors; 0 when the walk broke before a code
    /// could be read).
    pub(crate) fn framing(error: Error) -> Self {
        let (code, offset) = match error {
            Error::OptionOverrun { offset, code, .. }
            | Error::BadOptionLength { offset, code, .. } => (code, offset),
            Error::OverloadLoop { offset }
            | Error::DuplicateOverload { offset }
            | Error::BadOverload { offset } => (52, offset),
            Error::Truncated { offset, .. }
            | Error::MalformedSubOption { offset, .. }
            | Error::BadLabel { offset }
            | Error::BadPointer { offset }
            | Error::NameTooLong { offset }
            | Error::NestingTooDeep { offset }
            | Error::InvalidFqdn { offset, .. }
            | Error::InvalidUrl { offset }
            | Error::BadMagicCookie { offset } => (0, offset),
            Error::BufferTooSmall { .. } | Error::TooLong { .. } => (0, 0),
        };
        OptionWarning {
            code,
            offset,
            error,
        }
    }
}

impl core::fmt::Display for OptionWarning {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "option {} at byte {} ignored: {}",
            self.code, self.offset, self.error
        )
    }
}

/// A fixed-capacity list of [`OptionWarning`]s: the first [`MAX_WARNINGS`] are kept, the rest
/// counted. Never allocates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Warnings {
    list: [Option<OptionWarning>; MAX_WARNINGS],
    len: usize,
    overflow: usize,
}

impl Warnings {
    /// An empty list.
    pub const fn new() -> Self {
        Warnings {
            list: [None; MAX_WARNINGS],
            len: 0,
            overflow: 0,
        }
    }

    /// Records a warning, or counts it when the list is full.
    pub fn push(&mut self, warning: OptionWarning) {
        match self.list.get_mut(self.len) {
            Some(slot) => {
                *slot = Some(warning);
                self.len += 1;
            }
            None => self.overflow = self.overflow.saturating_add(1),
        }
    }

    /// Records `error` against option `code` at `offset`.
    #[cfg(any(feature = "alloc", test))]
    pub(crate) fn add(&mut self, code: u16, offset: usize, error: Error) {
        self.push(OptionWarning {
            code,
            offset,
            error,
        });
    }

    /// The kept warnings, in message order.
    pub fn iter(&self) -> impl Iterator<Item = &OptionWarning> + '_ {
        self.into_iter()
    }

    /// How many warnings are kept (at most [`MAX_WARNINGS`]).
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when nothing was set aside.
    pub fn is_empty(&self) -> bool {
        self.len == 0 && self.overflow == 0
    }

    /// How many more warnings there were than the list keeps.
    pub fn overflow(&self) -> usize {
        self.overflow
    }

    /// Every warning, kept or only counted.
    pub fn total(&self) -> usize {
        self.len.saturating_add(self.overflow)
    }

    /// The first kept warning about option `code`.
    pub fn get(&self, code: u16) -> Option<&OptionWarning> {
        self.iter().find(|w| w.code == code)
    }
}

impl<'a> IntoIterator for &'a Warnings {
    type Item = &'a OptionWarning;
    type IntoIter =
        core::iter::Flatten<core::iter::Take<core::slice::Iter<'a, Option<OptionWarning>>>>;
    fn into_iter(self) -> Self::IntoIter {
        self.list.iter().take(self.len).flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_first_and_counts_the_rest() {
        let mut w = Warnings::new();
        assert!(w.is_empty());
        for i in 0..(MAX_WARNINGS as u16 + 3) {
            w.add(i, usize::from(i), Error::BadOverload { offset: 0 });
        }
        assert_eq!(w.len(), MAX_WARNINGS);
        assert_eq!(w.overflow(), 3);
        assert_eq!(w.total(), MAX_WARNINGS + 3);
        assert_eq!(
            w.iter().map(|w| w.code).collect::<Vec<_>>(),
            (0..8).collect::<Vec<_>>()
        );
        assert_eq!(w.get(5).map(|w| w.offset), Some(5));
    }
}
