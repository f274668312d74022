//! Arbitrary bytes into lantrust-csr's parser, signature check and policy: never panics, and an
//! accepted CSR always carries what the policy promises.
#![no_main]
use libfuzzer_sys::fuzz_target;

use lantrust_csr::{Csr, Policy};

fuzz_target!(|data: &[u8]| {
    let Ok(csr) = Csr::parse(data) else {
        return;
    };
    let strict = Policy::new("lantrust", ["example.com"]);
    let compat = Policy::new("lantrust", ["example.com", "home.arpa"])
        .with_device_id("device-12cd56")
        .with_generic_client_compat(true)
        .with_allow_ip(false);
    for policy in [&strict, &compat] {
        let violations = csr.violations(policy);
        for v in &violations {
            let _ = v.to_string();
        }
        match csr.validate(policy) {
            Ok(accepted) => {
                assert!(violations.is_empty());
                let local = format!("{}.local", accepted.device_id());
                assert!(accepted.dns_names().contains(&local));
                if !policy.allow_ip {
                    assert!(accepted.ip_addrs().is_empty());
                }
            }
            Err(e) => {
                assert_eq!(e.violations(), violations.as_slice());
                let _ = e.to_string();
            }
        }
    }
});
