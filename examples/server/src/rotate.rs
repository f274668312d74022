//! Planned root rotation (issue 15; draft §4.11: a new root never reuses key material; §4.8:
//! clients must be told when a network's root changes — here, that the change was signed by the
//! root they trusted).
//!
//! `rotate-root` makes the successor of the network root (a new key, the same subject, names and
//! name-constraint choice: `Root::successor`) and the link certificate by which the old root
//! certifies it (`Root::link_certificate`), and commits, in one `write_group` (all or nothing
//! after a crash):
//!
//! ```text
//! root.pem, root-key.pem                 the new (current) root and its key (0600)
//! previous-root-<KEYID>.pem, -key.pem    each earlier root and its key (0600): it keeps signing
//!                                        the CRL of the certificates it issued, /crl/<KEYID>
//! root-links.pem                         the link certificates, newest first (/roots/link.pem)
//! ```
//!
//! All of them are plain files of the state directory, so `backup` and `restore` carry them.
//! `serve` reads them at start: a running `serve` keeps its old root until it is restarted.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use lantrust_ca::{Certificate, Root};
use lantrust_cli::fs::Mode;

use crate::store::{self, StateDir};

/// Link certificates (PEM, newest first), beside root.pem.
pub(crate) const LINKS_FILE: &str = "root-links.pem";
/// Prefix of an earlier root's files: `previous-root-<KEYID>.pem` and `…-key.pem`.
const PREVIOUS_PREFIX: &str = "previous-root-";

#[derive(clap::Args, Debug)]
pub(crate) struct RotateArgs {
    /// State directory (from `init`).
    #[arg(long, value_name = "DIR")]
    state: PathBuf,
}

/// Lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The network's roots as `serve` uses them.
pub(crate) struct Roots {
    /// The current root: it issues, signs /crl, certifies the HTTPS certificate.
    pub(crate) current: Arc<Root>,
    /// The current root, PEM (what /roots.pem serves).
    pub(crate) current_pem: String,
    /// Earlier roots, newest first: each signs the CRL of what it issued.
    pub(crate) previous: Vec<Arc<Root>>,
    /// The link certificates, DER, newest first.
    pub(crate) links: Vec<Vec<u8>>,
    /// What follows a leaf before any rotation: the root itself, or in subordinate mode the
    /// subordinate CA and its intermediates (`subca`).
    base_tail: Vec<Vec<u8>>,
}

