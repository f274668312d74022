//! DHCPv6: parse → emit → reparse must give the same message (and the same bytes), no panics.
//! The lenient parse must keep only options that emit and parse strictly, agree with the strict
//! parse when it succeeds, and report as many bad options as the no-alloc view does.
#![no_main]
use lantrust_dhcp::v6;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let view = v6::Packet::new_unchecked(data);
    let view_warnings = view.option_warnings();
    if let Ok((lenient, warnings)) = v6::Repr::parse_lenient(&view) {
        let bytes = lenient
            .to_bytes()
            .expect("what the lenient parse kept must emit");
        let again = v6::Repr::parse_bytes(&bytes).expect("and parse strictly");
        assert_eq!(again, lenient);
        assert_eq!(
            view_warnings.map(|w| w.total()).ok(),
            Some(warnings.total())
        );
        if let Ok(strict) = v6::Repr::parse_bytes(data) {
            assert!(warnings.is_empty());
            assert_eq!(strict, lenient);
        }
    }
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
