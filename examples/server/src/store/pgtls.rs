//! How the PostgreSQL store is reached: its URL parsed once into a connection [`Target`], with
//! TLS (rustls) configured from libpq's URL parameters `sslmode` and `sslrootcert`.
//!
//! * `disable`: plain TCP (records, approvals and nonces in clear).
//! * `prefer`, `require`: encrypted, the server's certificate not checked (any host on the path
//!   can pose as the server); `prefer` also falls back to plain TCP when the server has no TLS.
//!   Weak: for a network the operator trusts anyway.
//! * `verify-ca`: encrypted, the certificate chain checked against `sslrootcert`, not the name.
//! * `verify-full`: encrypted, the chain checked against `sslrootcert` and the certificate must
//!   name the host of the URL. What a company database on another host should use.
//!
//! `sslrootcert` is an absolute path to PEM certificates (the CA that signed the server's
//! certificate); the verifying modes require it: the operating system's roots are not used for
//! a company database. Without `sslmode`, a URL whose hosts are all loopback addresses,
//! `localhost` or Unix sockets connects in plain TCP as before; any other host is refused until
//! the URL says which mode it wants (no silent cleartext to another machine).

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use postgres::config::{Host, SslMode as PgSslMode};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

use super::db::redact;

/// libpq's `sslmode` values (`allow` is not offered: it is `disable` with extra steps).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    fn parse(v: &str) -> Result<Self> {
        Ok(match v {
            "disable" => SslMode::Disable,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            other => bail!(
                "sslmode={other} is not supported: use verify-full (with sslrootcert=/PATH/ca.pem), verify-ca, require, prefer or disable"
            ),
        })
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    fn verifies(self) -> bool {
        matches!(self, SslMode::VerifyCa | SslMode::VerifyFull)
    }
}

/// The PostgreSQL store's connection settings: where, as whom, and how the channel is secured.
pub(crate) struct Target {
    config: postgres::Config,
    mode: SslMode,
    root: Option<PathBuf>,
    tls: Option<tokio_postgres_rustls::MakeRustlsConnect>,
    /// Every host is loopback or a Unix socket.
    local: bool,
    /// The URL without its password, for messages.
    shown: String,
}

