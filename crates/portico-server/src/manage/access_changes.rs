//! Access-change notices: when an administrator changes a user's roles or practices, what that did to the
//! effective access of each of the user's credentials (`portico_domain::access_change`), recorded with an
//! audit entry in the transaction of the change; the owner's "Got it"; and the notices in words, for the
//! owner's nudges and an administrator's practice-wide view (`nudges`).
use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use portico_api as wire;
use portico_domain::{
    access_change, AccessChangeCause, AccessDiff, AuditEvent, AuditKind, CredentialFacts, CredentialKind, Interaction, PatientId,
    PracticeId, Refusal, Role, Scope,
};
use portico_store::{AccessChangeRecord, CredentialRecord, NewAccessChange, ReadStore, UserRecord, WriteStore};

use crate::error::ApiFailure;

use super::*;

/// How long an administrator's practice-wide view lists an access change.
pub const RECENT_DAYS: i64 = 30;

/// Sets `user`'s roles and records what that did to their credentials' access; returns the names of the
/// credentials whose access changed.
pub fn set_roles_noting_access(
    store: &mut dyn WriteStore,
    admin: &UserRecord,
    user: &UserRecord,
    roles: &[Role],
    now: DateTime<Utc>,
) -> Result<Vec<String>> {
    recording_access_changes(store, Some(admin), user, AccessChangeCause::Roles, now, |s| s.set_roles(user.id, roles))
}

/// Sets `user`'s practices and records what that did to their credentials' access.
pub fn set_practices_noting_access(
    store: &mut dyn WriteStore,
    admin: &UserRecord,
    user: &UserRecord,
    practices: &[PracticeId],
    now: DateTime<Utc>,
) -> Result<Vec<String>> {
    recording_access_changes(store, Some(admin), user, AccessChangeCause::Practices, now, |s| s.set_practices(user.id, practices))
}

/// An operator's change of roles from the command line (`portico users set-roles`): no administrator account
/// makes it; otherwise the same, with the audit entry the management API writes for it. Run it as one unit.
pub fn set_roles_as_operator(
    store: &mut dyn WriteStore,
    user: &UserRecord,
    roles: &[Role],
    now: DateTime<Utc>,
) -> Result<Vec<String>> {
    let changed = recording_access_changes(store, None, user, AccessChangeCause::Roles, now, |s| s.set_roles(user.id, roles))?;
    let mut e = AuditEvent::new(AuditKind::UserChanged, now);
    let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
    e.detail = Some(format!("user {}: roles set to [{}] (command line)", user.id.0, names.join(", ")));
    store.append_audit(&[e])?;
    Ok(changed)
}

/// Runs `change` (the store call that changes `user`'s roles or practices, inside the caller's unit) and,
/// for each of the user's credentials whose effective access it changed, records a notice for the owner and
/// an audit entry. A credential whose access is the same afterwards gets nothing.
fn recording_access_changes(
    store: &mut dyn WriteStore,
    admin: Option<&UserRecord>,
    user: &UserRecord,
    cause: AccessChangeCause,
    now: DateTime<Utc>,
    change: impl FnOnce(&mut dyn WriteStore) -> portico_store::Result<()>,
) -> Result<Vec<String>> {
    // What the credentials themselves are (their patients' practices, their apps' approvals) does not change
    // with their owner: read once, compared against the owner before and after.
    let credentials = store
        .credentials_of(user.id)?
        .into_iter()
        .map(|c| Ok((store.credential_facts(&c)?, c)))
        .collect::<Result<Vec<(CredentialFacts, CredentialRecord)>>>()?;
    let before = user.facts();
    change(store)?;
    let after = store.user(user.id)?.ok_or_else(ApiFailure::internal)?.facts();
    let mut practices: Vec<PracticeId> = before.practices.iter().chain(&after.practices).copied().collect();
    practices.sort();
    practices.dedup();
    let mut changed = Vec::new();
    for (facts, c) in credentials {
        let Some(diff) = access_change(&facts, &before, &after, now) else { continue };
        let id = store.record_access_change(
            &NewAccessChange {
                credential_id: &c.id,
                owner: user.id,
                changed_by: admin.map(|a| a.id),
                cause,
                diff: &diff,
                practices: &practices,
            },
            now,
        )?;
        let mut e = AuditEvent::new(AuditKind::AccessChanged, now);
        e.actor = admin.map(|a| a.id);
        e.credential_id = Some(c.id.clone());
        e.client_id = Some(c.client_id.clone());
        e.detail = Some(format!("notice {id}: owner's {} changed; {}", cause.as_str(), summary(&diff)));
        store.append_audit(&[e])?;
        changed.push(c.name);
    }
    Ok(changed)
}

