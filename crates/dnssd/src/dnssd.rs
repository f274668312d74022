//! Resolving the local ACME server's directory URLs from DNS-SD answers (draft §3.3,
//! RFC 6763, RFC 2782).

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write as _;
use core::net::IpAddr;

use rand_core::RngCore;

use crate::error::{Error, Result};
use crate::message::{RData, Rcode, Record, RecordType, Section, Srv};
use crate::name::{Name, labels_eq};
use crate::query::Response;
use crate::srv::select_targets;
use crate::txt::{Txt, TxtValue};

/// Directory path used when no TXT `path=` attribute is published.
pub const DEFAULT_DIRECTORY_PATH: &str = "/acme/directory";

/// Longest CNAME chain followed inside the answers.
pub const MAX_CNAME_CHAIN: usize = 8;

/// One candidate ACME directory, in the order to try.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DirectoryUrl {
    /// `https://host:port/path`.
    pub url: String,
    /// The SRV target host name, without trailing dot. TLS must verify this name.
    pub host: String,
    /// The SRV port.
    pub port: u16,
    /// The directory path (from TXT `path=`, or [`DEFAULT_DIRECTORY_PATH`]).
    pub path: String,
    /// SRV priority.
    pub priority: u16,
    /// SRV weight.
    pub weight: u16,
    /// Addresses of `host` found in the responses (answer or additional sections), so no
    /// second lookup is needed; empty if none were included.
    pub addresses: Vec<IpAddr>,
}

/// What the responses resolved to.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Resolution<'a> {
    /// Directory URLs in RFC 2782 order.
    pub urls: Vec<DirectoryUrl>,
    /// Browse form only: instances named by a `PTR` whose `SRV` is in no response yet. Send
    /// [`Query::for_name`](crate::Query::for_name)`(id, name, SRV)` for each, then call
    /// [`resolve`] again with all responses.
    pub pending: Vec<Name<'a>>,
}

/// Most SRV targets (and browse-form instances) considered: bounds the work a hostile answer
/// packed with thousands of records can cause (the matching is quadratic).
pub const MAX_TARGETS: usize = 64;

struct Candidate<'a> {
    owner: Name<'a>,
    srv: Srv<'a>,
    txt: Option<(Txt<'a>, usize)>,
}

