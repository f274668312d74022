//! Network identity (§4.8) and kind (§4.1, §4.9).

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;
use core::str::FromStr;

use sha2::{Digest, Sha256};

use crate::Error;
use crate::names::normalize_dns;

/// A MAC address (the default router's, §4.8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MacAddress(pub [u8; 6]);

impl fmt::Display for MacAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

impl FromStr for MacAddress {
    type Err = Error;

    /// Parses `aa:bb:cc:dd:ee:ff` (or with `-` separators), any case.
    fn from_str(s: &str) -> Result<Self, Error> {
        let bad = || Error::InvalidNetworkId {
            reason: alloc::format!("bad MAC address {s:?}"),
        };
        let mut out = [0u8; 6];
        let mut parts = s.split([':', '-']);
        for byte in &mut out {
            let part = parts.next().ok_or_else(bad)?;
            if part.len() != 2 {
                return Err(bad());
            }
            *byte = u8::from_str_radix(part, 16).map_err(|_| bad())?;
        }
        if parts.next().is_some() {
            return Err(bad());
        }
        Ok(Self(out))
    }
}

/// The stable identifier of a [`NetworkId`]: SHA-256 of its canonical encoding.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NetworkFingerprint(pub [u8; 32]);

impl fmt::Display for NetworkFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::hex(&self.0))
    }
}

impl fmt::Debug for NetworkFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NetworkFingerprint({self})")
    }
}

impl FromStr for NetworkFingerprint {
    type Err = Error;

    /// Parses the 64 lower- or upper-case hex digits that `Display` writes.
    fn from_str(s: &str) -> Result<Self, Error> {
        crate::unhex32(s)
            .map(Self)
            .ok_or_else(|| Error::InvalidNetworkId {
                reason: alloc::format!("a network fingerprint is 64 hex digits, got {s:?}"),
            })
    }
}

/// What a network is, as the caller's OS knows it. Decides whether pinning is allowed at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum NetworkKind {
    /// A private network (home Wi-Fi with a passphrase, wired LAN): TOFU pinning applies (§3.5).
    Private,
    /// A managed (enterprise) network: only pre-configured anchors are trusted, no TOFU (§3.5).
    Managed,
    /// A public network: never pinned, never trusted (§4.1, §4.9).
    Public(PublicKind),
}

/// Why a network is public (§4.1, §4.9).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PublicKind {
    /// A cellular (mobile) network.
    Cellular,
    /// A Wi-Fi network without a passphrase (open or captive-portal hotspot).
    OpenWifi,
    /// Marked public by the user or by policy.
    Untrusted,
}

impl fmt::Display for PublicKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Cellular => "a cellular network",
            Self::OpenWifi => "an open Wi-Fi network",
            Self::Untrusted => "a network marked public",
        })
    }
}

/// The identity of a network (§4.8): interface name, default-router MAC, Wi-Fi SSID and local
/// domain. At least the router MAC or the SSID must be known: an interface name alone (`eth0`)
/// would make every wired network look the same.
///
/// ```
/// use lantrust_pin::NetworkId;
/// let home = NetworkId::builder()
///     .interface("wlan0")
///     .router_mac("02:11:22:33:44:55".parse()?)
///     .ssid(b"Home")
///     .local_domain("example.test")
///     .build()?;
/// assert_eq!(home.fingerprint().to_string().len(), 64);
/// # Ok::<(), lantrust_pin::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, try_from = "RawNetworkId")]
pub struct NetworkId {
    // Fields in alphabetical order: the store's JSON has sorted keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    interface: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    local_domain: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::serde_mac"
    )]
    router_mac: Option<MacAddress>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::serde_opt_hex"
    )]
    ssid: Option<Vec<u8>>,
}

/// The serialised fields, validated into a [`NetworkId`] on deserialisation.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNetworkId {
    #[serde(default)]
    interface: Option<String>,
    #[serde(default)]
    local_domain: Option<String>,
    #[serde(default, with = "crate::serde_mac")]
    router_mac: Option<MacAddress>,
    #[serde(default, with = "crate::serde_opt_hex")]
    ssid: Option<Vec<u8>>,
}

impl TryFrom<RawNetworkId> for NetworkId {
    type Error = Error;

    fn try_from(raw: RawNetworkId) -> Result<Self, Error> {
        Self {
            interface: raw.interface,
            local_domain: raw.local_domain,
            router_mac: raw.router_mac,
            ssid: raw.ssid,
        }
        .validated()
    }
}

/// Builds a [`NetworkId`]; see [`NetworkId::builder`].
#[derive(Clone, Debug, Default)]
pub struct NetworkIdBuilder {
    interface: Option<String>,
    router_mac: Option<MacAddress>,
    ssid: Option<Vec<u8>>,
    local_domain: Option<String>,
}

