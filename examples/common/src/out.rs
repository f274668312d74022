//! Standard output for the binaries' reports, safe to pipe into `head` or `grep -q`.
//!
//! `println!` panics when the reader has gone away (Rust ignores `SIGPIPE`, so the write fails
//! with `EPIPE`): `lantrust-server pending | grep -q cam-1` used to end in a panic message. The
//! [`outln!`](crate::outln) macro writes the same text, and when standard output is a closed pipe
//! it ends the process quietly with status 0, as `cat` does when killed by `SIGPIPE` under a shell
//! that ignores it; any other write error ends it with status 1 and a message on standard error.

use std::io::{ErrorKind, Write};

/// Writes one formatted line to standard output (see the module documentation).
pub fn line(args: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(args).and_then(|()| out.write_all(b"\n")) {
        finish(&e);
    }
}

/// Writes formatted text, no newline, to standard output (see the module documentation).
pub fn text(args: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(args).and_then(|()| out.flush()) {
        finish(&e);
    }
}

fn finish(e: &std::io::Error) -> ! {
    if e.kind() == ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    eprintln!("error: writing to standard output failed: {e}");
    std::process::exit(1);
}

/// `println!` that does not panic on a closed pipe: see [`out`](mod@crate::out).
#[macro_export]
macro_rules! outln {
    () => {
        $crate::out::line(::core::format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::out::line(::core::format_args!($($arg)*))
    };
}

/// `print!` that does not panic on a closed pipe: see [`out`](mod@crate::out).
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::out::text(::core::format_args!($($arg)*))
    };
}
