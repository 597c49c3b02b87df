//! What changed in a credential's effective access when its owner's roles or practices changed: the typed
//! difference between [`effective_access`] before and after, which the server records as a notice for the
//! key's owner (and its administrators) in the transaction of the change. Pure: the facts come in, the diff
//! goes out; the words are the server's.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::scope::{Interaction, Scope, ScopeSet};
use crate::{effective_access, Access, CredentialFacts, OwnerFacts, PatientId, PatientScope, PracticeId, Refusal};

/// What an administrator changed about the owner.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessChangeCause {
    Roles,
    Practices,
}

impl AccessChangeCause {
    /// Stored: these strings never change.
    pub fn as_str(self) -> &'static str {
        match self {
            AccessChangeCause::Roles => "roles",
            AccessChangeCause::Practices => "practices",
        }
    }

    pub fn parse(s: &str) -> Option<AccessChangeCause> {
        [AccessChangeCause::Roles, AccessChangeCause::Practices].into_iter().find(|c| c.as_str() == s)
    }
}

/// How one credential's effective access differs after a change of its owner. Every list is sorted and
/// without repeats; an empty diff is never made (see [`access_diff`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessDiff {
    /// Practices whose patients the credential reached as a whole (a developer key, a staff app's grant)
    /// and now does not, or now does.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub practices_lost: Vec<PracticeId>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub practices_gained: Vec<PracticeId>,
    /// Patients it reached by name (a provider key's chosen patients, a patient's own record, the patient
    /// of an app's grant) and no longer does, or now does again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub patients_lost: Vec<PatientId>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub patients_gained: Vec<PatientId>,
    /// What it may no longer do (e.g. `system/*.cud` when a developer's owner lost the clinical role that
    /// lets the key write), and what it may do now that it could not. Compared only while it reaches
    /// something both before and after: otherwise `reaches_nothing` or `reaches_again` says it all.
    #[serde(default, skip_serializing_if = "Vec::is_empty", with = "scope_text")]
    pub scopes_lost: Vec<Scope>,
    #[serde(default, skip_serializing_if = "Vec::is_empty", with = "scope_text")]
    pub scopes_gained: Vec<Scope>,
    /// It reached someone before and reaches no one now.
    #[serde(default)]
    pub reaches_nothing: bool,
    /// It reached no one before and reaches someone now.
    #[serde(default)]
    pub reaches_again: bool,
    /// Why it is refused outright now, when it is (e.g. its owner no longer holds the role it needs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<Refusal>,
}

impl AccessDiff {
    /// Lost something: reach, patients, practices or permissions.
    pub fn loses(&self) -> bool {
        self.reaches_nothing || !self.practices_lost.is_empty() || !self.patients_lost.is_empty() || !self.scopes_lost.is_empty()
    }
}

/// The difference the owner's change makes to one credential at `now`, or `None` when it makes none. A
/// credential that reaches nothing either way (deleted, switched off, outside its window) never changes.
pub fn access_change(cred: &CredentialFacts, before: &OwnerFacts, after: &OwnerFacts, now: DateTime<Utc>) -> Option<AccessDiff> {
    access_diff(&effective_access(cred, before, now), &effective_access(cred, after, now))
}

/// What a credential reached, flattened: refused access and access to no one reach the same nothing.
#[derive(Default)]
struct Reach {
    practices: Vec<PracticeId>,
    patients: Vec<PatientId>,
    allowed: ScopeSet,
}

impl Reach {
    fn of(r: &Result<Access, Refusal>) -> Reach {
        let Ok(a) = r else { return Reach::default() };
        let (mut practices, mut patients) = match &a.patients {
            PatientScope::Practices(ps) => (ps.clone(), Vec::new()),
            PatientScope::Only(ps) => (Vec::new(), ps.clone()),
        };
        practices.sort();
        practices.dedup();
        patients.sort();
        patients.dedup();
        if practices.is_empty() && patients.is_empty() {
            return Reach::default();
        }
        Reach { practices, patients, allowed: a.allowed.clone() }
    }

    fn reaches(&self) -> bool {
        !self.practices.is_empty() || !self.patients.is_empty()
    }
}

