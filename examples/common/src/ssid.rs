//! The Wi-Fi SSID of the interface in use, part of the network identity (draft-sweet-iot-acme-07
//! §4.8: "the local network interface name, MAC address of the default router, and/or the Wi-Fi
//! SSID").
//!
//! A wired interface has no SSID: [`detect`] asks nothing when the kernel does not list the
//! interface as wireless (`/sys/class/net/IFACE/wireless` or `phy80211`). For a wireless one it
//! asks, in order, the tools a Linux host may have, and the first that knows answers:
//!
//! 1. `iw dev IFACE link` (nl80211): `Connected to … (on IFACE)` then `\tSSID: …`, or
//!    `Not connected.`;
//! 2. `iwgetid -r IFACE` (wireless extensions): the raw SSID;
//! 3. `nmcli -t -f active,ssid dev wifi list ifname IFACE --rescan no` (NetworkManager);
//! 4. `wpa_cli -i IFACE status` (wpa_supplicant): `wpa_state=COMPLETED` and `ssid=…`.
//!
//! Each tool's output is read by a pure function ([`parse_iw_link`], [`parse_iwgetid`],
//! [`parse_nmcli`], [`parse_wpa_cli_status`]) into a [`Reading`]; the SSID comes back as the raw
//! bytes on the air (an SSID is 1 to 32 octets, not necessarily UTF-8), with each tool's
//! escaping undone.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What one tool said about an interface's SSID.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reading {
    /// Associated with the network of this SSID (raw bytes, 1 to 32).
    Ssid(Vec<u8>),
    /// The tool says the interface is not associated with any network.
    NotConnected,
    /// The tool said nothing usable (missing, failed, or output not understood): ask the next.
    Unknown,
}

impl Reading {
    /// An SSID of 1 to 32 bytes (IEEE 802.11 §9.4.2.2), else [`Reading::Unknown`].
    fn ssid(bytes: Vec<u8>) -> Self {
        if (1..=32).contains(&bytes.len()) {
            Self::Ssid(bytes)
        } else {
            Self::Unknown
        }
    }
}

/// The tools [`detect`] asks, in its order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tool {
    /// `iw dev IFACE link`.
    Iw,
    /// `iwgetid -r IFACE`.
    Iwgetid,
    /// `nmcli -t -f active,ssid dev wifi list ifname IFACE --rescan no`.
    Nmcli,
    /// `wpa_cli -i IFACE status`.
    WpaCli,
}

impl Tool {
    /// Every tool, in the order [`detect`] asks them.
    pub const ALL: [Tool; 4] = [Tool::Iw, Tool::Iwgetid, Tool::Nmcli, Tool::WpaCli];

    /// The program's name.
    pub fn program(self) -> &'static str {
        match self {
            Tool::Iw => "iw",
            Tool::Iwgetid => "iwgetid",
            Tool::Nmcli => "nmcli",
            Tool::WpaCli => "wpa_cli",
        }
    }

    /// The arguments that ask for `iface`'s SSID.
    pub fn args(self, iface: &str) -> Vec<&str> {
        match self {
            Tool::Iw => vec!["dev", iface, "link"],
            Tool::Iwgetid => vec!["-r", iface],
            Tool::Nmcli => vec![
                "-t",
                "-f",
                "active,ssid",
                "dev",
                "wifi",
                "list",
                "ifname",
                iface,
                "--rescan",
                "no",
            ],
            Tool::WpaCli => vec!["-i", iface, "status"],
        }
    }

    /// Reads the tool's standard output.
    pub fn parse(self, stdout: &[u8]) -> Reading {
        match self {
            Tool::Iw => parse_iw_link(stdout),
            Tool::Iwgetid => parse_iwgetid(stdout),
            Tool::Nmcli => parse_nmcli(stdout),
            Tool::WpaCli => parse_wpa_cli_status(stdout),
        }
    }
}

