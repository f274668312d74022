//! The lantrust local ACME server: network root, HTTPS ACME, approvals, discovery helpers

fn main() {
    eprintln!("lantrust-server: under construction (issue 8)");
    std::process::exit(2);
}
