//! Subordinate CA mode (issue 19; draft §3.5/§3.6 "unless otherwise configured, for example in a
//! managed enterprise network", §4.6 "a root X.509 certificate from a trusted, public CA"):
//! `init --subordinate` makes the CA key and a request for the company's PKI, `import-ca`
//! installs what the company CA signed, and `serve` loads either kind of CA.
//!
//! State directory files in this mode:
//! - `root-key.pem` (0600): the CA key, as for a root;
//! - `ca-request.pem`: the PKCS#10 request, kept to check the certificate against it;
//! - `subca.pem`: after `import-ca`, the subordinate CA certificate followed by its chain
//!   (intermediates, then the company root). Written in one atomic rename: never half-installed.
//!   There is no `root.pem`: the network's trust anchor is the company root.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use lantrust_ca::{PrivateKey, Root, certificate_to_der, certificate_to_pem};

use crate::store::{self, StateDir};

/// The request file.
pub(crate) fn request_path(st: &StateDir) -> PathBuf {
    st.dir.join("ca-request.pem")
}

/// The imported certificate and chain.
pub(crate) fn subca_path(st: &StateDir) -> PathBuf {
    st.dir.join("subca.pem")
}

#[derive(clap::Args, Debug)]
pub(crate) struct ImportArgs {
    /// State directory made by `init --subordinate`.
    #[arg(long, value_name = "DIR")]
    state: PathBuf,
    /// The certificate the company CA issued for STATE/ca-request.pem (PEM; may be followed by
    /// its chain).
    cert: PathBuf,
    /// The chain above it (PEM): intermediates, then the self-signed company root.
    chain: Option<PathBuf>,
}

/// `init --subordinate`: the CA key and request, in the staging directory.
pub(crate) fn init_into(cfg: &lantrust_ca::RootConfig, st: &StateDir) -> Result<PathBuf> {
    if cfg.name_constraints == lantrust_ca::NameConstraints::Off {
        bail!(
            "--subordinate needs name constraints (a technically constrained CA): use --name-constraints non-critical or critical"
        );
    }
    let key = PrivateKey::generate(cfg.algorithm, &mut rand::rngs::OsRng)
        .context("generating the CA key")?;
    let req = lantrust_ca::ca_request(cfg, &key).context("making the CA request")?;
    let pem = lantrust_ca::ca_request_to_pem(&req)?;
    let key_pem = key.to_pkcs8_pem().context("encoding the CA key")?;
    store::write_atomic(&st.root_key(), key_pem.as_bytes(), 0o600)?;
    store::write_atomic(&request_path(st), pem.as_bytes(), 0o644)?;
    Ok(request_path(st))
}

/// `import-ca`.
pub(crate) fn import(a: ImportArgs) -> Result<()> {
    let st = StateDir::new(&a.state);
    st.check_private()?;
    let req_path = request_path(&st);
    if !req_path.exists() {
        bail!(
            "{} does not exist: {} was not made with `init --subordinate` (a self-signed root needs no import)",
            req_path.display(),
            a.state.display()
        );
    }
    let mut certs = read_certs(&a.cert)?;
    if let Some(c) = &a.chain {
        certs.extend(read_certs(c)?);
    }
    let mut certs = certs.into_iter();
    let cert = certs
        .next()
        .with_context(|| format!("{} holds no certificate", a.cert.display()))?;
    let chain: Vec<_> = certs.collect();
    let sub = load_parts(&st, cert, chain)
        .with_context(|| format!("refusing {}: nothing was installed", a.cert.display()))?;
    let mut pem = certificate_to_pem(sub.issuer().certificate())?;
    for c in sub.chain() {
        pem.push_str(&certificate_to_pem(c)?);
    }
    store::write_atomic(&subca_path(&st), pem.as_bytes(), 0o644)?;
    lantrust_cli::outln!(
        "installed {}: {}",
        subca_path(&st).display(),
        sub.issuer().subject()
    );
    if let Some(anchor) = sub.anchor() {
        lantrust_cli::outln!(
            "  anchor (served at /roots.pem): {}",
            anchor.tbs_certificate.subject
        );
    }
    lantrust_cli::outln!("next: lantrust-server serve --state {}", a.state.display());
    Ok(())
}