/// `iw dev IFACE link`: the `SSID:` line of `Connected to …`, with iw's escaping undone (iw
/// prints a byte that is not printable ASCII, a backslash, and a leading or trailing space as
/// `\xNN`; other spaces as they are). `Not connected.` is [`Reading::NotConnected`].
pub fn parse_iw_link(stdout: &[u8]) -> Reading {
    let mut connected = false;
    for line in stdout.split(|b| *b == b'\n') {
        let trimmed = line.trim_ascii();
        if trimmed == b"Not connected." {
            return Reading::NotConnected;
        }
        if trimmed.starts_with(b"Connected to ") {
            connected = true;
            continue;
        }
        // `\tSSID: ` then the escaped SSID, whose own spaces at either end are escaped.
        if let Some(rest) = line.trim_ascii_start().strip_prefix(b"SSID: ") {
            if connected {
                return unescape_hex(rest).map_or(Reading::Unknown, Reading::ssid);
            }
        }
    }
    Reading::Unknown
}

/// `iwgetid -r IFACE`: the raw SSID and a newline. Empty output (not associated, or a hidden
/// network) says nothing certain, so it is [`Reading::Unknown`].
pub fn parse_iwgetid(stdout: &[u8]) -> Reading {
    let ssid = stdout.strip_suffix(b"\n").unwrap_or(stdout);
    Reading::ssid(ssid.to_vec())
}

/// `nmcli -t -f active,ssid dev wifi list ifname IFACE`: one `ACTIVE:SSID` line per network
/// in range, `yes` on the one the interface is associated with. Terse mode escapes `:` and `\`
/// in values with a backslash. Networks in range but none active: [`Reading::NotConnected`].
pub fn parse_nmcli(stdout: &[u8]) -> Reading {
    let mut any = false;
    for line in stdout.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        any = true;
        if let Some(ssid) = line.strip_prefix(b"yes:") {
            let mut out = Vec::with_capacity(ssid.len());
            let mut bytes = ssid.iter();
            while let Some(&b) = bytes.next() {
                out.push(if b == b'\\' {
                    bytes.next().copied().unwrap_or(b'\\')
                } else {
                    b
                });
            }
            return Reading::ssid(out);
        }
    }
    if any {
        Reading::NotConnected
    } else {
        Reading::Unknown
    }
}

/// `wpa_cli -i IFACE status`: `ssid=…` once `wpa_state=COMPLETED`, with wpa_supplicant's
/// `printf_encode` escaping undone (`\\`, `\"`, `\e`, `\n`, `\r`, `\t`, `\xNN`). Another state
/// is [`Reading::NotConnected`].
pub fn parse_wpa_cli_status(stdout: &[u8]) -> Reading {
    let mut state = None;
    let mut ssid = None;
    for line in stdout.split(|b| *b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if let Some(v) = line.strip_prefix(b"wpa_state=") {
            state = Some(v);
        } else if let Some(v) = line.strip_prefix(b"ssid=") {
            ssid = Some(v);
        }
    }
    match (state, ssid) {
        (Some(b"COMPLETED"), Some(s)) => unescape_printf(s).map_or(Reading::Unknown, Reading::ssid),
        (Some(b"COMPLETED"), None) | (None, _) => Reading::Unknown,
        (Some(_), _) => Reading::NotConnected,
    }
}

/// Undoes `\xNN` escapes (iw); any other byte stands for itself. `None` on a broken escape.
fn unescape_hex(s: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        if b == b'\\' {
            if s.get(i + 1) != Some(&b'x') {
                return None;
            }
            out.push(hex_byte(s.get(i + 2..i + 4)?)?);
            i += 4;
        } else {
            out.push(b);
            i += 1;
        }
    }
    Some(out)
}

