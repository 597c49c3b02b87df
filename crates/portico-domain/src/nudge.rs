//! Nudges that keep access tidy (PRODUCT.md §4): a credential nobody has used for a long time, one about to
//! leave its validity window or already out of it, and a provider key that lists patients of a practice its
//! owner has left. Pure: the store's facts and `now` come in, plain findings go out; the words are the
//! server's, the thresholds are here.

use chrono::{DateTime, Duration, Utc};

use crate::credential::WindowPosition;
use crate::{CredentialFacts, CredentialKind, OwnerFacts, PracticeId};

/// An active credential unused (or never used) for this many days since it was created or last used.
pub const UNUSED_DAYS: i64 = 60;
/// An active credential whose valid-to date is at most this many days away.
pub const EXPIRY_WARNING_DAYS: i64 = 14;

/// The thresholds, adjustable per view (an administrator asks for "unused for 30/60/90 days").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NudgeRules {
    pub unused_days: i64,
    pub expiry_warning_days: i64,
}

impl Default for NudgeRules {
    fn default() -> NudgeRules {
        NudgeRules { unused_days: UNUSED_DAYS, expiry_warning_days: EXPIRY_WARNING_DAYS }
    }
}

/// What a nudge is about, with the numbers its words need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Nudge {
    /// Not used for `days` whole days (counted from creation when never used).
    Unused { days: i64 },
    /// Its window closes in `days_left` days (rounded up: "1 day" until the last moment).
    ExpiresSoon { days_left: i64 },
    /// Still switched on, but past its valid-to date: it reaches nothing; deactivate or extend it.
    Expired,
    /// A provider key listing patients of these practices, none of which its owner belongs to any longer:
    /// those patients are out of its reach (`effective_access` drops them), so the list is stale.
    OwnerLeftPractice { practices: Vec<PracticeId> },
}

impl Nudge {
    pub fn as_str(&self) -> &'static str {
        match self {
            Nudge::Unused { .. } => "unused",
            Nudge::ExpiresSoon { .. } => "expires_soon",
            Nudge::Expired => "expired",
            Nudge::OwnerLeftPractice { .. } => "owner_left_practice",
        }
    }
}

/// One credential as far as nudges go.
#[derive(Clone, Debug)]
pub struct NudgeFacts<'a> {
    pub credential: &'a CredentialFacts,
    pub owner: &'a OwnerFacts,
    pub created_at: DateTime<Utc>,
    pub last_used: Option<DateTime<Utc>>,
}

