//! Shared I/O for the lantrust binaries: discovery over real sockets, TOFU HTTPS fetch, atomic files
