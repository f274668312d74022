//! lantrust-dnssd: DNS-SD resolution on arbitrary answers. The input is taken as the answer to
//! our SRV and PTR discovery queries (the ID is taken from the input so validation can pass);
//! whatever passes validation goes through `resolve`, alone and with itself as a follow-up
//! answer. Results must be well-formed `https://` URLs in priority order.
#![no_main]
use lantrust_dnssd::rand_core::{self, RngCore};
use lantrust_dnssd::{Query, resolve};
use libfuzzer_sys::fuzz_target;

/// xorshift64*: deterministic, so crashes reproduce.
struct Rng(u64);

impl RngCore for Rng {
    fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }
    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for b in dest {
            *b = self.next_u64() as u8;
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

fuzz_target!(|data: &[u8]| {
    let Some(&[hi, lo]) = data.first_chunk::<2>() else {
        return;
    };
    let id = u16::from_be_bytes([hi, lo]);
    let from = "192.0.2.53:53".parse().unwrap();
    let queries = [
        Query::acme_srv(id, "example.test").unwrap(),
        Query::acme_browse(id, "example.test").unwrap(),
    ];
    for q in &queries {
        let Ok(resp) = q.check_response(data, from) else {
            continue;
        };
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ u64::from(id));
        for responses in [&[resp][..], &[resp, resp][..]] {
            let Ok(res) = resolve(responses, &mut rng) else {
                continue;
            };
            let mut last_priority = 0u16;
            for u in &res.urls {
                assert!(u.url.starts_with("https://"), "{}", u.url);
                assert!(u.url.ends_with(&u.path));
                assert!(u.path.starts_with('/'));
                assert_ne!(u.port, 0);
                assert!(!u.host.is_empty() && !u.host.ends_with(".local"));
                assert!(u.priority >= last_priority, "not in priority order");
                last_priority = u.priority;
            }
            for name in &res.pending {
                let _ = Query::for_name(id, *name, lantrust_dnssd::RecordType::SRV);
            }
        }
    }
});