impl Roots {
    /// Reads the state directory's roots (after `lantrust_cli::fs::recover`, which completes an
    /// interrupted rotation). The links must each be signed by a known root and certify a known
    /// root's key.
    pub(crate) fn load(st: &StateDir) -> Result<Self> {
        // Subordinate mode (issue 19): one CA certified by the company root, never rotated here
        // (a new sub-CA is the company CA's ceremony); `/roots.pem` serves the company root.
        if crate::subca::subca_path(st).exists() || !st.root_cert().exists() {
            let ca = crate::subca::load(st)?;
            return Ok(Roots {
                current: Arc::new(ca.root),
                current_pem: ca.anchor_pem,
                previous: Vec::new(),
                links: Vec::new(),
                base_tail: ca.chain_der,
            });
        }
        let current_pem = std::fs::read_to_string(st.root_cert())
            .with_context(|| format!("reading {}", st.root_cert().display()))?;
        let key_pem = zeroize::Zeroizing::new(
            std::fs::read_to_string(st.root_key())
                .with_context(|| format!("reading {}", st.root_key().display()))?,
        );
        let current =
            Arc::new(Root::from_pem(&current_pem, &key_pem).context("loading the network root")?);
        let mut previous = Vec::new();
        for (cert, key) in previous_files(st)? {
            let c = std::fs::read_to_string(&cert)
                .with_context(|| format!("reading {}", cert.display()))?;
            let k = zeroize::Zeroizing::new(
                std::fs::read_to_string(&key)
                    .with_context(|| format!("reading {}", key.display()))?,
            );
            previous.push(Arc::new(
                Root::from_pem(&c, &k).with_context(|| format!("loading {}", cert.display()))?,
            ));
        }
        // Newest first.
        previous.sort_by_key(|r| {
            std::cmp::Reverse(
                r.certificate()
                    .tbs_certificate
                    .validity
                    .not_before
                    .to_unix_duration(),
            )
        });
        let links_path = st.dir.join(LINKS_FILE);
        let links = match std::fs::read_to_string(&links_path) {
            Ok(pem) => lantrust_ca::certificates_from_pem(&pem)
                .with_context(|| format!("reading {}", links_path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e).with_context(|| format!("reading {}", links_path.display())),
        };
        let known: Vec<&Certificate> = std::iter::once(current.certificate())
            .chain(previous.iter().map(|r| r.certificate()))
            .collect();
        let mut link_ders = Vec::new();
        for link in &links {
            let ok = known
                .iter()
                .any(|old| known.iter().any(|new| lantrust_ca::is_link(link, old, new)));
            if !ok {
                bail!(
                    "{}: a link certificate ({}) is not signed by a root of this network for another one",
                    links_path.display(),
                    link.tbs_certificate.subject
                );
            }
            link_ders.push(lantrust_ca::certificate_to_der(link)?);
        }
        let base_tail = vec![current.certificate_der().to_vec()];
        Ok(Roots {
            current,
            current_pem,
            previous,
            links: link_ders,
            base_tail,
        })
    }

    /// What follows a leaf of the current root in the chains it is served with — the HTTPS
    /// certificate and every issued certificate: the link certificates after a rotation (so a
    /// party that trusts only an earlier root reaches the leaf through them, while one that
    /// trusts the current root stops at it), else the root itself, as before any rotation.
    pub(crate) fn chain_tail(&self) -> Vec<Vec<u8>> {
        if self.links.is_empty() {
            self.base_tail.clone()
        } else {
            self.links.clone()
        }
    }

    /// [`Roots::chain_tail`] as PEM.
    pub(crate) fn chain_tail_pem(&self) -> String {
        lantrust_cli::certs_to_pem(&self.chain_tail())
    }

    /// The link certificates as PEM (empty before any rotation).
    pub(crate) fn links_pem(&self) -> String {
        lantrust_cli::certs_to_pem(&self.links)
    }
}

/// The (certificate, key) paths of each earlier root in the state directory.
fn previous_files(st: &StateDir) -> Result<Vec<(PathBuf, PathBuf)>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(&st.dir).with_context(|| format!("reading {}", st.dir.display()))? {
        let name = e?.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(id) = name
            .strip_prefix(PREVIOUS_PREFIX)
            .and_then(|n| n.strip_suffix(".pem"))
            .filter(|id| !id.ends_with("-key"))
        {
            out.push((
                st.dir.join(name),
                st.dir.join(format!("{PREVIOUS_PREFIX}{id}-key.pem")),
            ));
        }
    }
    out.sort();
    Ok(out)
}

/// The key identifier a certificate's authorityKeyIdentifier names (its issuer's key).
pub(crate) fn issuer_key_id(leaf_der: &[u8]) -> Option<Vec<u8>> {
    use der::Decode;
    use x509_cert::ext::pkix::AuthorityKeyIdentifier;
    let cert = lantrust_ca::certificate_from_der(leaf_der).ok()?;
    cert.tbs_certificate
        .extensions
        .iter()
        .flatten()
        .find(|e| e.extn_id == <AuthorityKeyIdentifier as der::oid::AssociatedOid>::OID)
        .and_then(|e| AuthorityKeyIdentifier::from_der(e.extn_value.as_bytes()).ok())
        .and_then(|aki| aki.key_identifier)
        .map(|k| k.as_bytes().to_vec())
}

/// Whether the certificate `leaf_der` was issued by the root whose key identifier is
/// `current_key_id` (false for certificates of an earlier root, to renew early after a
/// rotation; see `certificates_by_issuer`).
pub(crate) fn issued_by_current_root(leaf_der: &[u8], current_key_id: &[u8]) -> bool {
    issuer_key_id(leaf_der).as_deref() == Some(current_key_id)
}

/// Every issued certificate with the key identifier of the root that issued it:
/// (certificate id, device id, issuer key id hex, not_after). For renewals after a rotation.
pub(crate) fn certificates_by_issuer(db: &store::Db) -> Result<Vec<(String, String, String, u64)>> {
    let mut out = Vec::new();
    for (id, device, der, not_after) in store::issued_leaves(db)? {
        let issuer = issuer_key_id(&der).map(|k| hex(&k)).unwrap_or_default();
        out.push((id, device, issuer, u64::try_from(not_after).unwrap_or(0)));
    }
    Ok(out)
}

/// Revocations of the certificates `root` issued, for its CRL.
fn revocations_of(db: &store::Db, root: &Root) -> Result<Vec<store::Revoked>> {
    Ok(store::revocations_with_leaf(db)?
        .into_iter()
        .filter(|(_, der)| issued_by_current_root(der, root.key_identifier()))
        .map(|(r, _)| r)
        .collect())
}