/// Undoes wpa_supplicant's `printf_encode` (its `printf_decode` accepts octal too).
fn unescape_printf(s: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        i += 1;
        if b != b'\\' {
            out.push(b);
            continue;
        }
        let e = *s.get(i)?;
        i += 1;
        out.push(match e {
            b'\\' | b'"' => e,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'e' => 0x1b,
            b'x' => {
                let v = hex_byte(s.get(i..i + 2)?)?;
                i += 2;
                v
            }
            b'0'..=b'7' => {
                // Up to three octal digits, the first already read.
                let mut v = u32::from(e - b'0');
                for _ in 0..2 {
                    match s.get(i) {
                        Some(d @ b'0'..=b'7') => {
                            v = v * 8 + u32::from(d - b'0');
                            i += 1;
                        }
                        _ => break,
                    }
                }
                u8::try_from(v).ok()?
            }
            _ => return None,
        });
    }
    Some(out)
}

fn hex_byte(two: &[u8]) -> Option<u8> {
    u8::from_str_radix(std::str::from_utf8(two).ok()?, 16).ok()
}

/// Runs a program with arguments; its standard output if it ran and exited 0.
pub type RunTool<'a> = dyn FnMut(&str, &[&str]) -> Option<Vec<u8>> + 'a;

/// Asks `tools` in order through `run` (program, arguments → standard output of a successful
/// run, `None` when the program is missing or fails) and returns the first SSID found, with the
/// tool that found it. A tool that says the interface is not associated ends the search: the
/// next would only say the same.
pub fn ssid_from(iface: &str, tools: &[Tool], run: &mut RunTool<'_>) -> Option<(Vec<u8>, Tool)> {
    for &tool in tools {
        let Some(stdout) = run(tool.program(), &tool.args(iface)) else {
            continue;
        };
        match tool.parse(&stdout) {
            Reading::Ssid(s) => return Some((s, tool)),
            Reading::NotConnected => return None,
            Reading::Unknown => {}
        }
    }
    None
}

/// Whether the kernel lists `iface` as a wireless interface (cfg80211's `phy80211` link, or the
/// wireless-extensions directory), in this network namespace's `/sys`.
pub fn is_wireless(iface: &str) -> bool {
    let dir = Path::new("/sys/class/net").join(iface);
    !iface.contains('/') && (dir.join("phy80211").exists() || dir.join("wireless").exists())
}

/// The SSID `iface` is associated with, and the tool that said so; `None` for a wired
/// interface, one that is not associated, or when no tool answers.
pub fn detect(iface: &str) -> Option<(Vec<u8>, Tool)> {
    if !is_wireless(iface) {
        return None;
    }
    let found = ssid_from(iface, &Tool::ALL, &mut |program, args| {
        run_tool(program, args, Duration::from_secs(3))
    });
    if let Some((ssid, tool)) = &found {
        tracing::debug!(
            iface,
            ssid = %String::from_utf8_lossy(ssid),
            tool = tool.program(),
            "Wi-Fi SSID found"
        );
    }
    found
}

