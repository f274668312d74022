#![doc = include_str!("../README.md")]
#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

extern crate alloc;

mod cert;
mod crl;
mod error;
mod link;
mod names;
mod network;
mod root;
mod scope;
mod sig;
mod store;

pub use cert::KeyKind;
pub use crl::{
    CRL_CLOCK_SKEW, CRL_GRACE, Crl, CrlRefusal, Revocation, RevokedSerial, crl_distribution_points,
    utc_date, verify_crl,
};
pub use error::Error;
pub use link::{LinkRefusal, check_rotation_links};
pub use network::{
    MacAddress, NetworkFingerprint, NetworkId, NetworkIdBuilder, NetworkKind, PublicKind,
};
pub use root::{Refusal, RootInfo};
pub use scope::{ScopeRefusal, verify_scoped, verify_scoped_with_crl};
pub use sig::ALL as SIGNATURE_ALGORITHMS;
pub use store::{
    CachedCrl, Candidate, Decision, ManagedNetwork, NetworkPin, Observation, PinStore,
    STORE_VERSION, TrackedCert,
};

use alloc::string::String;
use alloc::vec::Vec;

/// Lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use core::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        // Writing to a String cannot fail.
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Hex (either case) to bytes.
pub(crate) fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    s.as_bytes()
        .chunks(2)
        .map(|pair| {
            let text = core::str::from_utf8(pair).ok()?;
            u8::from_str_radix(text, 16).ok()
        })
        .collect()
}

pub(crate) fn unhex32(s: &str) -> Option<[u8; 32]> {
    unhex(s)?.try_into().ok()
}

/// `Option<MacAddress>` as `"aa:bb:cc:dd:ee:ff"`.
mod serde_mac {
    use alloc::string::{String, ToString};

    use serde::{Deserialize, Deserializer, Serializer};

    use crate::MacAddress;

    pub(crate) fn serialize<S: Serializer>(
        v: &Option<MacAddress>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match v {
            Some(mac) => s.serialize_some(&mac.to_string()),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<MacAddress>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|t| t.parse().map_err(serde::de::Error::custom))
            .transpose()
    }
}

/// `Option<Vec<u8>>` as a hex string.
mod serde_opt_hex {
    use alloc::string::String;
    use alloc::vec::Vec;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(v: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(bytes) => s.serialize_some(&crate::hex(bytes)),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Vec<u8>>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|t| {
                crate::unhex(&t).ok_or_else(|| serde::de::Error::custom("expected hex digits"))
            })
            .transpose()
    }
}

/// `Vec<u8>` as standard base64 (DER certificates).
mod serde_b64 {
    use alloc::string::String;
    use alloc::vec::Vec;

    use base64ct::{Base64, Encoding};
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&Base64::encode_string(v))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        Base64::decode_vec(&text).map_err(|_| serde::de::Error::custom("expected base64"))
    }
}

/// `Vec<u8>` as hex (serial numbers).
mod serde_hex {
    use alloc::string::String;
    use alloc::vec::Vec;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&crate::hex(v))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        crate::unhex(&text).ok_or_else(|| serde::de::Error::custom("expected hex digits"))
    }
}