/// "Got it": the owner acknowledges one of their notices. Someone else's notice, or none, is not found;
/// acknowledging twice answers the first acknowledgement.
pub fn acknowledge_access_change(
    store: &mut dyn WriteStore,
    user: &UserRecord,
    id: i64,
    now: DateTime<Utc>,
) -> Result<wire::AccessChangeAcknowledged> {
    let notice =
        store.access_change(id)?.filter(|n| n.owner == user.id).ok_or_else(|| ApiFailure::not_found("no such notice"))?;
    let acknowledged_at = match notice.acknowledged_at {
        Some(at) => at,
        None => {
            store.acknowledge_access_change(id, now)?;
            let mut e = AuditEvent::new(AuditKind::AccessChangeAcknowledged, now);
            e.actor = Some(user.id);
            e.credential_id = Some(notice.credential_id.clone());
            e.detail = Some(format!("notice {id}"));
            store.append_audit(&[e])?;
            // As stored (to the millisecond), so a second "Got it" answers the very same instant.
            store.access_change(id)?.and_then(|n| n.acknowledged_at).ok_or_else(ApiFailure::internal)?
        }
    };
    Ok(wire::AccessChangeAcknowledged { notice_id: id, credential_id: notice.credential_id, acknowledged_at })
}

/// The user's notices not yet acknowledged, about credentials still live and switched on (a key switched off
/// or deleted is tidy already), in words, newest first.
pub fn my_access_changes(
    store: &dyn ReadStore,
    user: &UserRecord,
    names: &BTreeMap<PracticeId, String>,
) -> Result<Vec<wire::Nudge>> {
    let mut out = Vec::new();
    for n in store.unacknowledged_access_changes(user.id)? {
        let Some(c) = store.credential(&n.credential_id)?.filter(|c| c.active && c.deleted_at.is_none()) else { continue };
        let detail = sentence(store, &n, &Voice::Owner, names)?;
        out.push(to_wire(store, &c, user, &n, detail)?);
    }
    Ok(out)
}

/// An administrator's practice-wide view: the last [`RECENT_DAYS`] of access changes concerning their
/// practices, of staff keys (developer and provider keys, as the rest of the view) still live and switched
/// on. A provider key already listed because its owner left a practice gets the date of that change in its
/// row instead of a second row.
pub fn add_practice_access_changes(
    store: &dyn ReadStore,
    admin: &UserRecord,
    rows: &mut Vec<wire::Nudge>,
    names: &BTreeMap<PracticeId, String>,
    now: DateTime<Utc>,
) -> Result<()> {
    let mut owners: BTreeMap<portico_domain::UserId, Option<UserRecord>> = BTreeMap::new();
    for n in store.access_changes_for_practices(&admin.practices, now - Duration::days(RECENT_DAYS))? {
        let staff_key = |c: &CredentialRecord| matches!(c.kind, CredentialKind::Developer | CredentialKind::Provider);
        let Some(c) = store.credential(&n.credential_id)?.filter(|c| staff_key(c) && c.active && c.deleted_at.is_none()) else {
            continue;
        };
        let owner = match owners.entry(n.owner) {
            std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::btree_map::Entry::Vacant(e) => e.insert(store.user(n.owner)?),
        };
        let Some(owner) = owner.as_ref() else { continue };
        if n.cause == AccessChangeCause::Practices {
            if let Some(row) = rows.iter_mut().find(|r| r.credential_id == c.id && r.kind == "owner_left_practice") {
                // Newest first: the row gets the latest change only.
                if row.changed_at.is_none() {
                    row.detail =
                        format!("{} (since {} changed on {})", row.detail, whose(&Voice::Admin(owner), n.cause), date(n.at));
                    row.changed_at = Some(n.at);
                }
                continue;
            }
        }
        let detail = sentence(store, &n, &Voice::Admin(owner), names)?;
        let mut row = to_wire(store, &c, owner, &n, detail)?;
        row.acknowledged_at = n.acknowledged_at;
        rows.push(row);
    }
    Ok(())
}

