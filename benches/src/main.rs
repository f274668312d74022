//! Load generator for lantrust-server (skeleton; see issue 9).

fn main() {}
