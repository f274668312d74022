//! Drives the sans-IO ACME client over ureq, serves http-01, prints progress while waiting.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use lantrust_acme::client::{ChallengeToServe, Client, Event};
use lantrust_acme::{Method, Request, Response};

fn now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

/// http-01 responder (RFC 8555 §8.3) on a plain TCP listener, one thread per connection.
/// Dropping it stops the listener and frees the port (renewals bind it again).
pub(crate) struct Http01 {
    tokens: Arc<Mutex<HashMap<String, String>>>,
    pub(crate) addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl Drop for Http01 {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag and drops the listener.
        let mut wake = self.addr;
        if wake.ip().is_unspecified() {
            wake.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        let _ = std::net::TcpStream::connect_timeout(&wake, Duration::from_secs(1));
    }
}

impl Http01 {
    pub(crate) fn start(listen: SocketAddr) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(listen).with_context(|| {
            format!("binding the http-01 responder to {listen} (use --http01-listen)")
        })?;
        let addr = listener.local_addr()?;
        let tokens: Arc<Mutex<HashMap<String, String>>> = Arc::default();
        let t = tokens.clone();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(mut stream) = stream else { continue };
                let tokens = t.clone();
                std::thread::spawn(move || {
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                    let Ok(clone) = stream.try_clone() else {
                        return;
                    };
                    let mut reader = BufReader::new(clone);
                    let mut line = String::new();
                    if reader.read_line(&mut line).is_err() {
                        return;
                    }
                    loop {
                        let mut h = String::new();
                        if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                            break;
                        }
                    }
                    let path = line.split_whitespace().nth(1).unwrap_or("");
                    let token = path
                        .strip_prefix("/.well-known/acme-challenge/")
                        .unwrap_or("");
                    let body = tokens.lock().ok().and_then(|t| t.get(token).cloned());
                    tracing::info!(path, found = body.is_some(), "http-01 request");
                    let resp = match body {
                        Some(b) => format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{b}",
                            b.len()
                        ),
                        None => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string(),
                    };
                    let _ = stream.write_all(resp.as_bytes());
                });
            }
        });
        Ok(Http01 { tokens, addr, stop })
    }

    fn publish(&self, list: &[ChallengeToServe]) {
        if let Ok(mut t) = self.tokens.lock() {
            for c in list {
                t.insert(c.token.clone(), c.value.clone());
            }
        }
    }
}

fn exchange(agent: &ureq::Agent, req: &Request) -> anyhow::Result<Response> {
    let mut r = agent.request(req.method.as_str(), &req.url);
    for (n, v) in &req.headers {
        r = r.set(n, v);
    }
    let result = match req.method {
        Method::Post => r.send_bytes(&req.body),
        _ => r.call(),
    };
    let resp = match result {
        Ok(resp) => resp,
        Err(ureq::Error::Status(_, resp)) => resp,
        Err(e) => bail!("{} {}: {e}", req.method.as_str(), req.url),
    };
    let status = resp.status();
    let mut headers = Vec::new();
    for name in resp.headers_names() {
        for v in resp.all(&name) {
            headers.push((name.clone(), v.to_string()));
        }
    }
    let mut body = Vec::new();
    resp.into_reader()
        .take(1 << 20)
        .read_to_end(&mut body)
        .with_context(|| format!("reading the answer to {}", req.url))?;
    tracing::debug!(url = %req.url, status, "ACME exchange");
    Ok(Response {
        status,
        headers,
        body,
    })
}

/// Runs `client` to completion. Waits (Retry-After or the client's poll interval) are reported
/// on stderr, since the first issuance waits for a human to approve it (§3.4.4).
pub(crate) fn drive(
    client: &mut Client,
    agent: &ureq::Agent,
    http01: Option<&Http01>,
    limit: Duration,
) -> anyhow::Result<Vec<Event>> {
    let mut events = Vec::new();
    let start = Instant::now();
    let mut challenges_out = false;
    let mut waits = 0u32;
    while !client.is_done() {
        if start.elapsed() > limit {
            bail!(
                "gave up after {:?} (still waiting: is the request approved on the server?)",
                limit
            );
        }
        if let Some(req) = client.poll_request() {
            let resp = exchange(agent, &req)?;
            client.handle_response(resp, now());
        }
        while let Some(ev) = client.poll_event() {
            match &ev {
                Event::AccountReady { url, created } => {
                    eprintln!(
                        "account {} ({url})",
                        if *created { "created" } else { "found" }
                    );
                }
                Event::OrderCreated { url } => eprintln!("order created ({url})"),
                Event::ServeChallenges(list) => {
                    let Some(h) = http01 else {
                        bail!("the server asks for challenges but no http-01 responder is running");
                    };
                    h.publish(list);
                    for c in list {
                        eprintln!(
                            "serving {:?} challenge for {} on http://{}/.well-known/acme-challenge/{}",
                            c.kind, c.identifier.value, h.addr, c.token
                        );
                    }
                    challenges_out = true;
                    client.challenges_ready();
                }
                Event::Failed(e) => bail!("ACME failed: {e}"),
                _ => {}
            }
            events.push(ev);
        }
        if let Some(at) = client.poll_timeout() {
            let n = now();
            let wait = at.saturating_sub(n);
            waits += 1;
            let what = if challenges_out {
                "waiting for the server to validate and approve (§3.4.4: an administrator runs `approve`)"
            } else {
                "waiting for the server"
            };
            eprintln!(
                "… {what}; {}s elapsed, next check in {:.1}s (#{waits})",
                start.elapsed().as_secs(),
                wait.as_secs_f32()
            );
            std::thread::sleep(wait);
            client.handle_timeout(now());
        }
    }
    while let Some(ev) = client.poll_event() {
        if let Event::Failed(e) = &ev {
            bail!("ACME failed: {e}");
        }
        events.push(ev);
    }
    Ok(events)
}