fn to_wire(
    store: &dyn ReadStore,
    c: &CredentialRecord,
    owner: &UserRecord,
    n: &AccessChangeRecord,
    detail: String,
) -> Result<wire::Nudge> {
    Ok(wire::Nudge {
        credential_id: c.id.clone(),
        name: c.name.clone(),
        credential_kind: c.kind.as_str().to_owned(),
        kind: "access_changed".to_owned(),
        detail,
        days: None,
        last_used: store.last_used(&c.id)?,
        valid_to: c.window.to,
        owner: owner.username.clone(),
        owner_name: owner.display_name.clone(),
        notice_id: Some(n.id),
        changed_at: Some(n.at),
        acknowledged_at: None,
        revocable: None,
    })
}

/// Who reads the words: the owner ("your practices"), or an administrator ("Pat Doe's practices"), who is
/// told how many patients, never which.
enum Voice<'a> {
    Owner,
    Admin(&'a UserRecord),
}

fn whose(voice: &Voice<'_>, cause: AccessChangeCause) -> String {
    let what = cause.as_str();
    match voice {
        Voice::Owner => format!("your {what}"),
        Voice::Admin(owner) => format!("{}'s {what}", owner.display_name),
    }
}

fn date(t: DateTime<Utc>) -> String {
    t.format("%-d %b %Y").to_string()
}

/// "No longer reaches Riverside Clinic since your practices changed on 3 Dec 2026"; "Can no longer create,
/// update or delete records since your roles changed on 3 Dec 2026"; "Reaches no one any more since your
/// roles changed on 3 Dec 2026: it needs the provider role".
fn sentence(
    store: &dyn ReadStore,
    n: &AccessChangeRecord,
    voice: &Voice<'_>,
    names: &BTreeMap<PracticeId, String>,
) -> Result<String> {
    let d = &n.diff;
    let lost = reach_list(store, &d.practices_lost, &d.patients_lost, voice, names)?;
    let gained = reach_list(store, &d.practices_gained, &d.patients_gained, voice, names)?;
    let mut clauses: Vec<String> = Vec::new();
    let mut tail = String::new();
    if d.reaches_nothing {
        match (&d.refusal, lost) {
            (Some(Refusal::OwnerLacksRole(role)), _) => {
                clauses.push("reaches no one any more".into());
                tail = format!(": it needs the {} role", role.as_str().replace('_', " "));
            }
            (_, Some(lost)) => {
                clauses.push(format!("no longer reaches {lost}"));
                tail = ": it reaches no one now".into();
            }
            (_, None) => clauses.push("reaches no one any more".into()),
        }
    } else {
        if let Some(lost) = lost {
            clauses.push(format!("no longer reaches {lost}"));
        }
        clauses.extend(d.scopes_lost.iter().map(|s| format!("can no longer {}", permission(s, "or"))));
        if let Some(gained) = gained {
            clauses.push(if d.reaches_again { format!("now reaches {gained}") } else { format!("now also reaches {gained}") });
        }
        clauses.extend(d.scopes_gained.iter().map(|s| format!("can now also {}", permission(s, "and"))));
    }
    let mut text = clauses.join("; ");
    if text.is_empty() {
        text = "its access changed".into();
    }
    let mut chars = text.chars();
    let first: String = chars.next().map(|c| c.to_uppercase().collect()).unwrap_or_default();
    Ok(format!("{first}{} since {} changed on {}{tail}", chars.as_str(), whose(voice, n.cause), date(n.at)))
}

