//! Child processes, programs on the machine, and loud skipping when a peer is missing.

use std::ffi::OsStr;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

/// A child process that is killed (and reaped) when dropped, so a failing test leaves no peer
/// running.
#[derive(Debug)]
pub struct Proc(pub Child);

impl Proc {
    /// Spawns `cmd`; a program that cannot start is a panic naming it.
    pub fn spawn(cmd: &mut Command) -> Self {
        match cmd.spawn() {
            Ok(child) => Self(child),
            Err(e) => panic!(
                "cannot start {:?}: {e} (is it installed? scripts/install-peers installs the peers)",
                cmd.get_program()
            ),
        }
    }

    /// Whether the child has exited (without waiting).
    pub fn has_exited(&mut self) -> bool {
        match self.0.try_wait() {
            Ok(status) => status.is_some(),
            Err(e) => panic!("cannot query child {}: {e}", self.0.id()),
        }
    }

    /// Waits for the child to exit and collects what it wrote to its piped stdout and stderr
    /// (empty for streams that were not piped).
    pub fn wait_with_output(mut self) -> Output {
        fn read_all(pipe: Option<impl Read>) -> Vec<u8> {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            buf
        }
        let err = self.0.stderr.take();
        let err = std::thread::spawn(move || read_all(err));
        let stdout = read_all(self.0.stdout.take());
        let stderr = err
            .join()
            .unwrap_or_else(|_| panic!("the stderr reader thread panicked"));
        let status = self
            .0
            .wait()
            .unwrap_or_else(|e| panic!("waiting for child {}: {e}", self.0.id()));
        Output {
            status,
            stdout,
            stderr,
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Lets `child` run until `at` after `started` (or until it exits by itself), then kills it
/// with SIGKILL, as a crash test cuts a command off at a chosen point. Returns whether it had
/// finished by itself. The child is not reaped: collect it with `wait_with_output`.
pub fn kill_at(child: &mut Child, started: Instant, at: Duration) -> bool {
    let exited = |child: &mut Child| match child.try_wait() {
        Ok(status) => status.is_some(),
        Err(e) => panic!("cannot query child {}: {e}", child.id()),
    };
    while started.elapsed() < at && !exited(child) {
        std::thread::sleep(Duration::from_millis(1));
    }
    let finished = exited(child);
    if !finished {
        child
            .kill()
            .unwrap_or_else(|e| panic!("cannot kill child {}: {e}", child.id()));
    }
    finished
}

/// Whether `program` is on `PATH` (what `Command::new(program)` will find).
pub fn have(program: &str) -> bool {
    let Some(path) = std::env::var_os("PATH") else {
        return false;
    };
    std::env::split_paths(&path).any(|dir| is_executable(&dir.join(program)))
}

/// Where `program` is: a path containing `/` as given, otherwise the first match on `PATH`, then
/// in `/usr/sbin` and `/sbin` (Debian installs dnsmasq and unbound there, outside a user's `PATH`).
pub fn find_program(program: &str) -> Option<PathBuf> {
    if program.contains('/') {
        let p = PathBuf::from(program);
        return is_executable(&p).then_some(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|dir| dir.join(program))
        .find(|p| is_executable(p))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// `true` when every program in `programs` is on `PATH`. Otherwise [`skip`](crate::skip)s
/// loudly (`SKIPPED: <what>: ...` naming the first missing one and how to install it; a failure
/// with `LANTRUST_REQUIRE_PEERS=1`) and returns `false`, so that the caller returns early instead
/// of faking a pass.
#[track_caller]
pub fn require_programs(programs: &[&str], what: &str) -> bool {
    match programs.iter().find(|p| !have(p)) {
        None => true,
        Some(missing) => {
            crate::skip(format_args!(
                "{what}: `{missing}` is not installed (scripts/install-peers installs it)"
            ));
            false
        }
    }
}

/// Runs `program ARGS` to completion and returns its output (the status is not checked).
pub fn run(program: impl AsRef<OsStr>, args: &[&str]) -> Output {
    let program = program.as_ref();
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program:?} {args:?}: {e} (is it installed/built?)"))
}

/// Status, stdout and stderr of a finished process, for assertion messages.
pub fn output_text(o: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}
