//! lantrust-pin: store deserialisation. Any input either fails with an error or gives a store
//! whose serialisation reads back to the same store, byte-for-byte stable (parse → emit →
//! reparse → compare).
#![no_main]
use lantrust_pin::PinStore;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(store) = PinStore::from_bytes(data) else {
        return;
    };
    let bytes = store.to_bytes();
    let again = PinStore::from_bytes(&bytes).expect("a store we wrote must read back");
    assert_eq!(again, store);
    assert_eq!(
        again.to_bytes(),
        bytes,
        "serialisation must be deterministic"
    );
});