/// The difference between two answers of [`effective_access`] for one credential; `None` when there is none.
pub fn access_diff(before: &Result<Access, Refusal>, after: &Result<Access, Refusal>) -> Option<AccessDiff> {
    let (b, a) = (Reach::of(before), Reach::of(after));
    let minus = |x: &[PracticeId], y: &[PracticeId]| x.iter().filter(|p| !y.contains(p)).copied().collect::<Vec<_>>();
    let minus_patients = |x: &[PatientId], y: &[PatientId]| x.iter().filter(|p| !y.contains(p)).cloned().collect::<Vec<_>>();
    let both = b.reaches() && a.reaches();
    let diff = AccessDiff {
        practices_lost: minus(&b.practices, &a.practices),
        practices_gained: minus(&a.practices, &b.practices),
        patients_lost: minus_patients(&b.patients, &a.patients),
        patients_gained: minus_patients(&a.patients, &b.patients),
        scopes_lost: if both { uncovered(&b.allowed, &a.allowed) } else { Vec::new() },
        scopes_gained: if both { uncovered(&a.allowed, &b.allowed) } else { Vec::new() },
        reaches_nothing: b.reaches() && !a.reaches(),
        reaches_again: !b.reaches() && a.reaches(),
        refusal: None,
    };
    if diff == AccessDiff::default() {
        return None;
    }
    let refusal = if diff.reaches_nothing { after.as_ref().err().copied() } else { None };
    Some(AccessDiff { refusal, ..diff })
}

const INTERACTIONS: [Interaction; 5] =
    [Interaction::Create, Interaction::Read, Interaction::Update, Interaction::Delete, Interaction::Search];

/// The part of each scope of `from` that no scope of `by` covers, one interaction at a time: `system/*.cruds`
/// less `system/*.rs` is `system/*.cud`.
fn uncovered(from: &ScopeSet, by: &ScopeSet) -> Vec<Scope> {
    let mut out: Vec<Scope> = Vec::new();
    for s in &from.0 {
        let narrow = |i: &[Interaction]| {
            let n = Scope::new(s.context, s.resource_type.as_deref(), i);
            match s.category() {
                Some(c) => n.with_category(c.clone()).unwrap_or(n),
                None => n,
            }
        };
        let lost: Vec<Interaction> = INTERACTIONS
            .into_iter()
            .filter(|i| s.permits(*i))
            .filter(|i| !by.0.iter().any(|t| t.covers(&narrow(&[*i]))))
            .collect();
        if !lost.is_empty() {
            let part = narrow(&lost);
            if !out.contains(&part) {
                out.push(part);
            }
        }
    }
    out
}

/// Scopes as their SMART text on the wire and in storage (`system/*.cud`).
mod scope_text {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::scope::Scope;

    pub fn serialize<S: Serializer>(scopes: &[Scope], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(scopes.iter().map(Scope::to_string))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Scope>, D::Error> {
        Vec::<String>::deserialize(d)?.iter().map(|t| Scope::parse(t).map_err(serde::de::Error::custom)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AppFacts, CredentialKind, Role, ValidityWindow};
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 3, 12, 0, 0).unwrap()
    }

    fn cred(kind: CredentialKind, patients: &[(&str, &[i64])]) -> CredentialFacts {
        CredentialFacts {
            kind,
            active: true,
            deleted: false,
            window: ValidityWindow::default(),
            patients: patients
                .iter()
                .map(|(p, ps)| (PatientId((*p).into()), ps.iter().map(|&i| PracticeId(i)).collect()))
                .collect(),
            app: None,
        }
    }

    fn owner(roles: &[Role], practices: &[i64]) -> OwnerFacts {
        OwnerFacts {
            roles: roles.to_vec(),
            practices: practices.iter().map(|&p| PracticeId(p)).collect(),
            patient: Some(PatientId("me".into())),
        }
    }

    fn practices(ps: &[i64]) -> Vec<PracticeId> {
        ps.iter().map(|&p| PracticeId(p)).collect()
    }

    fn patients(ps: &[&str]) -> Vec<PatientId> {
        ps.iter().map(|&p| PatientId(p.into())).collect()
    }

    fn scopes(s: &str) -> Vec<Scope> {
        ScopeSet::parse(s).unwrap().0
    }

