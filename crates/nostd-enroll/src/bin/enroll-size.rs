//! The enrollment path of `lantrust-nostd-enroll` in a binary, built to measure its code size
//! (`cargo bloat --profile release-small -p lantrust-nostd-enroll --features size-bin --crates`).
//!
//! It does enroll for real, over a line-framed pipe instead of HTTPS, so that no TLS or HTTP stack
//! is counted: each request is written to stdout as `METHOD URL`, `name: value` header lines, an
//! empty line, the body length and the body; each answer is read from stdin as the status, header
//! lines, an empty line, the body length and the body. Challenges to serve are written to stdout
//! as `challenge TOKEN VALUE` lines before the request that announces them ready; the chain (or
//! the failure) goes to stderr. Usage: `lantrust-enroll-size DIRECTORY_URL DEVICE_ID [DOMAIN…]`.

use std::io::{BufRead, Write};

use core::time::Duration;
use lantrust_acme::client::ChallengeToServe;
use lantrust_acme::{Request, Response};
use lantrust_nostd_enroll::{Device, enroll};

struct Pipe<R, W> {
    input: R,
    output: W,
}

impl<R: BufRead, W: Write> Pipe<R, W> {
    fn line(&mut self) -> std::io::Result<String> {
        let mut line = String::new();
        self.input.read_line(&mut line)?;
        Ok(line.trim_end_matches(['\r', '\n']).to_string())
    }

    fn exchange(&mut self, request: &Request) -> std::io::Result<Response> {
        writeln!(self.output, "{} {}", request.method.as_str(), request.url)?;
        for (name, value) in &request.headers {
            writeln!(self.output, "{name}: {value}")?;
        }
        writeln!(self.output, "\n{}", request.body.len())?;
        self.output.write_all(&request.body)?;
        self.output.flush()?;
        let invalid = |what| std::io::Error::new(std::io::ErrorKind::InvalidData, what);
        let status = self.line()?.parse().map_err(|_| invalid("status"))?;
        let mut headers = Vec::new();
        loop {
            let line = self.line()?;
            let Some((name, value)) = line.split_once(':') else {
                break;
            };
            headers.push((name.trim().to_string(), value.trim().to_string()));
        }
        let len: usize = self.line()?.parse().map_err(|_| invalid("length"))?;
        let mut body = vec![0; len];
        self.input.read_exact(&mut body)?;
        Ok(Response {
            status,
            headers,
            body,
        })
    }
}

impl<R: BufRead, W: Write> Device for Pipe<R, W> {
    type Error = std::io::Error;

    fn send(&mut self, request: &Request) -> Result<Response, Self::Error> {
        self.exchange(request)
    }

    fn serve_challenges(&mut self, challenges: &[ChallengeToServe]) {
        for c in challenges {
            // A broken pipe shows up on the next exchange.
            let _ = writeln!(self.output, "challenge {} {}", c.token, c.value);
        }
    }

    fn now(&mut self) -> Duration {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
    }

    fn sleep_until(&mut self, until: Duration) {
        std::thread::sleep(until.saturating_sub(self.now()));
    }
}

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [directory, device_id, domains @ ..] = args.as_slice() else {
        eprintln!("usage: lantrust-enroll-size DIRECTORY_URL DEVICE_ID [DOMAIN...]");
        return std::process::ExitCode::from(2);
    };
    let domains: Vec<&str> = domains.iter().map(String::as_str).collect();
    let mut pipe = Pipe {
        input: std::io::stdin().lock(),
        output: std::io::stdout().lock(),
    };
    match enroll(
        &mut pipe,
        &mut rand_core::OsRng,
        directory,
        device_id,
        &domains,
    ) {
        Ok(enrolled) => {
            eprint!("{}", enrolled.chain_pem);
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("enrollment failed: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
