//! DHCPv4: parse → emit → reparse must give the same message, and nothing may panic.
#![no_main]
use lantrust_dhcp::v4;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
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
