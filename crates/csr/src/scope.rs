//! The draft's §4.2 name scope: which names a device on this network may hold. One rule, applied
//! to a CSR's subjectAltNames by [`crate::validate`] (at finalize, RFC 8555 §7.4) and by the ACME
//! server to an order's identifiers at newOrder, before any challenge is sent toward a name.

use alloc::borrow::ToOwned;
use alloc::vec::Vec;
use core::net::IpAddr;

use crate::names::is_local_ip;
use crate::policy::{Policy, Violation};

impl Policy {
    /// The §4.2 violations of the DNS name `name` (lowercase, syntax already checked) asked for
    /// by device `device_id`: `localhost` and names under it, names neither under `.local` nor
    /// under a configured domain, a leftmost label that is the server's own name or
    /// `localhost`, and — with a device ID — any name other than `<id>.local` and
    /// `<id>.<domain>`. Empty when the name is in scope.
    #[must_use]
    pub fn name_scope_violations(&self, name: &str, device_id: Option<&str>) -> Vec<Violation> {
        let mut out = Vec::new();
        name_scope(self, name, device_id, true, &mut out);
        out
    }

    /// Whether `ip` may be certified on this network (§4.2): link-local, loopback or private
    /// (RFC 1918, ULA); shared address space (RFC 6598) and public addresses are not.
    #[must_use]
    pub fn ip_in_scope(ip: IpAddr) -> bool {
        is_local_ip(ip)
    }
}

/// [`Policy::name_scope_violations`], appending to `out`; the device-ownership rule is judged
/// only for a name whose syntax (`syntax_clean`) and suffix passed, so one fault is reported once.
pub(crate) fn name_scope(
    policy: &Policy,
    name: &str,
    device_id: Option<&str>,
    syntax_clean: bool,
    out: &mut Vec<Violation>,
) {
    if name == "localhost" || name.ends_with(".localhost") {
        out.push(Violation::LocalhostName {
            name: name.to_owned(),
        });
        return;
    }
    let domains = policy.normalized_domains();
    let server = policy
        .server_name
        .trim_end_matches('.')
        .to_ascii_lowercase();
    let server_label = server.split('.').next().unwrap_or("");
    let mut clean = syntax_clean;
    let under_local = name.ends_with(".local");
    let under_domain = domains.iter().any(|d| {
        name.len() > d.len() + 1
            && name.ends_with(d.as_str())
            && name.as_bytes().get(name.len() - d.len() - 1) == Some(&b'.')
    });
    if !under_local && !under_domain {
        out.push(Violation::SuffixNotAllowed {
            name: name.to_owned(),
        });
        clean = false;
    }
    let label = name.split('.').next().unwrap_or("");
    if label == "localhost" || (!server_label.is_empty() && label == server_label) {
        out.push(Violation::ReservedLeftmostLabel {
            name: name.to_owned(),
            label: label.to_owned(),
        });
        clean = false;
    }
    if clean && let Some(id) = device_id {
        let own = name
            .strip_prefix(id)
            .and_then(|rest| rest.strip_prefix('.'))
            .is_some_and(|suffix| suffix == "local" || domains.iter().any(|d| d == suffix));
        if !own {
            out.push(Violation::NameNotForDevice {
                name: name.to_owned(),
                device_id: id.to_owned(),
            });
        }
    }
}