/// "Riverside Clinic", "Reyna Ziemann and Alexis Toy", "Reyna Ziemann, Alexis Toy and 3 other patients"
/// (administrators: "2 of its patients"); `None` when there is nothing to name.
fn reach_list(
    store: &dyn ReadStore,
    practices: &[PracticeId],
    patients: &[PatientId],
    voice: &Voice<'_>,
    names: &BTreeMap<PracticeId, String>,
) -> Result<Option<String>> {
    let mut items: Vec<String> =
        practices.iter().map(|p| names.get(p).cloned().unwrap_or_else(|| format!("practice {}", p.0))).collect();
    match voice {
        Voice::Owner => {
            const NAMED: usize = 3;
            let shown = if patients.len() > NAMED { NAMED - 1 } else { patients.len() };
            for p in &patients[..shown] {
                items.push(patient_name(store, p)?);
            }
            match patients.len() - shown {
                0 => {}
                1 => items.push("1 other patient".into()),
                more => items.push(format!("{more} other patients")),
            }
        }
        Voice::Admin(_) => match patients.len() {
            0 => {}
            1 => items.push("1 of its patients".into()),
            more => items.push(format!("{more} of its patients")),
        },
    }
    Ok(match items.len() {
        0 => None,
        1 => items.pop(),
        _ => {
            let last = items.pop().unwrap_or_default();
            Some(format!("{} and {last}", items.join(", ")))
        }
    })
}

/// The patient's name as their record has it (the owner chose them), or their id.
fn patient_name(store: &dyn ReadStore, p: &PatientId) -> Result<String> {
    let name = store
        .read_resource("Patient", p.as_str())?
        .filter(|r| !r.deleted)
        .and_then(|r| serde_json::from_str::<serde_json::Value>(&r.json).ok())
        .map(|v| portico_store::display_name(&v))
        .filter(|n| !n.is_empty());
    Ok(name.unwrap_or_else(|| p.0.clone()))
}

/// "create, update or delete records", "read Observation records".
fn permission(s: &Scope, conjunction: &str) -> String {
    let verbs: Vec<&str> = [
        (Interaction::Create, "create"),
        (Interaction::Read, "read"),
        (Interaction::Update, "update"),
        (Interaction::Delete, "delete"),
        (Interaction::Search, "search"),
    ]
    .into_iter()
    .filter(|(i, _)| s.permits(*i))
    .map(|(_, v)| v)
    .collect();
    let verbs = match verbs.split_last() {
        Some((last, [])) => (*last).to_owned(),
        Some((last, rest)) => format!("{} {conjunction} {last}", rest.join(", ")),
        None => "use".to_owned(),
    };
    let what = match (&s.resource_type, s.category()) {
        (None, _) => "records".to_owned(),
        (Some(t), None) => format!("{t} records"),
        (Some(t), Some(c)) => format!("{t} records of category {}", c.code),
    };
    format!("{verbs} {what}")
}

