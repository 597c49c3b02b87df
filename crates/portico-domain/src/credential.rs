//! Credentials: the three kinds of PRODUCT.md flows 1–3, their names and validity windows.

use chrono::{DateTime, Utc};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CredentialKind {
    /// A patient's credential for one app: the owner's own record, read-only.
    PatientApp,
    /// A staff developer key: the owner's practices at request time.
    Developer,
    /// A provider key: a chosen list of patients.
    Provider,
    /// A grant: what one person consented to for one registered app (SMART authorization code flow).
    ConnectedApp,
    /// A system app's standing access to the practices that approved it (SMART backend services).
    BackendApp,
}

impl CredentialKind {
    pub const ALL: [CredentialKind; 5] = [
        CredentialKind::PatientApp,
        CredentialKind::Developer,
        CredentialKind::Provider,
        CredentialKind::ConnectedApp,
        CredentialKind::BackendApp,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CredentialKind::PatientApp => "patient_app",
            CredentialKind::Developer => "developer",
            CredentialKind::Provider => "provider",
            CredentialKind::ConnectedApp => "connected_app",
            CredentialKind::BackendApp => "backend_app",
        }
    }

    /// Grants come from an app's authorization, never from "new credential"; they have no secret of their
    /// own (the app authenticates as itself).
    pub fn is_grant(self) -> bool {
        matches!(self, CredentialKind::ConnectedApp | CredentialKind::BackendApp)
    }

    pub fn parse(s: &str) -> Option<CredentialKind> {
        CredentialKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn secret_kind(self) -> crate::SecretKind {
        match self {
            CredentialKind::PatientApp => crate::SecretKind::PatientApp,
            CredentialKind::Developer => crate::SecretKind::Developer,
            CredentialKind::Provider => crate::SecretKind::Provider,
            CredentialKind::ConnectedApp | CredentialKind::BackendApp => crate::SecretKind::AppSecret,
        }
    }

    /// The role a user must hold to own (and keep using) a credential of this kind; grants depend on who
    /// consented (see `effective_access`).
    pub fn required_role(self) -> Option<crate::Role> {
        match self {
            CredentialKind::PatientApp => Some(crate::Role::Patient),
            CredentialKind::Developer => Some(crate::Role::Developer),
            CredentialKind::Provider => Some(crate::Role::Provider),
            CredentialKind::ConnectedApp | CredentialKind::BackendApp => None,
        }
    }

    pub fn client_id_prefix(self) -> &'static str {
        match self {
            CredentialKind::PatientApp => "pci_app_",
            CredentialKind::Developer => "pci_dev_",
            CredentialKind::Provider => "pci_prv_",
            CredentialKind::ConnectedApp | CredentialKind::BackendApp => "pci_grant_",
        }
    }
}

/// A credential's display name: 1–100 printable characters after trimming outer whitespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CredentialName(String);

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("a name is required")]
    Empty,
    #[error("a name can have at most 100 characters")]
    TooLong,
    #[error("a name can only contain printable characters")]
    NotPrintable,
}

