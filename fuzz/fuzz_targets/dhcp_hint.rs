//! ACME-server hint extraction on arbitrary bytes, as DHCPv4 and as DHCPv6: no panics, and any
//! hint returned carries a valid FQDN and (if any) an https:// URL.
#![no_main]
use lantrust_dhcp::{AcmeServerHint, HintConfig, name::validate_fqdn};
use libfuzzer_sys::fuzz_target;

fn check(hint: Option<AcmeServerHint>) {
    if let Some(h) = hint {
        assert!(validate_fqdn(h.fqdn.as_str().as_bytes()).is_ok());
        if let Some(u) = h.directory_url {
            assert!(u.as_str().to_ascii_lowercase().starts_with("https://"));
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&code, rest)) = data.split_first() else {
        return;
    };
    let config = HintConfig {
        v4_acme_option: Some(code).filter(|c| *c != 0),
        v6_acme_option: Some(u16::from(code)),
    };
    if let Ok(h) = AcmeServerHint::from_v4_bytes(rest, &config) {
        check(h);
    }
    if let Ok(h) = AcmeServerHint::from_v4_bytes(rest, &HintConfig::default()) {
        check(h);
    }
    if let Ok(h) = AcmeServerHint::from_v6_bytes(rest, &config) {
        check(h);
    }
    // Unchecked views (messages from the wild whose framing breaks somewhere): the hint reader
    // and the warning checks must not panic either.
    if let Ok(h) = AcmeServerHint::from_v4(&lantrust_dhcp::v4::Packet::new_unchecked(rest), &config)
    {
        check(h);
    }
    let _ = lantrust_dhcp::v4::Packet::new_unchecked(rest).option_warnings();
    let _ = lantrust_dhcp::v6::Packet::new_unchecked(rest).option_warnings();
});