    /// (what, credential, owner before, owner after, expected diff)
    type Case = (&'static str, CredentialFacts, OwnerFacts, OwnerFacts, Option<AccessDiff>);

    #[test]
    fn table() {
        use CredentialKind::{ConnectedApp, Developer, PatientApp, Provider};
        use Role::{Developer as Dev, Nurse, Patient, Provider as Prov};
        let ward = || cred(Provider, &[("a", &[1]), ("b", &[1, 2]), ("c", &[2])]);
        let staff_grant = |patient: Option<(&str, &[i64])>| CredentialFacts {
            app: Some(AppFacts {
                active: true,
                approved: practices(&[1, 2]),
                scope: ScopeSet::parse("user/Observation.rs").unwrap(),
                practice: None,
            }),
            ..cred(ConnectedApp, patient.as_slice())
        };
        let cases: Vec<Case> = vec![
            ("developer, nothing changed", cred(Developer, &[]), owner(&[Dev], &[1]), owner(&[Dev], &[1]), None),
            (
                "developer, an unrelated role added",
                cred(Developer, &[]),
                owner(&[Dev], &[1]),
                owner(&[Dev, Role::Administrator], &[1]),
                None,
            ),
            (
                "developer leaves practice 2",
                cred(Developer, &[]),
                owner(&[Dev], &[1, 2]),
                owner(&[Dev], &[1]),
                Some(AccessDiff { practices_lost: practices(&[2]), ..Default::default() }),
            ),
            (
                "developer moves from 1 to 2",
                cred(Developer, &[]),
                owner(&[Dev], &[1]),
                owner(&[Dev], &[2]),
                Some(AccessDiff { practices_lost: practices(&[1]), practices_gained: practices(&[2]), ..Default::default() }),
            ),
            (
                "developer leaves every practice",
                cred(Developer, &[]),
                owner(&[Dev], &[1]),
                owner(&[Dev], &[]),
                Some(AccessDiff { practices_lost: practices(&[1]), reaches_nothing: true, ..Default::default() }),
            ),
            (
                "developer joins a first practice",
                cred(Developer, &[]),
                owner(&[Dev], &[]),
                owner(&[Dev], &[3]),
                Some(AccessDiff { practices_gained: practices(&[3]), reaches_again: true, ..Default::default() }),
            ),
            (
                "developer loses the nurse role: the key no longer writes",
                cred(Developer, &[]),
                owner(&[Dev, Nurse], &[1]),
                owner(&[Dev], &[1]),
                Some(AccessDiff { scopes_lost: scopes("system/*.cud"), ..Default::default() }),
            ),
            (
                "developer gains the provider role: the key writes",
                cred(Developer, &[]),
                owner(&[Dev], &[1]),
                owner(&[Dev, Prov], &[1]),
                Some(AccessDiff { scopes_gained: scopes("system/*.cud"), ..Default::default() }),
            ),
            (
                "developer loses the developer role",
                cred(Developer, &[]),
                owner(&[Dev, Nurse], &[1]),
                owner(&[Nurse], &[1]),
                Some(AccessDiff {
                    practices_lost: practices(&[1]),
                    reaches_nothing: true,
                    refusal: Some(Refusal::OwnerLacksRole(Dev)),
                    ..Default::default()
                }),
            ),
            (
                "provider leaves practice 1: b stays, being of practice 2 too",
                ward(),
                owner(&[Prov], &[1, 2]),
                owner(&[Prov], &[2]),
                Some(AccessDiff { patients_lost: patients(&["a"]), ..Default::default() }),
            ),
            (
                "provider moves from 2 to 1",
                ward(),
                owner(&[Prov], &[2]),
                owner(&[Prov], &[1]),
                Some(AccessDiff { patients_lost: patients(&["c"]), patients_gained: patients(&["a"]), ..Default::default() }),
            ),
            (
                "provider leaves both practices",
                ward(),
                owner(&[Prov], &[1, 2]),
                owner(&[Prov], &[]),
                Some(AccessDiff { patients_lost: patients(&["a", "b", "c"]), reaches_nothing: true, ..Default::default() }),
            ),
            (
                "provider joins a practice none of the key's patients belong to",
                ward(),
                owner(&[Prov], &[1]),
                owner(&[Prov], &[1, 3]),
                None,
            ),
            (
                "provider loses the provider role",
                ward(),
                owner(&[Prov], &[1]),
                owner(&[Nurse], &[1]),
                Some(AccessDiff {
                    patients_lost: patients(&["a", "b"]),
                    reaches_nothing: true,
                    refusal: Some(Refusal::OwnerLacksRole(Prov)),
                    ..Default::default()
                }),
            ),
            (
                "provider gets the provider role back",
                ward(),
                owner(&[Nurse], &[1]),
                owner(&[Nurse, Prov], &[1]),
                Some(AccessDiff { patients_gained: patients(&["a", "b"]), reaches_again: true, ..Default::default() }),
            ),
            (
                "a provider key that reached no one still reaches no one",
                cred(Provider, &[("c", &[2])]),
                owner(&[Prov], &[1]),
                owner(&[Nurse], &[1, 3]),
                None,
            ),
            (
                "a switched-off key never changes",
                CredentialFacts { active: false, ..ward() },
                owner(&[Prov], &[1, 2]),
                owner(&[], &[]),
                None,
            ),
            (
                "a deleted key never changes",
                CredentialFacts { deleted: true, ..cred(Developer, &[]) },
                owner(&[Dev], &[1]),
                owner(&[Dev], &[2]),
                None,
            ),
            (
                "a patient's app when the patient role goes",
                cred(PatientApp, &[]),
                owner(&[Patient], &[]),
                owner(&[], &[]),
                Some(AccessDiff {
                    patients_lost: patients(&["me"]),
                    reaches_nothing: true,
                    refusal: Some(Refusal::OwnerLacksRole(Patient)),
                    ..Default::default()
                }),
            ),
            ("a patient's app, practices changed", cred(PatientApp, &[]), owner(&[Patient], &[]), owner(&[Patient], &[1]), None),
            (
                "a staff grant without a patient follows the practices",
                staff_grant(None),
                owner(&[Nurse], &[1, 2, 3]),
                owner(&[Nurse], &[2, 3]),
                Some(AccessDiff { practices_lost: practices(&[1]), ..Default::default() }),
            ),
            (
                "a staff grant for one patient, practice left",
                staff_grant(Some(("a", &[1]))),
                owner(&[Nurse], &[1]),
                owner(&[Nurse], &[2]),
                Some(AccessDiff {
                    patients_lost: patients(&["a"]),
                    reaches_nothing: true,
                    refusal: Some(Refusal::ConsentingUserLacksAccess),
                    ..Default::default()
                }),
            ),
        ];
        for (what, c, before, after, expected) in cases {
            assert_eq!(access_change(&c, &before, &after, now()), expected, "{what}");
        }
    }

    #[test]
    fn uncovered_keeps_types_and_categories() {
        let set = |s: &str| ScopeSet::parse(s).unwrap();
        let text = |v: Vec<Scope>| v.iter().map(Scope::to_string).collect::<Vec<_>>().join(" ");
        let cases = [
            ("system/*.cruds", "system/*.rs", "system/*.cud"),
            ("system/*.rs", "system/*.cruds", ""),
            ("patient/Observation.rs patient/Condition.rs", "patient/Observation.rs", "patient/Condition.rs"),
            ("patient/Observation.rs", "patient/*.r", "patient/Observation.s"),
            ("patient/Observation.rs?category=laboratory", "patient/Observation.rs", ""),
            ("patient/Observation.rs", "patient/Observation.rs?category=laboratory", "patient/Observation.rs"),
            ("user/*.rs", "patient/*.rs", "user/*.rs"),
        ];
        for (from, by, expected) in cases {
            assert_eq!(text(uncovered(&set(from), &set(by))), expected, "{from} less {by}");
        }
    }

    #[test]
    fn a_diff_survives_its_json() {
        let diff = AccessDiff {
            practices_lost: practices(&[1]),
            patients_gained: patients(&["a"]),
            scopes_lost: scopes("system/*.cud"),
            reaches_nothing: true,
            refusal: Some(Refusal::OwnerLacksRole(Role::Provider)),
            ..Default::default()
        };
        let json = serde_json::to_string(&diff).unwrap();
        assert_eq!(
            json,
            r#"{"practices_lost":[1],"patients_gained":["a"],"scopes_lost":["system/*.cud"],"reaches_nothing":true,"reaches_again":false,"refusal":{"owner_lacks_role":"provider"}}"#
        );
        assert_eq!(serde_json::from_str::<AccessDiff>(&json).unwrap(), diff);
        assert_eq!(serde_json::from_str::<AccessDiff>("{}").unwrap(), AccessDiff::default());
        assert!(serde_json::from_str::<AccessDiff>(r#"{"scopes_lost":["nonsense"]}"#).is_err());
    }
}
