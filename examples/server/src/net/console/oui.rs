//! The vendor of a MAC address from its OUI (IEEE MA-L assignments), read at run time from
//! Debian's `ieee-data` (`/usr/share/ieee-data/oui.txt`, or `oui.csv`), parsed once on first
//! use. A locally administered address (IEEE 802 §8.2: bit 1 of the first octet) has no vendor:
//! phones and laptops randomise theirs per network.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Debian's copies of the IEEE registry.
pub(crate) const DEBIAN_OUI: [&str; 2] = [
    "/usr/share/ieee-data/oui.txt",
    "/usr/share/ieee-data/oui.csv",
];

/// What the console says about a MAC address's maker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Vendor {
    /// The registered organisation.
    Known(String),
    /// A locally administered address: randomised (or set by software), no vendor.
    LocallyAdministered,
    /// Not in the list, or no list installed.
    Unknown,
}

impl Vendor {
    /// For the page and the notification.
    pub(crate) fn label(&self) -> String {
        match self {
            Vendor::Known(v) => v.clone(),
            Vendor::LocallyAdministered => "randomised / locally administered".into(),
            Vendor::Unknown => "unknown vendor".into(),
        }
    }
}

/// An OUI table, loaded lazily from the first file of `paths` that exists.
pub(crate) struct OuiDb {
    paths: Vec<PathBuf>,
    table: OnceLock<HashMap<[u8; 3], String>>,
}

impl OuiDb {
    /// A table read from `paths` (the first that exists) on first lookup.
    pub(crate) fn new(paths: Vec<PathBuf>) -> Self {
        OuiDb {
            paths,
            table: OnceLock::new(),
        }
    }

    /// The table from Debian's `ieee-data`.
    pub(crate) fn debian() -> Self {
        Self::new(DEBIAN_OUI.iter().map(PathBuf::from).collect())
    }

    fn table(&self) -> &HashMap<[u8; 3], String> {
        self.table.get_or_init(|| {
            for p in &self.paths {
                if let Ok(text) = std::fs::read_to_string(p) {
                    let t = parse(p, &text);
                    tracing::info!(path = %p.display(), entries = t.len(), "OUI vendor list loaded");
                    return t;
                }
            }
            tracing::info!("no OUI list (install Debian's ieee-data): vendors show as unknown");
            HashMap::new()
        })
    }

    /// The vendor of `mac` (`aa:bb:cc:dd:ee:ff` or with `-`).
    pub(crate) fn lookup(&self, mac: &str) -> Vendor {
        let Some(b) = parse_mac(mac) else {
            return Vendor::Unknown;
        };
        if b[0] & 0x02 != 0 {
            return Vendor::LocallyAdministered;
        }
        match self.table().get(&b) {
            Some(v) => Vendor::Known(v.clone()),
            None => Vendor::Unknown,
        }
    }
}

/// The first three octets of a MAC address.
fn parse_mac(mac: &str) -> Option<[u8; 3]> {
    let mut it = mac.trim().split([':', '-']);
    let mut out = [0u8; 3];
    for o in &mut out {
        let p = it.next()?;
        if p.len() != 2 {
            return None;
        }
        *o = u8::from_str_radix(p, 16).ok()?;
    }
    Some(out)
}

/// Six hex digits, as the registry writes an assignment.
fn parse_hex6(s: &str) -> Option<[u8; 3]> {
    let s = s.trim();
    if s.len() != 6 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let v = u32::from_str_radix(s, 16).ok()?;
    let [_, a, b, c] = v.to_be_bytes();
    Some([a, b, c])
}

/// Parse `oui.txt` (`002272     (base 16)\t\tOrganisation`) or `oui.csv`
/// (`MA-L,002272,Organisation,Address`, fields quoted when they hold commas).
pub(crate) fn parse(path: &Path, text: &str) -> HashMap<[u8; 3], String> {
    let csv = path.extension().is_some_and(|e| e == "csv");
    let mut t = HashMap::new();
    for line in text.lines() {
        let entry = if csv {
            let f = csv_fields(line);
            match (f.first(), f.get(1), f.get(2)) {
                (Some(reg), Some(a), Some(org)) if reg == "MA-L" => {
                    parse_hex6(a).map(|k| (k, org.trim().to_string()))
                }
                _ => None,
            }
        } else {
            line.split_once("(base 16)")
                .and_then(|(a, org)| Some((parse_hex6(a)?, org.trim().to_string())))
        };
        if let Some((k, org)) = entry
            && !org.is_empty()
        {
            t.entry(k).or_insert(org);
        }
    }
    t
}

