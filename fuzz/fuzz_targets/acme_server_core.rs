//! The sans-IO ACME server core on arbitrary request sequences (lantrust-acme). Raw requests probe
//! routing and verification; "signed" steps carry arbitrary payloads correctly signed by a fixed
//! account key with a fresh nonce, so the handlers behind verification are reached too.
#![no_main]
use arbitrary::Arbitrary;
use core::time::Duration;
use lantrust_acme::jose::{self, AccountKey};
use lantrust_acme::rand_core::{CryptoRng, Error as RngError, RngCore};
use lantrust_acme::server::{
    AccountRecord, AutoApprove, Issued, Issuer, MemoryStore, OrderRecord, Server, ServerConfig,
};
use lantrust_acme::*;
use libfuzzer_sys::fuzz_target;

const BASE: &str = "https://acme.local/acme";
const PATHS: &[&str] = &[
    "directory",
    "new-nonce",
    "new-account",
    "new-order",
    "revoke-cert",
    "key-change",
    "acct/",
    "order/",
    "authz/",
    "chall/",
    "cert/",
];

/// Deterministic RNG so that crashes reproduce (never use outside tests).
struct Xorshift(u64);
impl RngCore for Xorshift {
    fn next_u32(&mut self) -> u32 {
        self.next_u64() as u32
    }
    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for b in dest {
            *b = self.next_u64() as u8;
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> core::result::Result<(), RngError> {
        self.fill_bytes(dest);
        Ok(())
    }
}
impl CryptoRng for Xorshift {}

struct Refuse;
impl Issuer for Refuse {
    fn issue(
        &mut self,
        _: &[u8],
        _: &OrderRecord,
        _: &AccountRecord,
        _: Duration,
    ) -> core::result::Result<Issued, Problem> {
        Err(Problem::new(
            ProblemType::BadCsr,
            400,
            "fuzz issuer refuses",
        ))
    }
}

#[derive(Arbitrary, Debug)]
enum Step {
    Raw {
        method: u8,
        path: u8,
        suffix: String,
        content_type: bool,
        body: Vec<u8>,
    },
    Signed {
        path: u8,
        suffix: String,
        use_jwk: bool,
        payload: Option<Vec<u8>>,
    },
    Validate {
        ok: bool,
    },
    Advance {
        secs: u16,
    },
}

fuzz_target!(|steps: Vec<Step>| {
    let mut rng = Xorshift(0x9E37_79B9_7F4A_7C15);
    let mut server = Server::new(
        ServerConfig::new(BASE),
        MemoryStore::default(),
        AutoApprove,
        Refuse,
    );
    let key = AccountKey::from_ec_bytes(Algorithm::Es256, &[7u8; 32]).unwrap();
    let mut now = Duration::from_secs(1_700_000_000);
    let mut nonce = String::new();
    let mut kid = format!("{BASE}/acct/none");
    for step in steps.into_iter().take(32) {
        let req = match step {
            Step::Raw {
                method,
                path,
                suffix,
                content_type,
                body,
            } => {
                let method = [Method::Get, Method::Head, Method::Post][usize::from(method % 3)];
                let url = format!("{BASE}/{}{suffix}", PATHS[usize::from(path) % PATHS.len()]);
                let headers = if content_type {
                    vec![("Content-Type".into(), "application/jose+json".into())]
                } else {
                    vec![]
                };
                Request {
                    method,
                    url,
                    headers,
                    body,
                }
            }
            Step::Signed {
                path,
                suffix,
                use_jwk,
                payload,
            } => {
                let url = format!("{BASE}/{}{suffix}", PATHS[usize::from(path) % PATHS.len()]);
                let jws = jose::sign(
                    &key,
                    (!use_jwk).then_some(kid.as_str()),
                    Some(&nonce),
                    &url,
                    payload.as_deref(),
                )
                .unwrap();
                Request {
                    method: Method::Post,
                    url,
                    headers: vec![("Content-Type".into(), "application/jose+json".into())],
                    body: to_json(&jws),
                }
            }
            Step::Validate { ok } => {
                while let Some(v) = server.poll_validation() {
                    let r = if ok {
                        Ok(())
                    } else {
                        v.check_http01_body(b"wrong")
                    };
                    server
                        .validation_result(&v.authz_id, &v.challenge_id, r, now)
                        .expect("the memory store does not fail");
                }
                continue;
            }
            Step::Advance { secs } => {
                now += Duration::from_secs(u64::from(secs));
                continue;
            }
        };
        let resp = server.handle(&req, now, &mut rng);
        assert!((200..600).contains(&resp.status));
        if resp.status >= 400 {
            from_json::<Problem>(&resp.body).expect("refusals are problem documents");
        }
        nonce = resp
            .header("replay-nonce")
            .expect("every response has a nonce")
            .to_string();
        if req.url.ends_with("/new-account") && resp.status < 300 {
            kid = resp.header("location").unwrap().to_string();
        }
    }
});
