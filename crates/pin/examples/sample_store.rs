//! Prints a sample pin store (two networks sharing a root, a second root, a managed network and a
//! tracked device certificate) as `PinStore::to_bytes` writes it. Used to make the `pin_store`
//! fuzz seeds: `cargo run -p lantrust-pin --example sample_store > fuzz/seeds/pin_store/sample.json`

use std::io::Write;

use lantrust_pin::{Decision, NetworkId, NetworkKind, Observation, PinStore};

const NOW: u64 = 1_769_904_000;

fn main() -> Result<(), Box<dyn core::error::Error>> {
    let root: &[u8] = include_bytes!("../tests/vectors/root-p384.der");
    let root2: &[u8] = include_bytes!("../tests/vectors/root2-p384.der");
    let device: &[u8] = include_bytes!("../tests/vectors/dev1-by-p384.der");
    let net = |ssid: &str| {
        NetworkId::builder()
            .interface("wlan0")
            .router_mac("02:11:22:33:44:55".parse()?)
            .ssid(ssid.as_bytes())
            .local_domain("example.test")
            .build()
    };
    let mut store = PinStore::new();
    for (network, root, server) in [
        (net("Home")?, root, "router-fdb531.local"),
        (net("Home-5G")?, root, "router-fdb531.example.test"),
        (net("Office")?, root2, "other-router.local"),
    ] {
        let seen = Observation {
            network: &network,
            kind: NetworkKind::Private,
            server_name: server,
            root_der: root,
            domains: &["lan"],
        };
        match store.decide(&seen, NOW) {
            Decision::FirstUse(candidate) => {
                store.accept(candidate, NOW)?;
            }
            other => return Err(format!("unexpected decision {other:?}").into()),
        }
    }
    store.set_managed(&net("Corp")?, &[root2], &["corp.test"], NOW)?;
    store.track_device_cert(&net("Home")?, "dev1", device)?;
    std::io::stdout().write_all(&store.to_bytes())?;
    Ok(())
}
