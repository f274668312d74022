//! A lantrust IoT device: discover the local ACME server, enroll, serve HTTPS, renew, reset, rename

fn main() {
    eprintln!("lantrust-device: under construction (issue 8)");
    std::process::exit(2);
}
