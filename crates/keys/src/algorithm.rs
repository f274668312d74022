//! The key algorithms lantrust supports (draft §3.4.1, §3.4.3).

use core::fmt;
use core::str::FromStr;

use alloc::string::String;

use crate::Error;

/// A private-key algorithm accepted by lantrust.
///
/// The draft asks for ECDSA on P-384 or P-521, or RSA of at least 3072 bits (§3.4.1, §3.4.3);
/// P-384 is the default because it is strong, small and fast.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum KeyAlgorithm {
    /// ECDSA on NIST P-384 (secp384r1), signing with SHA-384.
    #[default]
    P384,
    /// ECDSA on NIST P-521 (secp521r1), signing with SHA-512.
    P521,
    /// RSA with a 3072-bit modulus, PKCS#1 v1.5 signatures with SHA-256.
    Rsa3072,
    /// RSA with a 4096-bit modulus, PKCS#1 v1.5 signatures with SHA-256.
    Rsa4096,
}

impl KeyAlgorithm {
    /// Every supported algorithm, default first.
    pub const ALL: [KeyAlgorithm; 4] = [Self::P384, Self::P521, Self::Rsa3072, Self::Rsa4096];

    /// The short lower-case name used on command lines and in config files
    /// (`p384`, `p521`, `rsa3072`, `rsa4096`); [`FromStr`] accepts it back.
    pub const fn name(self) -> &'static str {
        match self {
            Self::P384 => "p384",
            Self::P521 => "p521",
            Self::Rsa3072 => "rsa3072",
            Self::Rsa4096 => "rsa4096",
        }
    }

    /// Whether this is an RSA algorithm (certificates for RSA keys also get keyEncipherment).
    pub const fn is_rsa(self) -> bool {
        matches!(self, Self::Rsa3072 | Self::Rsa4096)
    }

    /// Whether this build of the crate can generate, import and verify keys of this algorithm:
    /// P-384 always, P-521 with the `p521` Cargo feature, RSA with `rsa` (both on by default).
    pub const fn is_built(self) -> bool {
        match self {
            Self::P384 => true,
            Self::P521 => cfg!(feature = "p521"),
            Self::Rsa3072 | Self::Rsa4096 => cfg!(feature = "rsa"),
        }
    }

    /// The error for an algorithm this build leaves out.
    #[cfg_attr(all(feature = "p521", feature = "rsa"), allow(dead_code))]
    pub(crate) fn not_built(self) -> Error {
        Error::AlgorithmNotBuilt {
            algorithm: self,
            feature: if self.is_rsa() { "rsa" } else { "p521" },
        }
    }

    /// The RSA modulus size in bits, or `None` for elliptic curves.
    pub const fn rsa_bits(self) -> Option<usize> {
        match self {
            Self::Rsa3072 => Some(3072),
            Self::Rsa4096 => Some(4096),
            Self::P384 | Self::P521 => None,
        }
    }
}

impl fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::P384 => "P-384",
            Self::P521 => "P-521",
            Self::Rsa3072 => "RSA-3072",
            Self::Rsa4096 => "RSA-4096",
        })
    }
}

impl FromStr for KeyAlgorithm {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let lower = s.to_ascii_lowercase();
        let normalized: String = lower.chars().filter(|c| *c != '-' && *c != '_').collect();
        match normalized.as_str() {
            "p384" | "secp384r1" | "ec384" => Ok(Self::P384),
            "p521" | "secp521r1" | "ec521" => Ok(Self::P521),
            "rsa3072" => Ok(Self::Rsa3072),
            "rsa4096" => Ok(Self::Rsa4096),
            _ => Err(Error::UnknownAlgorithmName(s.into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for alg in KeyAlgorithm::ALL {
            assert_eq!(alg.name().parse::<KeyAlgorithm>().unwrap(), alg);
            assert_eq!(alg.to_string().parse::<KeyAlgorithm>().unwrap(), alg);
        }
        assert_eq!(KeyAlgorithm::default(), KeyAlgorithm::P384);
        assert!(matches!(
            "p256".parse::<KeyAlgorithm>(),
            Err(Error::UnknownAlgorithmName(n)) if n == "p256"
        ));
    }
}