impl CredentialName {
    pub fn parse(s: &str) -> Result<CredentialName, NameError> {
        let t = s.trim();
        if t.is_empty() {
            return Err(NameError::Empty);
        }
        if t.chars().count() > 100 {
            return Err(NameError::TooLong);
        }
        // Control, format (invisible, direction-changing, tag) and line-breaking characters could disguise
        // one app as another in a list of names.
        if t.chars().any(|c| c.is_control() || is_format_char(c) || matches!(c, '\u{2028}' | '\u{2029}')) {
            return Err(NameError::NotPrintable);
        }
        Ok(CredentialName(t.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form two names are compared in: see [`name_key`].
    pub fn key(&self) -> String {
        name_key(&self.0)
    }
}

/// The form in which credential names are compared for uniqueness: Unicode case-folded, so "Dup Name",
/// "dup name" and "DUP NAME" are one name, and so are "Straße" and "STRASSE". Lower, upper, lower again
/// approximates full case folding with the standard library alone: the round trip through upper case
/// expands ß to "ss" (and the capital ẞ, which lowercases to ß, likewise), and the last step is the
/// contextual lowercasing that makes final and medial sigma agree.
pub fn name_key(name: &str) -> String {
    name.trim().to_lowercase().to_uppercase().to_lowercase()
}

/// Is `c` a Unicode format character (general category Cf)? These are invisible or change the display
/// of their neighbours (bidi marks and isolates, joiners, soft hyphen, tag characters, the BOM).
pub fn is_format_char(c: char) -> bool {
    FORMAT_CHARS
        .binary_search_by(|&(lo, hi)| {
            if hi < c {
                std::cmp::Ordering::Less
            } else if lo > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// Every code point of general category Cf in Unicode 16.0, as sorted inclusive ranges: the `FORMAT` table
/// that `ucd-generate general-category ucd-16.0.0` produces (as shipped in regex-syntax 0.8). Regenerate it
/// the same way when Unicode adds format characters.
const FORMAT_CHARS: &[(char, char)] = &[
    ('\u{ad}', '\u{ad}'),
    ('\u{600}', '\u{605}'),
    ('\u{61c}', '\u{61c}'),
    ('\u{6dd}', '\u{6dd}'),
    ('\u{70f}', '\u{70f}'),
    ('\u{890}', '\u{891}'),
    ('\u{8e2}', '\u{8e2}'),
    ('\u{180e}', '\u{180e}'),
    ('\u{200b}', '\u{200f}'),
    ('\u{202a}', '\u{202e}'),
    ('\u{2060}', '\u{2064}'),
    ('\u{2066}', '\u{206f}'),
    ('\u{feff}', '\u{feff}'),
    ('\u{fff9}', '\u{fffb}'),
    ('\u{110bd}', '\u{110bd}'),
    ('\u{110cd}', '\u{110cd}'),
    ('\u{13430}', '\u{1343f}'),
    ('\u{1bca0}', '\u{1bca3}'),
    ('\u{1d173}', '\u{1d17a}'),
    ('\u{e0001}', '\u{e0001}'),
    ('\u{e0020}', '\u{e007f}'),
];

/// Does a token minted by secret generation `minted` still stand? Each regeneration starts a new
/// generation. The current secret's tokens stand; the previous secret's only while its grace period runs
/// (`previous_until`, `None` when there is none); older ones never. So a token lives no longer than the
/// secret that minted it.
pub fn minted_by_live_secret(minted: i64, current: i64, previous_until: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    minted == current || (minted == current - 1 && previous_until.is_some_and(|until| now < until))
}

/// Optional valid-from / valid-to. Both bounds inclusive of `from`, exclusive of `to`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ValidityWindow {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

impl ValidityWindow {
    /// `None` when `to` is not after `from`.
    pub fn new(from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> Option<ValidityWindow> {
        match (from, to) {
            (Some(f), Some(t)) if t <= f => None,
            _ => Some(ValidityWindow { from, to }),
        }
    }

    pub fn position(&self, now: DateTime<Utc>) -> WindowPosition {
        if self.from.is_some_and(|f| now < f) {
            WindowPosition::Before
        } else if self.to.is_some_and(|t| now >= t) {
            WindowPosition::After
        } else {
            WindowPosition::Inside
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WindowPosition {
    Before,
    Inside,
    After,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn names() {
        let long = "x".repeat(101);
        let max = "é".repeat(100);
        for (input, expected) in [
            ("Phone health app", Ok("Phone health app")),
            ("  padded  ", Ok("padded")),
            ("", Err(NameError::Empty)),
            ("   ", Err(NameError::Empty)),
            (long.as_str(), Err(NameError::TooLong)),
            (max.as_str(), Ok(max.as_str())),
            ("tab\there", Err(NameError::NotPrintable)),
            ("evil\u{202e}ppa", Err(NameError::NotPrintable)),
            ("arabic\u{61c}mark", Err(NameError::NotPrintable)),
            ("word\u{2060}joiner", Err(NameError::NotPrintable)),
            ("soft\u{ad}hyphen", Err(NameError::NotPrintable)),
            ("zero\u{200b}width", Err(NameError::NotPrintable)),
            ("\u{feff}bom", Err(NameError::NotPrintable)),
            ("tag\u{e0041}\u{e007f}", Err(NameError::NotPrintable)),
            ("line\u{2028}break", Err(NameError::NotPrintable)),
            ("hieroglyph\u{1343f}format", Err(NameError::NotPrintable)),
            ("Café ☕ 日本語 app", Ok("Café ☕ 日本語 app")),
            ("שלום app", Ok("שלום app")),
            ("Robert'); DROP TABLE credentials;--", Ok("Robert'); DROP TABLE credentials;--")),
        ] {
            assert_eq!(CredentialName::parse(input).as_ref().map(CredentialName::as_str).map_err(|e| *e), expected, "{input}");
        }
    }

    /// The table is sorted and disjoint (binary search relies on it), and every code point in it, and only
    /// those, is a format character; spot checks on both sides of each range's edges.
    #[test]
    fn format_table() {
        assert!(FORMAT_CHARS.windows(2).all(|w| w[0].1 < w[1].0) && FORMAT_CHARS.iter().all(|(lo, hi)| lo <= hi));
        assert_eq!(FORMAT_CHARS.iter().map(|&(lo, hi)| hi as u32 - lo as u32 + 1).sum::<u32>(), 170);
        for &(lo, hi) in FORMAT_CHARS {
            for c in (lo as u32..=hi as u32).filter_map(char::from_u32) {
                assert!(is_format_char(c), "{:04X}", c as u32);
                assert!(CredentialName::parse(&format!("a{c}b")).is_err(), "{:04X}", c as u32);
            }
            for outside in [lo as u32 - 1, hi as u32 + 1].into_iter().filter_map(char::from_u32) {
                let inside_another = FORMAT_CHARS.iter().any(|&(l, h)| (l..=h).contains(&outside));
                assert_eq!(is_format_char(outside), inside_another, "{:04X}", outside as u32);
            }
        }
    }

    #[test]
    fn name_keys() {
        for (a, b, same) in [
            ("Dup Name", "dup name", true),
            ("Dup Name", "DUP NAME", true),
            ("Straße", "STRASSE", true),
            ("STRAẞE", "strasse", true),
            ("École", "éCOLE", true),
            ("ΟΔΟΣ", "οδοσ", true),
            ("İstanbul", "i̇stanbul", true),
            ("Phone app", "Phone app 2", false),
            ("e\u{301}cole", "école", false),
        ] {
            assert_eq!(name_key(a) == name_key(b), same, "{a:?} vs {b:?}: {:?} {:?}", name_key(a), name_key(b));
        }
    }

    #[test]
    fn tokens_live_as_long_as_their_secret() {
        let t = |m| Utc.with_ymd_and_hms(2026, 1, 1, 10, m, 0).unwrap();
        let grace = Some(t(30));
        // (minted, current, previous_until, now) → stands?
        for (minted, current, until, now, stands) in [
            (0, 0, None, t(0), true),
            (3, 3, grace, t(59), true),
            (2, 3, grace, t(29), true),
            (2, 3, grace, t(30), false),
            (2, 3, None, t(0), false),
            (1, 3, grace, t(0), false),
            (4, 3, grace, t(0), false),
        ] {
            assert_eq!(minted_by_live_secret(minted, current, until, now), stands, "{minted} {current} {until:?} {now}");
        }
    }

    #[test]
    fn windows() {
        let t = |h| Utc.with_ymd_and_hms(2026, 1, 1, h, 0, 0).unwrap();
        let w = ValidityWindow::new(Some(t(10)), Some(t(12))).unwrap();
        for (now, pos) in [
            (t(9), WindowPosition::Before),
            (t(10), WindowPosition::Inside),
            (t(11), WindowPosition::Inside),
            (t(12), WindowPosition::After),
        ] {
            assert_eq!(w.position(now), pos);
        }
        assert_eq!(ValidityWindow::default().position(t(1)), WindowPosition::Inside);
        assert!(ValidityWindow::new(Some(t(12)), Some(t(12))).is_none());
    }
}