impl NetworkIdBuilder {
    /// The local interface name (`wlan0`, `en0`).
    #[must_use]
    pub fn interface(mut self, name: &str) -> Self {
        self.interface = Some(name.to_string());
        self
    }

    /// The default router's MAC address.
    #[must_use]
    pub fn router_mac(mut self, mac: MacAddress) -> Self {
        self.router_mac = Some(mac);
        self
    }

    /// The Wi-Fi SSID (raw bytes: SSIDs need not be UTF-8).
    #[must_use]
    pub fn ssid(mut self, ssid: &[u8]) -> Self {
        self.ssid = Some(ssid.to_vec());
        self
    }

    /// The local domain the network announced (DHCP option 15/119, DHCPv6 24).
    #[must_use]
    pub fn local_domain(mut self, domain: &str) -> Self {
        self.local_domain = Some(domain.to_string());
        self
    }

    /// Validates and builds the identity.
    ///
    /// # Errors
    /// [`Error::InvalidNetworkId`] when neither a router MAC nor an SSID is given, when the SSID is
    /// empty or longer than 32 bytes, when the interface name is empty or longer than 64 bytes, or
    /// when the local domain is not a valid host name.
    pub fn build(self) -> Result<NetworkId, Error> {
        NetworkId {
            interface: self.interface,
            router_mac: self.router_mac,
            ssid: self.ssid,
            local_domain: match self.local_domain {
                Some(d) => Some(normalize_dns(&d).ok_or_else(|| Error::InvalidNetworkId {
                    reason: alloc::format!("local domain {d:?} is not a valid DNS name"),
                })?),
                None => None,
            },
        }
        .validated()
    }
}

impl NetworkId {
    /// Starts building an identity.
    #[must_use]
    pub fn builder() -> NetworkIdBuilder {
        NetworkIdBuilder::default()
    }

    pub(crate) fn validated(self) -> Result<Self, Error> {
        let bad = |reason: &str| {
            Err(Error::InvalidNetworkId {
                reason: reason.to_string(),
            })
        };
        if self.router_mac.is_none() && self.ssid.is_none() {
            return bad(
                "a network needs the default router's MAC address or the Wi-Fi SSID (§4.8); \
                 an interface name alone does not tell networks apart",
            );
        }
        if self
            .ssid
            .as_ref()
            .is_some_and(|s| s.is_empty() || s.len() > 32)
        {
            return bad("a Wi-Fi SSID is 1 to 32 bytes");
        }
        if self
            .interface
            .as_ref()
            .is_some_and(|i| i.is_empty() || i.len() > 64)
        {
            return bad("an interface name is 1 to 64 bytes");
        }
        if let Some(d) = &self.local_domain {
            if normalize_dns(d).as_deref() != Some(d.as_str()) {
                return bad(
                    "the local domain must be a lower-case DNS name without a trailing dot",
                );
            }
        }
        Ok(self)
    }

    /// The interface name, if known.
    #[must_use]
    pub fn interface(&self) -> Option<&str> {
        self.interface.as_deref()
    }

    /// The default router's MAC address, if known.
    #[must_use]
    pub fn router_mac(&self) -> Option<MacAddress> {
        self.router_mac
    }

    /// The Wi-Fi SSID, if any.
    #[must_use]
    pub fn ssid(&self) -> Option<&[u8]> {
        self.ssid.as_deref()
    }

    /// The local domain (normalised: lower case, no trailing dot), if known.
    #[must_use]
    pub fn local_domain(&self) -> Option<&str> {
        self.local_domain.as_deref()
    }

    /// The canonical encoding the fingerprint hashes: a version tag, then each field as
    /// `tag, 0` when absent or `tag, 1, u32 big-endian length, bytes` when present.
    #[must_use]
    pub fn canonical_encoding(&self) -> Vec<u8> {
        let mut out = b"lantrust-pin/network-id/v1".to_vec();
        let fields: [(u8, Option<&[u8]>); 4] = [
            (1, self.interface.as_deref().map(str::as_bytes)),
            (2, self.router_mac.as_ref().map(|m| &m.0[..])),
            (3, self.ssid.as_deref()),
            (4, self.local_domain.as_deref().map(str::as_bytes)),
        ];
        for (tag, value) in fields {
            out.push(tag);
            match value {
                None => out.push(0),
                Some(v) => {
                    out.push(1);
                    // Lengths are bounded by validation (≤ 253 bytes), so this never saturates.
                    out.extend_from_slice(
                        &u32::try_from(v.len()).unwrap_or(u32::MAX).to_be_bytes(),
                    );
                    out.extend_from_slice(v);
                }
            }
        }
        out
    }

    /// SHA-256 of [`canonical_encoding`](Self::canonical_encoding): stable across versions.
    #[must_use]
    pub fn fingerprint(&self) -> NetworkFingerprint {
        NetworkFingerprint(Sha256::digest(self.canonical_encoding()).into())
    }
}
