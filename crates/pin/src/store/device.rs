//! The IoT-device side of the store (§3.6, §4.7, §4.9): certificates obtained on each network,
//! tracked separately per network (§4.9), and the per-network mDNS host name whose change
//! revokes that network's certificates only (§4.7).

use alloc::string::String;
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use super::PinStore;
use crate::Error;
use crate::cert::CertInfo;
use crate::names::normalize_dns;
use crate::network::{NetworkFingerprint, NetworkId};

/// A certificate an IoT device obtained on one network (§3.6, §4.7).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackedCert {
    #[serde(with = "crate::serde_b64")]
    der: Vec<u8>,
    names: Vec<String>,
    not_after: u64,
    revoke_pending: bool,
    #[serde(with = "crate::serde_hex")]
    serial: Vec<u8>,
}

impl TrackedCert {
    /// The certificate, DER.
    #[must_use]
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The serial number (big-endian bytes, as encoded).
    #[must_use]
    pub fn serial(&self) -> &[u8] {
        &self.serial
    }

    /// Its DNS subjectAltNames.
    #[must_use]
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// notAfter (Unix seconds).
    #[must_use]
    pub fn not_after(&self) -> u64 {
        self.not_after
    }

    /// True once a rename asked for its revocation and it is not confirmed yet.
    #[must_use]
    pub fn revoke_pending(&self) -> bool {
        self.revoke_pending
    }
}

impl TrackedCert {
    /// Reads what is tracked from the certificate itself.
    fn from_der(der: &[u8]) -> Result<Self, Error> {
        let info = CertInfo::parse(der).map_err(|p| Error::InvalidCertificate {
            offset: p.offset,
            reason: p.reason,
        })?;
        Ok(Self {
            der: der.to_vec(),
            serial: info.serial,
            names: info
                .dns_names
                .iter()
                .filter_map(|n| normalize_dns(n))
                .collect(),
            not_after: info.not_after,
            revoke_pending: false,
        })
    }

    /// Whether the recorded serial, names and notAfter are what the DER says (checked on load:
    /// a rename revokes by these names, §4.7).
    pub(super) fn matches_der(&self) -> bool {
        Self::from_der(&self.der).is_ok_and(|fresh| {
            Self {
                revoke_pending: self.revoke_pending,
                ..fresh
            } == *self
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DeviceNetwork {
    pub(super) certs: Vec<TrackedCert>,
    pub(super) hostname: String,
    pub(super) network: NetworkId,
}

impl PinStore {
    /// IoT device side (§3.6): records a certificate the device obtained on `network` under
    /// `hostname` (its mDNS host label, e.g. `device-12cd56`).
    ///
    /// # Errors
    /// [`Error::InvalidCertificate`] when the DER does not parse; [`Error::InvalidInput`] for
    /// an invalid host label or one that differs from the network's current one (rename first).
    pub fn track_device_cert(
        &mut self,
        network: &NetworkId,
        hostname: &str,
        cert_der: &[u8],
    ) -> Result<(), Error> {
        let hostname = host_label(hostname)?;
        let cert = TrackedCert::from_der(cert_der)?;
        let entry = self.device_entry(network, &hostname);
        if entry.hostname != hostname {
            return Err(Error::InvalidInput {
                reason: alloc::format!(
                    "the device is {:?} on this network; call device_rename first",
                    entry.hostname
                ),
            });
        }
        if !entry.certs.iter().any(|c| c.der == cert_der) {
            entry.certs.push(cert);
        }
        Ok(())
    }

    /// IoT device side: the certificates tracked for a network.
    #[must_use]
    pub fn device_certs(&self, network: &NetworkFingerprint) -> &[TrackedCert] {
        self.body
            .device
            .get(network)
            .map_or(&[], |d| d.certs.as_slice())
    }

    /// IoT device side: the device's host label on a network.
    #[must_use]
    pub fn device_hostname(&self, network: &NetworkFingerprint) -> Option<&str> {
        self.body.device.get(network).map(|d| d.hostname.as_str())
    }

    /// IoT device side (§4.7): the device's mDNS name changed on `network`. Returns the
    /// certificates for the old name **on this network only**, which the caller must revoke
    /// with this network's ACME server; they stay tracked with
    /// [`TrackedCert::revoke_pending`] until [`device_revoked`](Self::device_revoked).
    /// Other networks keep their names and certificates.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for an invalid host label.
    pub fn device_rename(
        &mut self,
        network: &NetworkId,
        new_hostname: &str,
    ) -> Result<Vec<TrackedCert>, Error> {
        let new_hostname = host_label(new_hostname)?;
        let entry = self.device_entry(network, &new_hostname);
        let old = core::mem::replace(&mut entry.hostname, new_hostname);
        if old == entry.hostname {
            return Ok(Vec::new());
        }
        let mut to_revoke = Vec::new();
        for cert in &mut entry.certs {
            let names_old = cert
                .names
                .iter()
                .any(|n| n.split('.').next() == Some(old.as_str()));
            if names_old && !cert.revoke_pending {
                cert.revoke_pending = true;
                to_revoke.push(cert.clone());
            }
        }
        Ok(to_revoke)
    }

    /// The device record of `network`, created with `hostname` and no certificates if missing.
    fn device_entry(&mut self, network: &NetworkId, hostname: &str) -> &mut DeviceNetwork {
        self.body
            .device
            .entry(network.fingerprint())
            .or_insert_with(|| DeviceNetwork {
                network: network.clone(),
                hostname: hostname.into(),
                certs: Vec::new(),
            })
    }

    /// IoT device side: the certificate with `serial` was revoked; stop tracking it.
    /// Returns whether it was tracked.
    pub fn device_revoked(&mut self, network: &NetworkFingerprint, serial: &[u8]) -> bool {
        let Some(entry) = self.body.device.get_mut(network) else {
            return false;
        };
        let before = entry.certs.len();
        entry.certs.retain(|c| c.serial != serial);
        before != entry.certs.len()
    }
}

pub(super) fn host_label(s: &str) -> Result<String, Error> {
    match normalize_dns(s) {
        Some(label) if !label.contains('.') => Ok(label),
        _ => Err(Error::InvalidInput {
            reason: alloc::format!("{s:?} is not a host label (one DNS label, letters/digits/-)"),
        }),
    }
}
