//! DHCPv4: parse → emit → reparse must give the same message, and nothing may panic. The
//! lenient parse (warnings instead of errors) must keep only options that emit and parse strictly,
//! agree with the strict parse when it succeeds, and report at least the bad options the no-alloc
//! view does.
#![no_main]
use lantrust_dhcp::v4;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let view = v4::Packet::new_unchecked(data);
    let view_warnings = view.option_warnings();
    if let Ok((lenient, warnings)) = v4::Repr::parse_lenient(&view) {
        assert!(warnings.len() <= lantrust_dhcp::warning::MAX_WARNINGS);
        let bytes = lenient
            .to_bytes()
            .expect("what the lenient parse kept must emit");
        let again = v4::Repr::parse_bytes(&bytes).expect("and parse strictly");
        assert_eq!(again, lenient);
        // The view skips split options longer than it copies; otherwise it agrees.
        assert!(view_warnings.map(|w| w.total()).unwrap() <= warnings.total());
        if let Ok(strict) = v4::Repr::parse_bytes(data) {
            assert!(warnings.is_empty());
            assert_eq!(strict, lenient);
        }
    }
    let Ok(packet) = v4::Packet::new_checked(data) else {
        return;
    };
    // The zero-copy path: every option, typed where contiguous, read across fragments otherwise.
    for opt in packet.options() {
        let Ok(opt) = opt else { return };
        let _ = opt.parse();
        let mut r = opt.reader();
        while r.next_chunk(7).is_some() {}
    }
    let _ = (
        packet.message_type(),
        packet.server_identifier(),
        packet.lease_time(),
        packet.overload(),
    );
    let Ok(repr) = v4::Repr::parse(&packet) else {
        return;
    };
    let bytes = repr.to_bytes().expect("a parsed message must emit");
    assert_eq!(bytes.len(), repr.buffer_len());
    let again = v4::Repr::parse_bytes(&bytes).expect("an emitted message must parse");
    assert_eq!(again, repr);
});