fn read_certs(p: &Path) -> Result<Vec<lantrust_ca::Certificate>> {
    let text = std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
    lantrust_ca::certificates_from_pem(&text).with_context(|| format!("{}", p.display()))
}

fn load_parts(
    st: &StateDir,
    cert: lantrust_ca::Certificate,
    chain: Vec<lantrust_ca::Certificate>,
) -> Result<lantrust_ca::Subordinate> {
    let req_text = std::fs::read_to_string(request_path(st))
        .with_context(|| format!("reading {}", request_path(st).display()))?;
    let req = lantrust_ca::ca_request_from_pem(&req_text)?;
    let key_pem = zeroize::Zeroizing::new(
        std::fs::read_to_string(st.root_key())
            .with_context(|| format!("reading {}", st.root_key().display()))?,
    );
    let key = PrivateKey::from_pkcs8_pem(&key_pem)?;
    Root::from_subordinate(cert, key, chain, &req, store::now()).map_err(|e| match e {
        lantrust_ca::Error::KeyMismatch => anyhow::anyhow!(
            "the certificate is for another key than STATE/ca-request.pem's: have the company CA sign {}",
            request_path(st).display()
        ),
        e => e.into(),
    })
}

/// The CA `serve` issues from, and what it serves.
pub(crate) struct Ca {
    /// The issuing CA (a self-signed root, or the subordinate CA).
    pub(crate) root: Root,
    /// DER of the certificates after a leaf in a served chain: the root itself, or the
    /// subordinate CA and its intermediates (not the company root: a client has it as anchor,
    /// RFC 8446 §4.4.2 lets the sender omit it).
    pub(crate) chain_der: Vec<Vec<u8>>,
    /// What `/roots.pem` serves: the trust anchor (the root, or the company root).
    pub(crate) anchor_pem: String,
}

/// Loads the state directory's CA: `subca.pem` in subordinate mode, else `root.pem`.
pub(crate) fn load(st: &StateDir) -> Result<Ca> {
    let sub_path = subca_path(st);
    if !sub_path.exists() {
        if request_path(st).exists() && !st.root_cert().exists() {
            bail!(
                "{} is a subordinate CA waiting for its certificate: have the company CA sign {}, then run `lantrust-server import-ca --state {} CERT [CHAIN]`",
                st.dir.display(),
                request_path(st).display(),
                st.dir.display()
            );
        }
        let root_pem = std::fs::read_to_string(st.root_cert())
            .with_context(|| format!("reading {}", st.root_cert().display()))?;
        let key_pem = zeroize::Zeroizing::new(
            std::fs::read_to_string(st.root_key())
                .with_context(|| format!("reading {}", st.root_key().display()))?,
        );
        let root = Root::from_pem(&root_pem, &key_pem).context("loading the network root")?;
        let der = root.certificate_der().to_vec();
        return Ok(Ca {
            root,
            chain_der: vec![der],
            anchor_pem: root_pem,
        });
    }
    let mut certs = read_certs(&sub_path)?.into_iter();
    let cert = certs
        .next()
        .with_context(|| format!("{} holds no certificate", sub_path.display()))?;
    let sub = load_parts(st, cert, certs.collect())
        .with_context(|| format!("loading the subordinate CA from {}", sub_path.display()))?;
    let mut chain_der = vec![sub.issuer().certificate_der().to_vec()];
    let (anchor, intermediates) = sub
        .chain()
        .split_last()
        .context("the subordinate CA has no chain")?;
    for c in intermediates {
        chain_der.push(certificate_to_der(c)?);
    }
    let anchor_pem = certificate_to_pem(anchor)?;
    Ok(Ca {
        root: sub.into_issuer(),
        chain_der,
        anchor_pem,
    })
}
