//! The console's HTML, rendered on the server with maud (every value escaped by the template).
//! No inline script or style: the CSP allows only /admin/ui/static/console.{js,css}.

use maud::{DOCTYPE, Markup, html};

use crate::store::{ApprovalRow, CertRow, PendingRow};

/// A pending request with what the console adds to it.
pub(crate) struct PendingView {
    /// The stored request.
    pub(crate) row: PendingRow,
    /// The vendor of its MAC address (OUI).
    pub(crate) vendor: Option<String>,
    /// The account key's type.
    pub(crate) key_type: Option<String>,
}

/// Facts about the network root for the root page.
pub(crate) struct RootFacts {
    /// Its subject, as text.
    pub(crate) subject: String,
    /// SHA-256 of the certificate (DER), colon-separated upper-case hex (as `openssl x509
    /// -fingerprint -sha256` prints it).
    pub(crate) cert_sha256: String,
    /// SHA-256 of its SubjectPublicKeyInfo, hex (what `lantrust-client list` shows as
    /// `root-spki-sha256`).
    pub(crate) spki_sha256: String,
}

/// Seconds since the epoch as `YYYY-MM-DD HH:MM:SS UTC`.
pub(crate) fn utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

fn layout(title: &str, nav: Option<(&str, &str)>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · lantrust console" }
                link rel="stylesheet" href="/admin/ui/static/console.css";
                script src="/admin/ui/static/console.js" defer {}
            }
            body {
                header {
                    span.brand { "lantrust" }
                    @if let Some((active, csrf)) = nav {
                        nav {
                            @for (href, label) in [("/admin/ui/pending", "Pending"), ("/admin/ui/devices", "Devices"), ("/admin/ui/root", "Network root")] {
                                a href=(href) class=[(href.ends_with(active)).then_some("active")] { (label) }
                            }
                            form.logout method="post" action="/admin/logout" {
                                input type="hidden" name="csrf" value=(csrf);
                                button type="submit" { "Sign out" }
                            }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

/// The sign-in page. `csrf` is `None` when no password is set (no form then).
pub(crate) fn login(csrf: Option<&str>, state_dir: &str, error: Option<&str>) -> Markup {
    layout(
        "Sign in",
        None,
        html! {
            h1 { "Sign in" }
            @if let Some(e) = error { p.error role="alert" { (e) } }
            @match csrf {
                Some(csrf) => {
                    form.login method="post" action="/admin/login" {
                        input type="hidden" name="csrf" value=(csrf);
                        label for="password" { "Console password" }
                        input #password type="password" name="password" autocomplete="current-password" required autofocus;
                        button type="submit" { "Sign in" }
                    }
                }
                None => {
                    p.error { "No console password is set, so nobody can sign in." }
                    p { "Set one on the server (it reads the password from stdin or a file, never from the command line):" }
                    pre { "lantrust-server passwd --state " (state_dir) }
                }
            }
        },
    )
}

/// The pending page.
pub(crate) fn pending(csrf: &str, rows: &[PendingView]) -> Markup {
    layout(
        "Pending",
        Some(("pending", csrf)),
        html! {
            h1 { "Devices waiting for approval " span #pending-count.count { (rows.len()) } }
            p.live { "This list updates by itself when a device asks." }
            div #pending-list data-src="/admin/ui/pending/list" { (pending_list(csrf, rows)) }
        },
    )
}

/// The list part of the pending page (also what the page polls).
pub(crate) fn pending_list(csrf: &str, rows: &[PendingView]) -> Markup {
    html! {
        @if rows.is_empty() {
            p.empty { "Nobody is waiting." }
        }
        @for v in rows {
            @let r = &v.row;
            @let q = &r.requester;
            @let key_change = r.kind == "key_change";
            section.request.key-change[key_change] data-device=(r.device_id) data-kind=(r.kind) {
                h2 { (r.device_id) }
                @if key_change {
                    p.warning role="alert" {
                        strong { "Key change: " }
                        "a known device ID arrived with a new key: factory reset, or impostor. "
                        @if let Some(b) = &r.bound_account { "The ID is bound to key " code { (b) } ". " }
                        "Approve only if you reset this device yourself."
                    }
                }
                dl {
                    dt { "Names" } dd { (q.names.join(", ")) }
                    dt { "Requester IP" } dd { (q.ip.as_deref().unwrap_or("unknown")) }
                    dt { "MAC address" } dd { (q.mac.as_deref().unwrap_or("unknown (not on this link)")) }
                    dt { "Vendor" } dd.vendor { (v.vendor.as_deref().unwrap_or("unknown vendor")) }
                    dt { "Account key" } dd { (v.key_type.as_deref().unwrap_or("unknown type")) }
                    dt { "Account thumbprint" } dd { code { (q.account) } }
                    @if let (Some(t), Some(fp)) = (&q.csr_key_type, &q.csr_spki_sha256) {
                        dt { "Certificate key" } dd { (t) " · SPKI SHA-256 " code { (fp) } }
                    }
                    dt { "First seen" } dd { (utc(q.first_seen)) }
                    dt { "Last seen" } dd { (utc(q.last_seen)) }
                }
                div.actions {
                    form method="post" action="/admin/ui/decide" {
                        input type="hidden" name="csrf" value=(csrf);
                        input type="hidden" name="device" value=(r.device_id);
                        input type="hidden" name="account" value=(q.account);
                        input type="hidden" name="action" value="approve";
                        @if key_change {
                            label.inline { input type="checkbox" name="revoke_old" value="on"; " revoke the old key's certificates" }
                        }
                        button.approve type="submit" { "Approve" }
                    }
                    form method="post" action="/admin/ui/decide" {
                        input type="hidden" name="csrf" value=(csrf);
                        input type="hidden" name="device" value=(r.device_id);
                        input type="hidden" name="account" value=(q.account);
                        input type="hidden" name="action" value="deny";
                        button.deny type="submit" { "Deny" }
                    }
                }
            }
        }
    }
}

/// The devices page.
pub(crate) fn devices(csrf: &str, devices: &[ApprovalRow], certs: &[CertRow], now: u64) -> Markup {
    layout(
        "Devices",
        Some(("devices", csrf)),
        html! {
            h1 { "Devices" }
            @if devices.is_empty() { p.empty { "No device has asked yet." } }
            table.devices {
                thead { tr { th { "Device" } th { "State" } th { "Names" } th { "Certificates" } th {} } }
                tbody {
                    @for d in devices {
                        tr data-device=(d.device_id) {
                            td { strong { (d.device_id) } }
                            td { span class={ "state " (d.state.as_str()) } { (d.state.as_str()) } }
                            td { (d.names.join(", ")) }
                            td {
                                ul.certs {
                                    @for c in certs.iter().filter(|c| c.device_id == d.device_id) {
                                        li {
                                            code { (c.serial.get(..16).unwrap_or(&c.serial)) }
                                            " expires " (utc(c.not_after))
                                            @if c.revoked { " " span.state.revoked { "revoked" } }
                                            @else if c.not_after <= now { " " span.state.denied { "expired" } }
                                        }
                                    }
                                }
                            }
                            td {
                                @if d.state.as_str() != "revoked" {
                                    form method="post" action="/admin/ui/revoke" {
                                        input type="hidden" name="csrf" value=(csrf);
                                        input type="hidden" name="device" value=(d.device_id);
                                        button.deny.confirm type="submit" data-confirm={ "Revoke " (d.device_id) " and all its certificates?" } { "Revoke" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}

/// The network root page.
pub(crate) fn root(csrf: &str, r: &RootFacts) -> Markup {
    layout(
        "Network root",
        Some(("root", csrf)),
        html! {
            h1 { "Network root" }
            p { "Devices and clients pin this root on first use (§3.5). Compare the fingerprint with what a client shows, or scan the code with a phone." }
            dl {
                dt { "Subject" } dd { (r.subject) }
                dt { "SHA-256 fingerprint" } dd { code #root-fingerprint { (r.cert_sha256) } }
                dt { "SPKI SHA-256" } dd { code { (r.spki_sha256) } }
            }
            p { a.button href="/admin/ui/root.pem" download="lantrust-root.pem" { "Download the root (PEM)" } }
            img.qr src="/admin/ui/root-qr.svg" alt={ "QR code of the SHA-256 fingerprint " (r.cert_sha256) } width="264" height="264";
        },
    )
}

/// A short page for an error (403, 404, 429, 500).
pub(crate) fn message(title: &str, text: &str) -> Markup {
    layout(
        title,
        None,
        html! {
            h1 { (title) }
            p.error { (text) }
            p { a href="/admin/" { "Back to the console" } }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc(1_798_761_599), "2026-12-31 23:59:59 UTC");
    }

    #[test]
    fn values_are_escaped() {
        let p = message("x", "<script>alert(1)</script>").into_string();
        assert!(!p.contains("<script>alert"), "{p}");
        assert!(p.contains("&lt;script&gt;"));
    }
}
