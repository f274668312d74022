//! Every ACME object's deserializer (lantrust-acme): never panics; whatever parses re-emits and
//! re-parses to the same JSON.
#![no_main]
use lantrust_acme::*;
use libfuzzer_sys::fuzz_target;

macro_rules! round_trip {
    ($t:ty, $data:expr) => {
        if let Ok(obj) = from_json::<$t>($data) {
            let once = to_json(&obj);
            let again: $t = from_json(&once).expect("our own output must parse");
            assert_eq!(to_json(&again), once, "re-emission changed the object");
        }
    };
}

fuzz_target!(|data: &[u8]| {
    round_trip!(Directory, data);
    round_trip!(Account, data);
    round_trip!(NewAccount, data);
    round_trip!(AccountUpdate, data);
    round_trip!(Order, data);
    round_trip!(NewOrder, data);
    round_trip!(OrdersList, data);
    round_trip!(Finalize, data);
    round_trip!(Authorization, data);
    round_trip!(AuthorizationUpdate, data);
    round_trip!(NewAuthz, data);
    round_trip!(Challenge, data);
    round_trip!(Identifier, data);
    round_trip!(Revocation, data);
    round_trip!(KeyChange, data);
    round_trip!(Problem, data);
    round_trip!(RenewalInfo, data);
    round_trip!(Jwk, data);
    round_trip!(Jws, data);
    let _ = cert_id(data);
});
