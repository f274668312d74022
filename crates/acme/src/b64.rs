//! Unpadded base64url (RFC 7515 §2), the only base64 ACME uses.

use alloc::string::String;
use alloc::vec::Vec;

use base64ct::{Base64UrlUnpadded, Encoding};

use crate::error::{Error, Result};

/// Encode bytes as unpadded base64url.
pub fn encode(data: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(data)
}

/// Decode unpadded base64url; `field` names the input in the error.
pub fn decode(s: &str, field: &'static str) -> Result<Vec<u8>> {
    Base64UrlUnpadded::decode_vec(s).map_err(|_| Error::Base64 { field })
}