/// How long an earlier root's CRL is valid, and when it is re-signed at the latest (as the
/// current root's: `AcmeService::crl`).
const CRL_VALIDITY: Duration = Duration::from_secs(7 * 86_400);
const CRL_RESIGN: Duration = Duration::from_secs(86_400);

/// The earlier roots' CRLs, signed on demand and cached until the revocations change or a day
/// passes (RFC 5280 §5: each CA signs the CRL of the certificates it issued; an earlier root
/// keeps doing so after a rotation until they have all expired).
pub(crate) struct PreviousCrls {
    state: StateDir,
    roots: Vec<Arc<Root>>,
    #[allow(clippy::type_complexity)]
    cache: Mutex<Vec<(Vec<u8>, Vec<store::Revoked>, Duration, Vec<u8>)>>,
}

impl PreviousCrls {
    pub(crate) fn new(state: StateDir, roots: Vec<Arc<Root>>) -> Self {
        PreviousCrls {
            state,
            roots,
            cache: Mutex::new(Vec::new()),
        }
    }

    /// The CRL (DER) of the earlier root with key identifier `key_id`, or `None` when no
    /// earlier root has it.
    pub(crate) fn crl(&self, key_id: &[u8], now: Duration) -> Result<Option<Vec<u8>>> {
        let Some(root) = self.roots.iter().find(|r| r.key_identifier() == key_id) else {
            return Ok(None);
        };
        let db = self.state.open()?;
        let list = revocations_of(&db, root)?;
        let mut cache = self
            .cache
            .lock()
            .map_err(|_| anyhow!("CRL cache poisoned"))?;
        if let Some((_, l, at, der)) = cache.iter().find(|(k, ..)| k == key_id)
            && *l == list
            && now.saturating_sub(*at) < CRL_RESIGN
        {
            return Ok(Some(der.clone()));
        }
        let revoked = list
            .iter()
            .map(|(serial, reason, at)| {
                Ok(lantrust_ca::RevokedCertificate {
                    serial: lantrust_ca::SerialNumber::new(serial)
                        .map_err(|e| anyhow!("stored serial: {e}"))?,
                    revoked_at: Duration::from_secs(*at),
                    reason: crate::service::crl_reason(*reason),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let number = store::next_crl_number(&db)?;
        let crl = root.crl(&revoked, number, now, CRL_VALIDITY)?;
        let der = der::Encode::to_der(&crl).map_err(|e| anyhow!("encoding the CRL: {e}"))?;
        cache.retain(|(k, ..)| k != key_id);
        cache.push((key_id.to_vec(), list, now, der.clone()));
        Ok(Some(der))
    }
}

/// `rotate-root`: the successor root, its link certificate, and the earlier root kept for its
/// CRL, committed together.
pub(crate) fn rotate_root(a: RotateArgs) -> Result<()> {
    let st = StateDir::new(&a.state);
    st.check_private()?;
    if crate::subca::subca_path(&st).exists() || crate::subca::request_path(&st).exists() {
        bail!(
            "{} is a subordinate CA under the company's PKI: rotate-root makes self-signed roots only; \
             have the company CA certify a new subordinate (a new state directory: init --subordinate, import-ca)",
            a.state.display()
        );
    }
    ensure_state(&st)?;
    lantrust_cli::fs::recover(&a.state)
        .with_context(|| format!("recovering {} after a crash", a.state.display()))?;
    let roots = Roots::load(&st)?;
    let old = &roots.current;
    if matches!(
        old.private_key().algorithm(),
        lantrust_ca::KeyAlgorithm::Rsa3072 | lantrust_ca::KeyAlgorithm::Rsa4096
    ) {
        eprintln!("generating an RSA root key (this can take a while)...");
    }
    let new = old
        .successor(store::now(), &mut rand::rngs::OsRng)
        .context("generating the new root")?;
    let link = old
        .link_certificate(&new, &mut rand::rngs::OsRng)
        .context("signing the link certificate")?;
    let link_der = lantrust_ca::certificate_to_der(&link)?;
    let mut links = vec![link_der];
    links.extend(roots.links.iter().cloned());

    let old_id = hex(old.key_identifier());
    let prev_cert = format!("{PREVIOUS_PREFIX}{old_id}.pem");
    let prev_key = format!("{PREVIOUS_PREFIX}{old_id}-key.pem");
    let old_cert_pem = old.certificate_pem()?;
    let old_key_pem = old.private_key_pem()?;
    let new_cert_pem = new.certificate_pem()?;
    let new_key_pem = new.private_key_pem()?;
    let links_pem = lantrust_cli::certs_to_pem(&links);
    lantrust_cli::fs::write_group(
        &a.state,
        &[
            (prev_cert.as_str(), old_cert_pem.as_bytes(), Mode::Public),
            (prev_key.as_str(), old_key_pem.as_bytes(), Mode::Secret),
            (LINKS_FILE, links_pem.as_bytes(), Mode::Public),
            (store::ROOT_KEY_FILE, new_key_pem.as_bytes(), Mode::Secret),
            (store::ROOT_CERT_FILE, new_cert_pem.as_bytes(), Mode::Public),
        ],
    )
    .context("writing the new root")?;

    let fp = |r: &Root| {
        use sha2::Digest;
        hex(&sha2::Sha256::digest(
            der::Encode::to_der(&r.certificate().tbs_certificate.subject_public_key_info)
                .unwrap_or_default(),
        ))
    };
    lantrust_cli::outln!("rotated the root of {}", a.state.display());
    lantrust_cli::outln!("  old root: SPKI SHA-256 {} (key id {old_id})", fp(old));
    lantrust_cli::outln!(
        "  new root: SPKI SHA-256 {} (key id {}), {}",
        fp(&new),
        hex(new.key_identifier()),
        new.subject()
    );
    lantrust_cli::outln!(
        "  link:     {} (the new root certified by the old one; served at /roots/link.pem)",
        st.dir.join(LINKS_FILE).display()
    );
    lantrust_cli::outln!(
        "  the old root keeps signing the CRL of its certificates at /crl/{old_id} (file {prev_cert})"
    );
    let now = store::now().as_secs();
    let outstanding = certificates_by_issuer(&st.open()?)?
        .into_iter()
        .filter(|(_, _, issuer, not_after)| *issuer == old_id && *not_after > now)
        .count();
    lantrust_cli::outln!(
        "  {outstanding} unexpired certificate(s) of the old root: devices get new ones under the new root at their next renewal"
    );
    lantrust_cli::outln!(
        "next: restart `lantrust-server serve` (a running serve keeps the old root until then)"
    );
    Ok(())
}

fn ensure_state(st: &StateDir) -> Result<()> {
    let store = if st.store_url_file().exists() {
        st.store_url_file()
    } else {
        st.db()
    };
    for p in [store, st.root_cert(), st.root_key()] {
        if !p.exists() {
            bail!(
                "{} is missing: {} is not a lantrust state directory",
                p.display(),
                st.dir.display()
            );
        }
    }
    Ok(())
}

/// While `serve` runs: warn (every `every`) when root.pem on disk is no longer the root this
/// process loaded — a `rotate-root` took place and takes effect at the next start.
pub(crate) fn spawn_watch(st: StateDir, loaded: Vec<u8>, every: Duration) {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            let on_disk = std::fs::read_to_string(st.root_cert())
                .ok()
                .and_then(|p| lantrust_ca::certificate_from_pem(&p).ok())
                .and_then(|c| lantrust_ca::certificate_to_der(&c).ok());
            if let Some(der) = on_disk
                && der != loaded
            {
                tracing::warn!(
                    path = %st.root_cert().display(),
                    "the network root on disk was rotated; restart serve to issue and serve TLS under the new root (until then the old root is used)"
                );
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use lantrust_ca::{DeviceRequest, IssuanceOptions, KeyAlgorithm, PrivateKey, RootConfig};

    fn state(dir: &std::path::Path) -> StateDir {
        let st = StateDir::new(dir);
        let root = Root::generate(
            &RootConfig::new("router", vec!["home.arpa".into()]),
            store::now(),
            &mut rand::rngs::OsRng,
        )
        .unwrap();
        store::write_atomic(
            &st.root_cert(),
            root.certificate_pem().unwrap().as_bytes(),
            0o644,
        )
        .unwrap();
        store::write_atomic(
            &st.root_key(),
            root.private_key_pem().unwrap().as_bytes(),
            0o600,
        )
        .unwrap();
        let config = store::Config {
            name: "router".into(),
            domains: vec!["home.arpa".into()],
            ips: vec![],
        };
        store::create_db(&st.db(), &config, store::now()).unwrap();
        st
    }

    /// A certificate from `root` for `id`, stored as issued, and revoked when `revoke`.
    fn issue(conn: &store::Db, root: &Root, id: &str, revoke: bool) -> Vec<u8> {
        let key = PrivateKey::generate(KeyAlgorithm::P384, &mut rand::rngs::OsRng).unwrap();
        let req = DeviceRequest {
            device_id: id.into(),
            dns_names: vec![format!("{id}.local")],
            ip_addrs: vec![],
            public_key: key.public_key_info(),
        };
        let cert = root
            .issue(
                &req,
                &IssuanceOptions::default(),
                store::now(),
                &mut rand::rngs::OsRng,
            )
            .unwrap();
        let der = lantrust_ca::certificate_to_der(&cert).unwrap();
        let serial = cert.tbs_certificate.serial_number.as_bytes().to_vec();
        conn.execute(
            "INSERT INTO certificates (id, account_id, order_id, device_id, serial, not_after,
                                       issued_at, leaf_der, pem_chain, alternates)
             VALUES (?1, 'a', 'o', ?1, ?2, 4102444800, 0, ?3, '', '[]')",
            store::params![id, serial, der],
        )
        .unwrap();
        if revoke {
            conn.execute(
                "INSERT INTO revocations (cert_id, serial, reason, revoked_at) VALUES (?1, ?2, 9, 1)",
                store::params![id, serial],
            )
            .unwrap();
        }
        der
    }

    #[test]
    fn rotation_keeps_the_old_root_for_its_crl_and_refuses_foreign_links() {
        let dir = tempfile::tempdir().unwrap();
        let st = state(dir.path());
        let before = Roots::load(&st).unwrap();
        assert!(before.links.is_empty() && before.previous.is_empty());
        assert_eq!(
            before.chain_tail(),
            vec![before.current.certificate_der().to_vec()]
        );
        let conn = st.open().unwrap();
        let old_cert = issue(&conn, &before.current, "old-dev", true);
        issue(&conn, &before.current, "old-kept", false);

        rotate_root(RotateArgs {
            state: dir.path().to_path_buf(),
        })
        .unwrap();
        let after = Roots::load(&st).unwrap();
        assert_eq!(after.previous.len(), 1);
        let old = after.previous.first().unwrap();
        assert_eq!(old.certificate_der(), before.current.certificate_der());
        assert_ne!(after.current.key_identifier(), old.key_identifier());
        assert_eq!(after.links.len(), 1);
        assert_eq!(after.chain_tail(), after.links);
        assert!(issued_by_current_root(&old_cert, old.key_identifier()));
        assert!(!issued_by_current_root(
            &old_cert,
            after.current.key_identifier()
        ));
        let new_cert = issue(&conn, &after.current, "new-dev", true);
        assert!(issued_by_current_root(
            &new_cert,
            after.current.key_identifier()
        ));
        let by_issuer = certificates_by_issuer(&conn).unwrap();
        let old_id = hex(old.key_identifier());
        assert_eq!(
            by_issuer
                .iter()
                .filter(|(_, _, k, _)| *k == old_id)
                .map(|(id, ..)| id.as_str())
                .collect::<Vec<_>>(),
            ["old-dev", "old-kept"]
        );

        // The old root's CRL: signed by it, listing only its own revoked certificate.
        let crls = PreviousCrls::new(st.clone(), after.previous.clone());
        let der = crls
            .crl(old.key_identifier(), store::now())
            .unwrap()
            .unwrap();
        let crl = lantrust_ca::crl_from_der(&der).unwrap();
        assert_eq!(crl.tbs_cert_list.issuer, *old.subject());
        let listed: Vec<_> = crl.tbs_cert_list.revoked_certificates.unwrap_or_default();
        assert_eq!(listed.len(), 1);
        let old_serial = lantrust_ca::certificate_from_der(&old_cert)
            .unwrap()
            .tbs_certificate
            .serial_number;
        assert_eq!(listed.first().unwrap().serial_number, old_serial);
        assert!(
            crls.crl(after.current.key_identifier(), store::now())
                .unwrap()
                .is_none(),
            "the current root's CRL is /crl, not an earlier root's"
        );

        // A second rotation chains the links; a foreign link is refused at load.
        rotate_root(RotateArgs {
            state: dir.path().to_path_buf(),
        })
        .unwrap();
        let twice = Roots::load(&st).unwrap();
        assert_eq!((twice.previous.len(), twice.links.len()), (2, 2));
        let stranger = Root::generate(
            &RootConfig::new("router", vec!["home.arpa".into()]),
            store::now(),
            &mut rand::rngs::OsRng,
        )
        .unwrap();
        let foreign = stranger
            .link_certificate(&twice.current, &mut rand::rngs::OsRng)
            .unwrap();
        let mut pem = std::fs::read_to_string(dir.path().join(LINKS_FILE)).unwrap();
        pem.push_str(&lantrust_ca::certificate_to_pem(&foreign).unwrap());
        std::fs::write(dir.path().join(LINKS_FILE), pem).unwrap();
        let err = Roots::load(&st).err().unwrap();
        assert!(
            format!("{err:#}").contains("not signed by a root of this network"),
            "{err:#}"
        );
    }
}