/// The nudges one credential deserves right now. A deleted or switched-off credential deserves none: it is
/// already tidy. Neither does one whose window has not opened yet.
pub fn nudges_for(f: &NudgeFacts<'_>, now: DateTime<Utc>, rules: &NudgeRules) -> Vec<Nudge> {
    let c = f.credential;
    if c.deleted || !c.active {
        return Vec::new();
    }
    match c.window.position(now) {
        WindowPosition::Before => return Vec::new(),
        WindowPosition::After => return vec![Nudge::Expired],
        WindowPosition::Inside => {}
    }
    let mut out = Vec::new();
    let since = f.last_used.map_or(f.created_at, |u| u.max(f.created_at));
    let idle = (now - since).num_days();
    if idle >= rules.unused_days {
        out.push(Nudge::Unused { days: idle });
    }
    if let Some(to) = c.window.to {
        let left = to - now;
        if left <= Duration::days(rules.expiry_warning_days) {
            // Rounded up: 36 hours left is "2 days", one minute left is "1 day".
            let days_left = (left.num_seconds() + 86_399) / 86_400;
            out.push(Nudge::ExpiresSoon { days_left: days_left.max(1) });
        }
    }
    if c.kind == CredentialKind::Provider {
        let mut left: Vec<PracticeId> = c
            .patients
            .iter()
            .filter(|(_, practices)| !practices.iter().any(|p| f.owner.practices.contains(p)))
            .flat_map(|(_, practices)| practices.iter().copied())
            .collect();
        left.sort();
        left.dedup();
        if !left.is_empty() {
            out.push(Nudge::OwnerLeftPractice { practices: left });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{PatientId, Role, ValidityWindow};
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap()
    }

    fn days(n: i64) -> Duration {
        Duration::days(n)
    }

    fn cred(kind: CredentialKind) -> CredentialFacts {
        CredentialFacts { kind, active: true, deleted: false, window: ValidityWindow::default(), patients: Vec::new(), app: None }
    }

    fn window(from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> ValidityWindow {
        ValidityWindow::new(from, to).unwrap()
    }

    /// (what, credential, created days ago, last used days ago, expected)
    type Case = (&'static str, CredentialFacts, i64, Option<i64>, Vec<Nudge>);

    #[test]
    fn table() {
        let p = |id: &str, practices: &[i64]| (PatientId(id.into()), practices.iter().map(|p| PracticeId(*p)).collect());
        let provider =
            |patients: Vec<(PatientId, Vec<PracticeId>)>| CredentialFacts { patients, ..cred(CredentialKind::Provider) };
        let owner = OwnerFacts { roles: vec![Role::Provider], practices: vec![PracticeId(1)], patient: None };
        let cases: Vec<Case> = vec![
            ("fresh", cred(CredentialKind::Developer), 3, None, vec![]),
            ("never used, 59 days", cred(CredentialKind::Developer), 59, None, vec![]),
            ("never used, 60 days", cred(CredentialKind::Developer), 60, None, vec![Nudge::Unused { days: 60 }]),
            ("used 61 days ago", cred(CredentialKind::PatientApp), 200, Some(61), vec![Nudge::Unused { days: 61 }]),
            ("used yesterday", cred(CredentialKind::PatientApp), 200, Some(1), vec![]),
            ("inactive", CredentialFacts { active: false, ..cred(CredentialKind::Developer) }, 400, None, vec![]),
            ("deleted", CredentialFacts { deleted: true, ..cred(CredentialKind::Developer) }, 400, None, vec![]),
            (
                "expires in 14 days",
                CredentialFacts { window: window(None, Some(now() + days(14))), ..cred(CredentialKind::Developer) },
                1,
                None,
                vec![Nudge::ExpiresSoon { days_left: 14 }],
            ),
            (
                "expires in 15 days",
                CredentialFacts { window: window(None, Some(now() + days(15))), ..cred(CredentialKind::Developer) },
                1,
                None,
                vec![],
            ),
            (
                "expires in 36 hours",
                CredentialFacts { window: window(None, Some(now() + Duration::hours(36))), ..cred(CredentialKind::Developer) },
                1,
                None,
                vec![Nudge::ExpiresSoon { days_left: 2 }],
            ),
            (
                "expires in a minute",
                CredentialFacts { window: window(None, Some(now() + Duration::minutes(1))), ..cred(CredentialKind::Developer) },
                1,
                None,
                vec![Nudge::ExpiresSoon { days_left: 1 }],
            ),
            (
                "unused and expiring",
                CredentialFacts { window: window(None, Some(now() + days(2))), ..cred(CredentialKind::Developer) },
                90,
                None,
                vec![Nudge::Unused { days: 90 }, Nudge::ExpiresSoon { days_left: 2 }],
            ),
            (
                "expired, still active",
                CredentialFacts { window: window(None, Some(now() - days(1))), ..cred(CredentialKind::Developer) },
                90,
                None,
                vec![Nudge::Expired],
            ),
            (
                "not yet valid",
                CredentialFacts { window: window(Some(now() + days(1)), None), ..cred(CredentialKind::Developer) },
                90,
                None,
                vec![],
            ),
            ("provider key, owner still there", provider(vec![p("a", &[1]), p("b", &[1, 2])]), 1, None, vec![]),
            (
                "provider key, owner left practice 2",
                provider(vec![p("a", &[1]), p("b", &[2]), p("c", &[3, 2])]),
                1,
                None,
                vec![Nudge::OwnerLeftPractice { practices: vec![PracticeId(2), PracticeId(3)] }],
            ),
        ];
        for (what, credential, created, used, expected) in cases {
            let facts = NudgeFacts {
                credential: &credential,
                owner: &owner,
                created_at: now() - days(created),
                last_used: used.map(|u| now() - days(u)),
            };
            assert_eq!(nudges_for(&facts, now(), &NudgeRules::default()), expected, "{what}");
        }
    }

    #[test]
    fn rules_move_the_threshold() {
        let c = cred(CredentialKind::Developer);
        let owner = OwnerFacts::default();
        let facts = NudgeFacts { credential: &c, owner: &owner, created_at: now() - days(45), last_used: None };
        let rules = |d| NudgeRules { unused_days: d, ..NudgeRules::default() };
        assert_eq!(nudges_for(&facts, now(), &rules(30)), vec![Nudge::Unused { days: 45 }]);
        assert_eq!(nudges_for(&facts, now(), &rules(60)), vec![]);
    }
}