/// The fields of one CSV line (RFC 4180 quoting).
fn csv_fields(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(core::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two entries in the layout of Debian's ieee-data `oui.txt`.
    const TXT: &str = "OUI/MA-L                                                    Organization\n\
company_id                                                  Organization\n\
                                                            Address\n\
\n\
00-22-72   (hex)\t\tAmerican Micro-Fuel Device Corp.\n\
002272     (base 16)\t\tAmerican Micro-Fuel Device Corp.\n\
\t\t\t\t2181 Buchanan Loop\n\
\t\t\t\tFerndale  WA  98248\n\
\t\t\t\tUS\n\
\n\
B8-27-EB   (hex)\t\tRaspberry Pi Foundation\n\
B827EB     (base 16)\t\tRaspberry Pi Foundation\n\
\t\t\t\tMitchell Wood House\n\
\t\t\t\tCaldecote  Cambridgeshire  CB23 7NU\n\
\t\t\t\tGB\n";

    /// The same layout as Debian's `oui.csv`.
    const CSV: &str = "Registry,Assignment,Organization Name,Organization Address\n\
MA-L,002272,American Micro-Fuel Device Corp.,2181 Buchanan Loop Ferndale WA US 98248 \n\
MA-L,B827EB,Raspberry Pi Foundation,Mitchell Wood House Caldecote Cambridgeshire GB CB23 7NU \n\
MA-L,DCA632,\"Raspberry Pi Trading, Ltd\",\"Maurice Wilkes Building, Cambridge GB CB4 0DS \"\n";

    fn db(name: &str, text: &str) -> (tempfile::TempDir, OuiDb) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        let db = OuiDb::new(vec![dir.path().join("missing.txt"), p]);
        (dir, db)
    }

    #[test]
    fn debian_txt_format() {
        let (_d, db) = db("oui.txt", TXT);
        assert_eq!(
            db.lookup("b8:27:eb:12:34:56"),
            Vendor::Known("Raspberry Pi Foundation".into())
        );
        assert_eq!(
            db.lookup("00-22-72-00-00-01"),
            Vendor::Known("American Micro-Fuel Device Corp.".into())
        );
        assert_eq!(db.lookup("00:11:22:33:44:55"), Vendor::Unknown);
        assert_eq!(db.lookup("not a mac"), Vendor::Unknown);
        // 0x02 bit of the first octet: locally administered (randomised).
        assert_eq!(db.lookup("ba:27:eb:12:34:56"), Vendor::LocallyAdministered);
        assert_eq!(
            Vendor::LocallyAdministered.label(),
            "randomised / locally administered"
        );
        assert_eq!(Vendor::Unknown.label(), "unknown vendor");
    }

    #[test]
    fn debian_csv_format() {
        let (_d, db) = db("oui.csv", CSV);
        assert_eq!(
            db.lookup("dc:a6:32:00:00:01"),
            Vendor::Known("Raspberry Pi Trading, Ltd".into())
        );
        assert_eq!(
            db.lookup("B8:27:EB:00:00:01"),
            Vendor::Known("Raspberry Pi Foundation".into())
        );
    }

    #[test]
    fn no_list_means_unknown() {
        let db = OuiDb::new(vec![PathBuf::from("/nonexistent/oui.txt")]);
        assert_eq!(db.lookup("b8:27:eb:12:34:56"), Vendor::Unknown);
    }

    /// The installed Debian list, when there is one (ieee-data; scripts/install-peers).
    #[test]
    fn installed_debian_list() {
        if !Path::new(DEBIAN_OUI[0]).exists() {
            lantrust_test_support::skip("Debian's ieee-data is not installed");
            return;
        }
        let db = OuiDb::debian();
        match db.lookup("b8:27:eb:00:00:01") {
            Vendor::Known(v) => assert!(v.contains("Raspberry"), "{v}"),
            other => panic!("{other:?}"),
        }
    }
}