/// The audit entry's account of a diff: counts and scopes, never a patient's name.
fn summary(d: &AccessDiff) -> String {
    let ids = |ps: &[PracticeId]| ps.iter().map(|p| p.0.to_string()).collect::<Vec<_>>().join(", ");
    let scopes = |ss: &[Scope]| ss.iter().map(Scope::to_string).collect::<Vec<_>>().join(" ");
    let mut parts = Vec::new();
    if !d.practices_lost.is_empty() {
        parts.push(format!("practices lost [{}]", ids(&d.practices_lost)));
    }
    if !d.practices_gained.is_empty() {
        parts.push(format!("practices gained [{}]", ids(&d.practices_gained)));
    }
    if !d.patients_lost.is_empty() {
        parts.push(format!("{} patients out of reach", d.patients_lost.len()));
    }
    if !d.patients_gained.is_empty() {
        parts.push(format!("{} patients in reach", d.patients_gained.len()));
    }
    if !d.scopes_lost.is_empty() {
        parts.push(format!("scopes lost {}", scopes(&d.scopes_lost)));
    }
    if !d.scopes_gained.is_empty() {
        parts.push(format!("scopes gained {}", scopes(&d.scopes_gained)));
    }
    if d.reaches_nothing {
        parts.push(match d.refusal {
            Some(r) => format!("reaches nothing ({r})"),
            None => "reaches nothing".to_owned(),
        });
    }
    if d.reaches_again {
        parts.push("reaches again".to_owned());
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use portico_domain::{Role, ScopeSet, UserId};
    use portico_store::Store;

    fn notice(cause: AccessChangeCause, diff: AccessDiff) -> AccessChangeRecord {
        AccessChangeRecord {
            id: 1,
            credential_id: "k".into(),
            owner: UserId(1),
            changed_by: None,
            cause,
            at: Utc.with_ymd_and_hms(2026, 12, 3, 9, 0, 0).unwrap(),
            diff,
            acknowledged_at: None,
        }
    }

    /// (diff, cause, the owner's words, an administrator's words)
    #[test]
    fn words() {
        let store = Store::open_in_memory().unwrap();
        let names: BTreeMap<PracticeId, String> =
            [(PracticeId(1), "Riverside Clinic".to_owned()), (PracticeId(2), "Northside".to_owned())].into();
        let admin_view = UserRecord {
            id: UserId(1),
            username: "pat".into(),
            display_name: "Pat Doe".into(),
            password_hash: String::new(),
            patient: None,
            roles: vec![],
            practices: vec![],
            created_at: Utc::now(),
            last_sign_in_at: None,
        };
        let ps = |ids: &[&str]| ids.iter().map(|p| PatientId((*p).into())).collect::<Vec<_>>();
        let scopes = |s: &str| ScopeSet::parse(s).unwrap().0;
        use AccessChangeCause::{Practices, Roles};
        let cases: Vec<(AccessDiff, AccessChangeCause, &str, &str)> = vec![
            (
                AccessDiff { practices_lost: vec![PracticeId(1)], ..Default::default() },
                Practices,
                "No longer reaches Riverside Clinic since your practices changed on 3 Dec 2026",
                "No longer reaches Riverside Clinic since Pat Doe's practices changed on 3 Dec 2026",
            ),
            (
                AccessDiff { practices_lost: vec![PracticeId(1)], practices_gained: vec![PracticeId(2)], ..Default::default() },
                Practices,
                "No longer reaches Riverside Clinic; now also reaches Northside since your practices changed on 3 Dec 2026",
                "No longer reaches Riverside Clinic; now also reaches Northside since Pat Doe's practices changed on 3 Dec 2026",
            ),
            (
                AccessDiff { patients_lost: ps(&["a", "b"]), ..Default::default() },
                Practices,
                "No longer reaches a and b since your practices changed on 3 Dec 2026",
                "No longer reaches 2 of its patients since Pat Doe's practices changed on 3 Dec 2026",
            ),
            (
                AccessDiff { patients_lost: ps(&["a", "b", "c", "d"]), ..Default::default() },
                Practices,
                "No longer reaches a, b and 2 other patients since your practices changed on 3 Dec 2026",
                "No longer reaches 4 of its patients since Pat Doe's practices changed on 3 Dec 2026",
            ),
            (
                AccessDiff { scopes_lost: scopes("system/*.cud"), ..Default::default() },
                Roles,
                "Can no longer create, update or delete records since your roles changed on 3 Dec 2026",
                "Can no longer create, update or delete records since Pat Doe's roles changed on 3 Dec 2026",
            ),
            (
                AccessDiff { scopes_gained: scopes("system/Observation.cud"), ..Default::default() },
                Roles,
                "Can now also create, update and delete Observation records since your roles changed on 3 Dec 2026",
                "Can now also create, update and delete Observation records since Pat Doe's roles changed on 3 Dec 2026",
            ),
            (
                AccessDiff {
                    patients_lost: ps(&["a"]),
                    reaches_nothing: true,
                    refusal: Some(Refusal::OwnerLacksRole(Role::Provider)),
                    ..Default::default()
                },
                Roles,
                "Reaches no one any more since your roles changed on 3 Dec 2026: it needs the provider role",
                "Reaches no one any more since Pat Doe's roles changed on 3 Dec 2026: it needs the provider role",
            ),
            (
                AccessDiff { practices_lost: vec![PracticeId(2)], reaches_nothing: true, ..Default::default() },
                Practices,
                "No longer reaches Northside since your practices changed on 3 Dec 2026: it reaches no one now",
                "No longer reaches Northside since Pat Doe's practices changed on 3 Dec 2026: it reaches no one now",
            ),
            (
                AccessDiff { patients_gained: ps(&["a"]), reaches_again: true, ..Default::default() },
                Roles,
                "Now reaches a since your roles changed on 3 Dec 2026",
                "Now reaches 1 of its patients since Pat Doe's roles changed on 3 Dec 2026",
            ),
        ];
        for (diff, cause, owner, admin) in cases {
            let n = notice(cause, diff);
            assert_eq!(sentence(&store, &n, &Voice::Owner, &names).unwrap(), owner);
            assert_eq!(sentence(&store, &n, &Voice::Admin(&admin_view), &names).unwrap(), admin);
        }
    }
}