impl Target {
    /// Parse `url` (`postgres://USER[:PASSWORD]@HOST:PORT/DB[?sslmode=…&sslrootcert=…]`), read
    /// `sslrootcert`, and build the TLS configuration. Fails, naming what to fix, on a mode
    /// without the root it needs, an unreadable root, or a remote host without `sslmode`.
    pub(crate) fn parse(url: &str) -> Result<Self> {
        let shown = redact(url);
        let (base, query) = match url.split_once('?') {
            Some((b, q)) => (b, q),
            None => (url, ""),
        };
        let mut kept = Vec::new();
        let mut mode = None;
        let mut root = None;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            match k {
                "sslmode" => {
                    mode = Some(SslMode::parse(&percent_decode(v)?).with_context(|| shown.clone())?)
                }
                "sslrootcert" => root = Some(PathBuf::from(percent_decode(v)?)),
                "sslcert" | "sslkey" | "sslpassword" | "sslcrl" | "sslcrldir" | "sslsni"
                | "sslcompression" | "requirepeer" | "gssencmode" => bail!(
                    "{shown}: the URL parameter {k} is not supported (the store's TLS takes sslmode and sslrootcert)"
                ),
                _ => kept.push(pair),
            }
        }
        let rest = if kept.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        let mut config: postgres::Config = rest
            .parse()
            .map_err(|e| anyhow!("the PostgreSQL URL {shown}: {e}"))?;
        let local = is_local(&config);
        let mode = match mode {
            Some(m) => m,
            None if local => SslMode::Disable,
            None => bail!(
                "the PostgreSQL URL {shown} names a host that is not this machine and no sslmode: add sslmode=verify-full&sslrootcert=/ABSOLUTE/PATH/ca.pem (the CA that signed the database server's certificate) so that records and approvals cross the network encrypted and to the right server, or sslmode=disable to accept cleartext on a network you trust"
            ),
        };
        if let Some(r) = &root {
            if !mode.verifies() {
                bail!(
                    "{shown}: sslrootcert is only used by sslmode=verify-ca or verify-full; with sslmode={} the server's certificate is not checked (say verify-full to check it)",
                    mode.as_str()
                );
            }
            if !r.is_absolute() {
                bail!(
                    "{shown}: sslrootcert={} must be an absolute path (every later command reads it, from whatever working directory)",
                    r.display()
                );
            }
        }
        config.ssl_mode(match mode {
            SslMode::Disable => PgSslMode::Disable,
            SslMode::Prefer => PgSslMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => PgSslMode::Require,
        });
        let tls = match mode {
            SslMode::Disable => None,
            m => Some(tls_connector(m, root.as_deref(), &shown)?),
        };
        Ok(Target {
            config,
            mode,
            root,
            tls,
            local,
            shown,
        })
    }

    /// Open a connection.
    pub(crate) fn connect(&self) -> Result<postgres::Client, postgres::Error> {
        match &self.tls {
            None => self.config.connect(postgres::NoTls),
            Some(tls) => self.config.connect(tls.clone()),
        }
    }

    /// The URL with its password masked.
    pub(crate) fn shown(&self) -> &str {
        &self.shown
    }

    /// What an operator should fix when a connection failed over TLS, if anything points there.
    pub(crate) fn hint(&self, error: &str) -> Option<String> {
        let root = self
            .root
            .as_deref()
            .map_or_else(|| "?".to_string(), |p| p.display().to_string());
        let cert = error.contains("certificate") || error.contains("UnknownIssuer");
        match self.mode {
            SslMode::VerifyFull if error.contains("not valid for name") => Some(
                "sslmode=verify-full: the database server's certificate must name the host the URL connects to (in its subjectAltName): put a name or address it carries in the URL".to_string(),
            ),
            SslMode::VerifyFull if cert => Some(format!(
                "sslmode=verify-full: the database server's certificate must chain to the CA in sslrootcert={root}"
            )),
            SslMode::VerifyCa if cert => Some(format!(
                "sslmode=verify-ca: the database server's certificate must chain to the CA in sslrootcert={root}"
            )),
            _ if error.contains("no encryption") => Some(
                "the server's pg_hba.conf admits no unencrypted connection from here (hostssl only?): set sslmode=verify-full&sslrootcert=/PATH/ca.pem".to_string(),
            ),
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull
                if error.contains("does not support TLS") || error.contains("TLS was required") =>
            {
                Some("the database server has TLS off (postgresql.conf: ssl = on, ssl_cert_file, ssl_key_file)".to_string())
            }
            _ => None,
        }
    }

    /// A warning for the operator when the channel to a remote host is unauthenticated.
    pub(crate) fn weakness(&self) -> Option<String> {
        if self.local {
            return None;
        }
        match self.mode {
            SslMode::Disable => Some("sslmode=disable: records, approvals and nonces cross the network in clear, and a host on the path can rewrite them; use sslmode=verify-full&sslrootcert=/PATH/ca.pem".to_string()),
            SslMode::Prefer | SslMode::Require => Some(format!("sslmode={}: encrypted, but the database server's certificate is not checked, so a host on the path can pose as it; use sslmode=verify-full&sslrootcert=/PATH/ca.pem", self.mode.as_str())),
            SslMode::VerifyCa | SslMode::VerifyFull => None,
        }
    }
}