/// Runs `program` (from PATH, else /usr/sbin or /sbin, where Debian puts iw and iwgetid) in
/// the C locale and returns its standard output if it exits 0 within `limit`.
fn run_tool(program: &str, args: &[&str], limit: Duration) -> Option<Vec<u8>> {
    let candidates = [
        program.to_string(),
        format!("/usr/sbin/{program}"),
        format!("/sbin/{program}"),
    ];
    let mut child = candidates.iter().find_map(|p| {
        Command::new(p)
            .args(args)
            .env("LC_ALL", "C")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .ok()
    })?;
    let mut stdout = child.stdout.take()?;
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = stdout.read_to_end(&mut out);
        out
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    let out = reader.join().ok()?;
    status.filter(|s| s.success()).map(|_| out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `iw dev wlan0 link` (iw 5.19) while associated; the SSID has inner spaces.
    const IW_CONNECTED: &[u8] = b"Connected to 9c:53:22:a1:07:3e (on wlan0)\n\
\tSSID: Home Network 5G\n\
\tfreq: 5180\n\
\tRX: 1827346 bytes (9811 packets)\n\
\tTX: 201733 bytes (1322 packets)\n\
\tsignal: -52 dBm\n\
\trx bitrate: 433.3 MBit/s VHT-MCS 9 80MHz short GI VHT-NSS 1\n\
\ttx bitrate: 390.0 MBit/s VHT-MCS 8 80MHz short GI VHT-NSS 1\n\
\n\
\tbss flags:\tshort-slot-time\n\
\tdtim period:\t1\n\
\tbeacon int:\t100\n";

    /// `iw dev wlan0 link` for "Café ☕" (UTF-8 bytes are not printable ASCII, so escaped), a
    /// trailing space and a backslash (both escaped too).
    const IW_ESCAPED: &[u8] = b"Connected to 02:00:00:00:01:00 (on wlan0)\n\
\tSSID: Caf\\xc3\\xa9 \\xe2\\x98\\x95 a\\x5cb\\x20\n\
\tfreq: 2412\n";

    #[test]
    fn iw_link_output() {
        assert_eq!(
            parse_iw_link(IW_CONNECTED),
            Reading::Ssid(b"Home Network 5G".to_vec())
        );
        assert_eq!(
            parse_iw_link(IW_ESCAPED),
            Reading::Ssid("Café ☕ a\\b ".as_bytes().to_vec())
        );
        assert_eq!(parse_iw_link(b"Not connected.\n"), Reading::NotConnected);
        // A leading space is escaped: `\x20`; a non-UTF-8 byte comes back raw.
        assert_eq!(
            parse_iw_link(b"Connected to 02:00:00:00:01:00 (on wlp2s0)\n\tSSID: \\x20x\\xff\n"),
            Reading::Ssid(b" x\xff".to_vec())
        );
        // The output of a host without nl80211, and a broken escape: nothing certain.
        assert_eq!(parse_iw_link(b"nl80211 not found.\n"), Reading::Unknown);
        assert_eq!(
            parse_iw_link(b"Connected to 02:00:00:00:01:00 (on wlan0)\n\tSSID: a\\x4\n"),
            Reading::Unknown
        );
        // An `SSID:` line outside `Connected to` (not link output) is not taken.
        assert_eq!(parse_iw_link(b"\tSSID: stray\n"), Reading::Unknown);
        // 33 bytes is no SSID.
        let long = format!(
            "Connected to 02:00:00:00:01:00 (on wlan0)\n\tSSID: {}\n",
            "x".repeat(33)
        );
        assert_eq!(parse_iw_link(long.as_bytes()), Reading::Unknown);
    }

    #[test]
    fn iwgetid_output() {
        assert_eq!(
            parse_iwgetid(b"Home Network 5G\n"),
            Reading::Ssid(b"Home Network 5G".to_vec())
        );
        // -r prints the bytes as they are.
        assert_eq!(
            parse_iwgetid("Café ☕\n".as_bytes()),
            Reading::Ssid("Café ☕".as_bytes().to_vec())
        );
        assert_eq!(parse_iwgetid(b"\n"), Reading::Unknown);
        assert_eq!(parse_iwgetid(b""), Reading::Unknown);
    }

    #[test]
    fn nmcli_output() {
        let out = b"no:Neighbours\n\
yes:Home\\: upstairs \\\\ 5G\n\
no:\n";
        assert_eq!(
            parse_nmcli(out),
            Reading::Ssid(b"Home: upstairs \\ 5G".to_vec())
        );
        assert_eq!(
            parse_nmcli("yes:Café ☕\n".as_bytes()),
            Reading::Ssid("Café ☕".as_bytes().to_vec())
        );
        assert_eq!(
            parse_nmcli(b"no:Neighbours\nno:Other\n"),
            Reading::NotConnected
        );
        assert_eq!(parse_nmcli(b""), Reading::Unknown);
        // The active network is hidden (no SSID shown): nothing certain.
        assert_eq!(parse_nmcli(b"yes:\n"), Reading::Unknown);
    }

    #[test]
    fn wpa_cli_status_output() {
        let completed = b"bssid=9c:53:22:a1:07:3e\n\
freq=5180\n\
ssid=Home \\\"Net\\\" \\xe2\\x98\\x95\n\
id=0\n\
mode=station\n\
wifi_generation=5\n\
pairwise_cipher=CCMP\n\
group_cipher=CCMP\n\
key_mgmt=WPA2-PSK\n\
wpa_state=COMPLETED\n\
ip_address=192.168.1.23\n\
p2p_device_address=02:11:22:33:44:55\n\
address=02:11:22:33:44:55\n\
uuid=7f1c9e0a-1b2c-5d3e-8f4a-0b1c2d3e4f50\n";
        assert_eq!(
            parse_wpa_cli_status(completed),
            Reading::Ssid("Home \"Net\" ☕".as_bytes().to_vec())
        );
        assert_eq!(
            parse_wpa_cli_status(b"ssid=tab\\there\\\\\\101\nwpa_state=COMPLETED\n"),
            Reading::Ssid(b"tab\there\\A".to_vec())
        );
        let scanning = b"wpa_state=SCANNING\n\
p2p_device_address=02:11:22:33:44:55\n\
address=02:11:22:33:44:55\n";
        assert_eq!(parse_wpa_cli_status(scanning), Reading::NotConnected);
        assert_eq!(
            parse_wpa_cli_status(b"Selected interface 'wlan0'\n"),
            Reading::Unknown
        );
    }

    #[test]
    fn tools_are_asked_in_order_until_one_knows() {
        // iw missing, iwgetid empty (hidden network), nmcli knows.
        let mut asked = Vec::new();
        let found = ssid_from("wlan0", &Tool::ALL, &mut |program, args| {
            asked.push(format!("{program} {}", args.join(" ")));
            match program {
                "iwgetid" => Some(b"\n".to_vec()),
                "nmcli" => Some(b"no:Other\nyes:Home\n".to_vec()),
                _ => None,
            }
        });
        assert_eq!(found, Some((b"Home".to_vec(), Tool::Nmcli)));
        assert_eq!(
            asked,
            [
                "iw dev wlan0 link",
                "iwgetid -r wlan0",
                "nmcli -t -f active,ssid dev wifi list ifname wlan0 --rescan no",
            ]
        );
        // iw says "Not connected.": no other tool is asked.
        let mut asked = 0;
        let found = ssid_from("wlan0", &Tool::ALL, &mut |program, _| {
            asked += 1;
            (program == "iw").then(|| b"Not connected.\n".to_vec())
        });
        assert_eq!((found, asked), (None, 1));
        // iw answers first.
        let found = ssid_from("wlan0", &Tool::ALL, &mut |program, _| match program {
            "iw" => Some(IW_CONNECTED.to_vec()),
            _ => Some(b"Other\n".to_vec()),
        });
        assert_eq!(found, Some((b"Home Network 5G".to_vec(), Tool::Iw)));
        // wpa_cli last; nothing at all: no SSID.
        let found = ssid_from("wlan0", &Tool::ALL, &mut |program, _| {
            (program == "wpa_cli").then(|| b"wpa_state=COMPLETED\nssid=Lab\n".to_vec())
        });
        assert_eq!(found, Some((b"Lab".to_vec(), Tool::WpaCli)));
        assert_eq!(ssid_from("wlan0", &Tool::ALL, &mut |_, _| None), None);
    }

    #[test]
    fn a_wired_or_missing_interface_has_no_ssid() {
        // Loopback exists everywhere and is never wireless; a name with a slash is refused.
        assert!(!is_wireless("lo"));
        assert_eq!(detect("lo"), None);
        assert!(!is_wireless("../lo"));
        assert_eq!(detect("no-such-interface0"), None);
    }
}
