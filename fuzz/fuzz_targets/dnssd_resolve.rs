//! PLACEHOLDER fuzz target for lantrust-dnssd: replace with the real target (see issue).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = data;
});
