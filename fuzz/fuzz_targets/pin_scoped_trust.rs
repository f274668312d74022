//! lantrust-pin: scoped trust on arbitrary chains and names.
//!
//! Input layout (so seeds can hold real certificates):
//! `[sel] [now: u32 BE] [name_len: u8] [name] ([len: u16 BE] [DER])*`
//! `sel & 3` picks the pinned root: 0 = P-384, 1 = P-521, 2 = RSA-3072 (openssl-made vectors),
//! 3 = the first DER of the input. `now` is seconds after 2025-01-01.
//! Invariant checked: a trusted name is always in the local scope.
#![no_main]
use lantrust_pin::verify_scoped;
use libfuzzer_sys::fuzz_target;

const ROOTS: [&[u8]; 3] = [
    include_bytes!("../../crates/pin/tests/vectors/root-p384.der"),
    include_bytes!("../../crates/pin/tests/vectors/root-p521.der"),
    include_bytes!("../../crates/pin/tests/vectors/root-rsa3072.der"),
];

fn split(data: &[u8], n: usize) -> Option<(&[u8], &[u8])> {
    (data.len() >= n).then(|| data.split_at(n))
}

fn in_local_scope(name: &str) -> bool {
    let bare = name
        .trim_start_matches('[')
        .split(['%', ']'])
        .next()
        .unwrap_or("");
    if let Ok(ip) = bare.parse::<std::net::IpAddr>() {
        let ip = match ip {
            std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, std::net::IpAddr::V4),
            v4 => v4,
        };
        return match ip {
            std::net::IpAddr::V4(v4) => v4.is_private() || v4.is_link_local() || v4.is_loopback(),
            std::net::IpAddr::V6(v6) => {
                v6.is_loopback()
                    || (v6.segments()[0] & 0xfe00) == 0xfc00
                    || (v6.segments()[0] & 0xffc0) == 0xfe80
            }
        };
    }
    let n = name.trim_end_matches('.').to_ascii_lowercase();
    n.ends_with(".local") || n.ends_with(".example.test")
}

fuzz_target!(|data: &[u8]| {
    let Some((head, rest)) = split(data, 6) else {
        return;
    };
    let sel = head[0] & 3;
    let now = 1_735_689_600 + u64::from(u32::from_be_bytes([head[1], head[2], head[3], head[4]]));
    let Some((name, mut rest)) = split(rest, usize::from(head[5])) else {
        return;
    };
    let name = String::from_utf8_lossy(name);
    let mut ders: Vec<&[u8]> = Vec::new();
    while ders.len() < 5 {
        let Some((len, tail)) = split(rest, 2) else {
            break;
        };
        let Some((der, tail)) = split(tail, usize::from(u16::from_be_bytes([len[0], len[1]])))
        else {
            break;
        };
        ders.push(der);
        rest = tail;
    }
    let (root, chain) = if sel == 3 {
        match ders.split_first() {
            Some((root, chain)) => (*root, chain),
            None => return,
        }
    } else {
        (ROOTS[usize::from(sel)], &ders[..])
    };
    let domains = ["example.test".to_string()];
    if verify_scoped(root, &domains, chain, &name, now).is_ok() {
        assert!(in_local_scope(&name), "trusted out-of-scope name {name:?}");
        assert!(!chain.is_empty());
    }
});