/// Whether every host the configuration connects to is this machine: loopback addresses,
/// `localhost`, Unix sockets (the `hostaddr`es when given, else the hosts).
fn is_local(config: &postgres::Config) -> bool {
    let addrs = config.get_hostaddrs();
    if !addrs.is_empty() {
        return addrs.iter().all(IpAddr::is_loopback);
    }
    config.get_hosts().iter().all(|h| match h {
        Host::Unix(_) => true,
        Host::Tcp(name) => {
            name.eq_ignore_ascii_case("localhost")
                || name
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse::<IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
    })
}

/// `%XX` escapes of a URL parameter's value decoded.
fn percent_decode(v: &str) -> Result<String> {
    let b = v.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b
                .get(i + 1..i + 3)
                .and_then(|h| core::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| anyhow!("a bad %-escape in the URL parameter value {v:?}"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| anyhow!("the URL parameter value {v:?} is not UTF-8"))
}

/// The CA certificates in the PEM file `path`.
fn load_roots(path: &Path, shown: &str) -> Result<RootCertStore> {
    let pem = std::fs::read(path).with_context(|| {
        format!(
            "{shown}: cannot read sslrootcert {} (the CA certificate, PEM, that signed the database server's certificate)",
            path.display()
        )
    })?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<_, _>>()
        .map_err(|e| anyhow!("sslrootcert {}: not PEM certificates: {e}", path.display()))?;
    if certs.is_empty() {
        bail!(
            "sslrootcert {}: no certificate in it (expected PEM, -----BEGIN CERTIFICATE-----)",
            path.display()
        );
    }
    let mut roots = RootCertStore::empty();
    for c in certs {
        roots
            .add(c)
            .map_err(|e| anyhow!("sslrootcert {}: {e}", path.display()))?;
    }
    Ok(roots)
}

fn tls_connector(
    mode: SslMode,
    root: Option<&Path>,
    shown: &str,
) -> Result<tokio_postgres_rustls::MakeRustlsConnect> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier: Arc<dyn ServerCertVerifier> = if mode.verifies() {
        let Some(root) = root else {
            bail!(
                "{shown}: sslmode={} needs sslrootcert=/ABSOLUTE/PATH/ca.pem, the CA that signed the database server's certificate (the system's roots are not used for the store)",
                mode.as_str()
            );
        };
        let webpki = WebPkiServerVerifier::builder_with_provider(
            Arc::new(load_roots(root, shown)?),
            provider.clone(),
        )
        .build()
        .map_err(|e| anyhow!("sslrootcert {}: {e}", root.display()))?;
        if mode == SslMode::VerifyFull {
            webpki
        } else {
            Arc::new(ChainOnly(webpki))
        }
    } else {
        Arc::new(Unverified(provider.clone()))
    };
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("the TLS configuration for PostgreSQL")?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// `verify-ca`: the chain must lead to `sslrootcert`; the name in the certificate is not
/// checked (webpki checks the chain before the name, so a name error means the chain passed).
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// `require` and `prefer`: any certificate (the handshake's signatures are still checked
/// against the key it carries, so the channel is encrypted to whoever holds that key).
#[derive(Debug)]
struct Unverified(Arc<CryptoProvider>);

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test
mod tests {
    use super::*;

    fn err(url: &str) -> String {
        match Target::parse(url) {
            Ok(_) => panic!("{url} was accepted"),
            Err(e) => format!("{e:#}"),
        }
    }

    #[test]
    fn modes_defaults_and_refusals() {
        // Loopback and Unix sockets: plain TCP without flags, as before.
        for url in [
            "postgres://u@127.0.0.1:5432/lt",
            "postgres://u@localhost/lt",
            "postgres://u@[::1]:5432/lt",
            "postgres://u@%2Frun%2Fpostgresql/lt",
        ] {
            let t = Target::parse(url).unwrap_or_else(|e| panic!("{url}: {e:#}"));
            assert_eq!(t.mode, SslMode::Disable, "{url}");
            assert!(t.weakness().is_none(), "{url}");
        }
        // Another host without sslmode: refused, saying what to add; the password masked.
        let e = err("postgres://u:hunter2@db.example:5432/lt");
        assert!(e.contains("sslmode=verify-full&sslrootcert="), "{e}");
        assert!(
            e.contains("u:***@db.example") && !e.contains("hunter2"),
            "{e}"
        );
        // Explicit weak modes are allowed, with a warning.
        let t = Target::parse("postgres://u@db.example/lt?sslmode=disable").unwrap();
        assert!(t.weakness().unwrap().contains("in clear"));
        let t = Target::parse("postgres://u@db.example/lt?sslmode=require").unwrap();
        assert!(t.weakness().unwrap().contains("not checked"));
        // Verifying modes need an absolute, readable sslrootcert.
        assert!(
            err("postgres://u@db.example/lt?sslmode=verify-full").contains("needs sslrootcert")
        );
        assert!(
            err("postgres://u@db.example/lt?sslmode=verify-full&sslrootcert=ca.pem")
                .contains("absolute path")
        );
        let e =
            err("postgres://u@db.example/lt?sslmode=verify-ca&sslrootcert=/nonexistent/ca%20x.pem");
        assert!(e.contains("/nonexistent/ca x.pem"), "{e}");
        assert!(
            err("postgres://u@db.example/lt?sslmode=require&sslrootcert=/x.pem")
                .contains("only used by")
        );
        assert!(err("postgres://u@db.example/lt?sslmode=allow").contains("not supported"));
        assert!(
            err("postgres://u@db.example/lt?sslmode=verify-full&sslcert=/c.pem")
                .contains("sslcert")
        );
        // Other parameters still reach the driver.
        let t =
            Target::parse("postgres://u@db.example/lt?sslmode=disable&connect_timeout=5").unwrap();
        assert_eq!(
            t.config.get_connect_timeout(),
            Some(&core::time::Duration::from_secs(5))
        );
        // hostaddr decides where the connection goes.
        let t = Target::parse("postgres://u@db.example/lt?hostaddr=127.0.0.1").unwrap();
        assert_eq!(t.mode, SslMode::Disable);
    }

    #[test]
    fn a_root_file_without_certificates_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("empty.pem");
        std::fs::write(&f, "not a certificate\n").unwrap();
        let e = err(&format!(
            "postgres://u@db.example/lt?sslmode=verify-full&sslrootcert={}",
            f.display()
        ));
        assert!(e.contains("no certificate"), "{e}");
    }
}