/// Resolves directory URLs from validated responses.
///
/// `responses[0]` is the answer to the discovery query: `SRV` for `_acme-server._tcp.<domain>`
/// (the draft's form) or `PTR` for it (the browse form, where each instance's `SRV` and `TXT`
/// come from the additional section or from later responses, also passed here). CNAMEs are
/// followed within the answers. Targets `.` mean "not available" (RFC 2782); a target that is
/// not a plain host name, or is under `.local` (which would need mDNS, forbidden by §3.3), is
/// skipped. The survivors are ordered by [`select_targets`] with `rng`.
///
/// Errors: [`Error::NxDomain`], [`Error::ServerFailure`], [`Error::Rcode`] from the first
/// response; [`Error::ServiceNotAvailable`] if every target is `.`; [`Error::NoService`] if
/// there is nothing to try and nothing pending; else the error of the first skipped target.
pub fn resolve<'a, R: RngCore + ?Sized>(
    responses: &[Response<'a>],
    rng: &mut R,
) -> Result<Resolution<'a>> {
    let first = responses.first().ok_or(Error::NoService)?.message();
    match first.rcode() {
        Rcode::NoError => {}
        Rcode::NxDomain => return Err(Error::NxDomain),
        Rcode::ServFail => return Err(Error::ServerFailure),
        other => return Err(Error::Rcode(other.to_u16())),
    }
    let question = first.questions().next().ok_or(Error::NoService)?;
    let all = || responses.iter().flat_map(|r| r.message().records());
    let answers = || all().filter(|(s, _)| *s == Section::Answer).map(|(_, r)| r);
    let canonical = |mut name: Name<'a>| {
        for _ in 0..MAX_CNAME_CHAIN {
            let next = answers().find_map(|r| match r.rdata {
                RData::Cname(target) if r.name == name => Some(target),
                _ => None,
            });
            match next {
                Some(target) => name = target,
                None => break,
            }
        }
        name
    };
    let txt_at = |owner: Name<'a>| {
        all().find_map(|(_, r): (Section, Record<'a>)| match r.rdata {
            RData::Txt(t) if r.name == owner => Some((t, r.rdata_offset)),
            _ => None,
        })
    };
    let service = canonical(question.name);
    let mut candidates: Vec<Candidate<'a>> = Vec::new();
    let mut pending = Vec::new();
    let srvs_for = |owner: Name<'a>, candidates: &mut Vec<Candidate<'a>>| {
        let owner = canonical(owner);
        let txt = txt_at(owner);
        let before = candidates.len();
        for (_, r) in all() {
            if let RData::Srv(srv) = r.rdata {
                if candidates.len() < MAX_TARGETS
                    && r.name == owner
                    && !candidates.iter().any(|c| c.srv == srv && c.owner == owner)
                {
                    candidates.push(Candidate { owner, srv, txt });
                }
            }
        }
        candidates.len() > before
    };
    match question.qtype {
        RecordType::SRV => {
            srvs_for(service, &mut candidates);
        }
        RecordType::PTR => {
            let mut seen: Vec<Name<'a>> = Vec::new();
            for r in answers() {
                let RData::Ptr(instance) = r.rdata else {
                    continue;
                };
                // RFC 6763 §4.1: `<Instance>.<Service>.<Domain>`, the instance one label;
                // a PTR naming anything else is not a service instance of ours.
                let under_service = labels_eq(instance.labels().skip(1), service.labels());
                if r.name != service
                    || !under_service
                    || seen.len() >= MAX_TARGETS
                    || seen.contains(&instance)
                {
                    continue;
                }
                seen.push(instance);
                let asked = responses.iter().any(|resp| {
                    resp.message()
                        .questions()
                        .any(|q| q.qtype == RecordType::SRV && q.name == instance)
                });
                if !srvs_for(instance, &mut candidates) && !asked {
                    pending.push(instance);
                }
            }
        }
        other => return Err(Error::UnsupportedQuestion(other.0)),
    }

    let mut not_available = false;
    let mut first_err = None;
    let mut urls = Vec::new();
    for c in &candidates {
        if c.srv.target.is_root() {
            not_available = true;
            continue;
        }
        match directory_url(c, &all) {
            Ok(u) => urls.push(u),
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    select_targets(&mut urls, rng, |u| (u.priority, u.weight));
    if urls.is_empty() && pending.is_empty() {
        if let Some(e) = first_err {
            return Err(e);
        }
        return Err(if not_available {
            Error::ServiceNotAvailable
        } else {
            Error::NoService
        });
    }
    Ok(Resolution { urls, pending })
}

fn directory_url<'a, I>(c: &Candidate<'a>, all: &impl Fn() -> I) -> Result<DirectoryUrl>
where
    I: Iterator<Item = (Section, Record<'a>)>,
{
    let target = c.srv.target;
    let bad_target = Error::InvalidTarget {
        offset: target.offset(),
    };
    if c.srv.port == 0 || target.ends_with_str("local") {
        return Err(bad_target);
    }
    let mut host = String::new();
    for (i, label) in target.labels().enumerate() {
        let ldh = label
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-');
        if !ldh || label.first() == Some(&b'-') || label.last() == Some(&b'-') {
            return Err(bad_target);
        }
        if i > 0 {
            host.push('.');
        }
        host.extend(label.iter().map(|&b| char::from(b)));
    }
    let path = match c.txt.and_then(|(t, off)| t.get("path").map(|v| (v, off))) {
        Some((TxtValue::Value(v), off)) => url_path(v).ok_or(Error::InvalidPath { offset: off })?,
        // A boolean `path` carries no path: use the default.
        Some((TxtValue::Present, _)) | None => String::from(DEFAULT_DIRECTORY_PATH),
    };
    let mut addresses = Vec::new();
    // Addresses of the target, following CNAMEs inside the answers.
    let mut name = target;
    for _ in 0..MAX_CNAME_CHAIN {
        let mut next = None;
        for (_, r) in all() {
            if r.name != name {
                continue;
            }
            let addr = match r.rdata {
                RData::A(a) => IpAddr::V4(a),
                RData::Aaaa(a) => IpAddr::V6(a),
                RData::Cname(t) => {
                    next.get_or_insert(t);
                    continue;
                }
                _ => continue,
            };
            if !addresses.contains(&addr) {
                addresses.push(addr);
            }
        }
        match next {
            Some(t) if addresses.is_empty() => name = t,
            _ => break,
        }
    }
    let mut url = String::new();
    // Writing to a String cannot fail.
    let _ = write!(url, "https://{host}:{}{path}", c.srv.port);
    Ok(DirectoryUrl {
        url,
        host,
        port: c.srv.port,
        path,
        priority: c.srv.priority,
        weight: c.srv.weight,
        addresses,
    })
}

/// A TXT `path=` value as a URL path: printable ASCII without spaces, `#` or `\`, with a
/// leading `/` added if missing (RFC 6763 §7.1 and the `_http._tcp` convention).
fn url_path(v: &[u8]) -> Option<String> {
    if v.is_empty() {
        return Some(String::from("/"));
    }
    if !v
        .iter()
        .all(|&b| (0x21..=0x7E).contains(&b) && b != b'#' && b != b'\\')
    {
        return None;
    }
    let mut s = String::with_capacity(v.len() + 1);
    if v.first() != Some(&b'/') {
        s.push('/');
    }
    s.extend(v.iter().map(|&b| char::from(b)));
    Some(s)
}
