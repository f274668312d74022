//! DHCPv6: parse → emit → reparse must give the same message (and the same bytes), no panics.
#![no_main]
use lantrust_dhcp::v6;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(packet) = v6::Packet::new_checked(data) else {
        return;
    };
    for opt in packet.options().flatten() {
        let _ = opt.parse();
        if let Some(nested) = opt.nested() {
            nested.for_each(drop);
        }
    }
    let Ok(repr) = v6::Repr::parse(&packet) else {
        return;
    };
    let bytes = repr.to_bytes().expect("a parsed message must emit");
    let again = v6::Repr::parse_bytes(&bytes).expect("an emitted message must parse");
    assert_eq!(again, repr);
    assert_eq!(again.to_bytes().unwrap(), bytes);
});
