//! A lantrust client device: discover, pin the network root (TOFU), verify devices, export trust

fn main() {
    eprintln!("lantrust-client: under construction (issue 8)");
    std::process::exit(2);
}
