//! TXT records (RFC 1035 §3.3.14) and DNS-SD key/value attributes (RFC 6763 §6).

use crate::error::{Error, Result};

/// TXT rdata: one or more `<character-string>`s, validated to fill the rdata exactly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Txt<'a> {
    data: &'a [u8],
}

/// The value of a DNS-SD TXT attribute (RFC 6763 §6.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxtValue<'a> {
    /// `key` with no `=`: a boolean attribute that is present (true).
    Present,
    /// `key=value` (the value may be empty, `key=`).
    Value(&'a [u8]),
}

impl<'a> Txt<'a> {
    /// Validates TXT rdata at `offset` (for error messages): at least one string, and the
    /// length bytes must add up to the rdata length exactly.
    pub(crate) fn parse(data: &'a [u8], offset: usize) -> Result<Self> {
        if data.is_empty() {
            return Err(Error::RdataLength {
                offset,
                rtype: 16,
                len: 0,
            });
        }
        let mut pos = 0usize;
        while let Some(&len) = data.get(pos) {
            pos += 1 + usize::from(len);
        }
        if pos != data.len() {
            return Err(Error::RdataLength {
                offset,
                rtype: 16,
                len: data.len(),
            });
        }
        Ok(Txt { data })
    }

    /// Wraps rdata that [`Txt::parse`] already accepted.
    pub(crate) fn trusted(data: &'a [u8]) -> Self {
        Txt { data }
    }

    /// The raw rdata.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.data
    }

    /// The character-strings, in order.
    pub fn strings(&self) -> CharacterStrings<'a> {
        CharacterStrings { data: self.data }
    }

    /// Looks up a DNS-SD attribute (RFC 6763 §6.4-6.5): keys compare ASCII
    /// case-insensitively, only the first occurrence of a key counts, a string without `=` is
    /// a boolean attribute, strings that are empty or start with `=` are ignored.
    pub fn get(&self, key: &str) -> Option<TxtValue<'a>> {
        self.attributes()
            .find(|(k, _)| k.eq_ignore_ascii_case(key.as_bytes()))
            .map(|(_, v)| v)
    }

    /// All attributes as `(key, value)`, in order, skipping empty strings, strings starting
    /// with `=` and keys with non-printable bytes. Duplicates are still yielded; [`Txt::get`]
    /// applies the first-occurrence rule.
    pub fn attributes(&self) -> impl Iterator<Item = (&'a [u8], TxtValue<'a>)> + use<'a> {
        self.strings().filter_map(|s| {
            let (key, value) = match s.iter().position(|&b| b == b'=') {
                Some(i) => (s.get(..i)?, TxtValue::Value(s.get(i + 1..)?)),
                None => (s, TxtValue::Present),
            };
            // RFC 6763 §6.4: at least one printable US-ASCII character, '=' excluded.
            if key.is_empty() || !key.iter().all(|b| (0x20..=0x7E).contains(b)) {
                return None;
            }
            Some((key, value))
        })
    }
}

/// Iterator over the `<character-string>`s of a [`Txt`].
#[derive(Clone, Debug)]
pub struct CharacterStrings<'a> {
    data: &'a [u8],
}

impl<'a> Iterator for CharacterStrings<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let (&len, rest) = self.data.split_first()?;
        let len = usize::from(len);
        let s = rest.get(..len)?;
        self.data = rest.get(len..)?;
        Some(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6763_section6_rules() {
        // "" ignored, "=x" ignored (no key), "Path=/a" wins over "path=/b", "debug" is a
        // boolean, "empty=" has an empty value, a key with a control byte is skipped.
        let data = b"\x00\x02=x\x07Path=/a\x07path=/b\x05debug\x06empty=\x03\x01k=";
        let txt = Txt::parse(data, 0).unwrap();
        assert_eq!(txt.strings().count(), 7);
        assert_eq!(txt.get("PATH"), Some(TxtValue::Value(b"/a")));
        assert_eq!(txt.get("debug"), Some(TxtValue::Present));
        assert_eq!(txt.get("empty"), Some(TxtValue::Value(b"")));
        assert_eq!(txt.get(""), None);
        assert_eq!(txt.get("\x01k"), None);
        let keys: Vec<&[u8]> = txt.attributes().map(|(k, _)| k).collect();
        assert_eq!(keys, [&b"Path"[..], b"path", b"debug", b"empty"]);
    }

    #[test]
    fn layout_errors_carry_offset() {
        assert_eq!(
            Txt::parse(b"\x05abc", 40).unwrap_err(),
            Error::RdataLength {
                offset: 40,
                rtype: 16,
                len: 4
            }
        );
        assert!(Txt::parse(b"", 7).is_err());
        // A single empty string is the RFC 6763 §6.1 way to say "no attributes".
        assert_eq!(Txt::parse(b"\x00", 0).unwrap().attributes().count(), 0);
    }
}
