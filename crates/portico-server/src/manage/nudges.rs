//! Nudges that keep access tidy: the signed-in person's own (their credentials and connected apps, and the
//! access-change notices of `access_changes`) and an administrator's practice-wide view over staff keys. The
//! rules are `portico_domain::nudges_for`; this module gathers the facts and puts the findings into words.
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use portico_api as wire;
use portico_domain::{nudges_for, CredentialKind, Nudge, NudgeFacts, NudgeRules, PracticeId, UserId};
use portico_store::{CredentialRecord, ReadStore, UserRecord};

use crate::error::ApiFailure;

use super::*;

/// The nudges about the user's own credentials and grants, most pressing first.
pub fn my_nudges(store: &dyn ReadStore, user: &UserRecord, now: DateTime<Utc>) -> Result<Vec<wire::Nudge>> {
    let names = practice_names(store)?;
    let mut out = Vec::new();
    for c in store.credentials_of(user.id)?.iter().filter(|c| c.kind != CredentialKind::BackendApp) {
        for (nudge, last_used) in findings(store, c, user, now, &NudgeRules::default())? {
            out.push(to_wire(c, user, &nudge, last_used, &names));
        }
    }
    out.extend(my_access_changes(store, user, &names)?);
    out.sort_by_key(|n| urgency(&n.kind));
    Ok(out)
}

/// Staff keys of the administrator's practices unused for `unused_days`, expiring or expired, provider
/// keys listing patients of these practices whose owner is no longer a member, and credentials whose access
/// changed lately with their owner's roles or practices (`access_changes`).
pub fn practice_nudges(
    store: &dyn ReadStore,
    user: &UserRecord,
    unused_days: Option<i64>,
    now: DateTime<Utc>,
) -> Result<Vec<wire::Nudge>> {
    require_admin(user)?;
    let unused_days = unused_days.unwrap_or(portico_domain::UNUSED_DAYS);
    if !(1..=3650).contains(&unused_days) {
        return Err(ApiFailure::invalid("unused_days must be between 1 and 3650"));
    }
    let rules = NudgeRules { unused_days, ..NudgeRules::default() };
    let names = practice_names(store)?;
    let mut keys: Vec<CredentialRecord> = store.staff_credentials(&user.practices)?;
    for c in store.provider_credentials_listing(&user.practices)? {
        if !keys.iter().any(|k| k.id == c.id) {
            keys.push(c);
        }
    }
    let mut owners: BTreeMap<UserId, Option<UserRecord>> = BTreeMap::new();
    let mut out = Vec::new();
    for c in &keys {
        let owner = match owners.entry(c.owner) {
            std::collections::btree_map::Entry::Occupied(e) => e.get().clone(),
            std::collections::btree_map::Entry::Vacant(e) => e.insert(store.user(c.owner)?).clone(),
        };
        let Some(owner) = owner else { continue };
        let shares_practice = owner.practices.iter().any(|p| user.practices.contains(p));
        for (nudge, last_used) in findings(store, c, &owner, now, &rules)? {
            // Each administrator sees what concerns their practices, and nothing of another's.
            let concerns_us = match &nudge {
                Nudge::OwnerLeftPractice { practices } => practices.iter().any(|p| user.practices.contains(p)),
                _ => shares_practice,
            };
            if concerns_us {
                let nudge = match nudge {
                    Nudge::OwnerLeftPractice { practices } => Nudge::OwnerLeftPractice {
                        practices: practices.into_iter().filter(|p| user.practices.contains(p)).collect(),
                    },
                    other => other,
                };
                out.push(to_wire(c, &owner, &nudge, last_used, &names));
            }
        }
    }
    add_practice_access_changes(store, user, &mut out, &names, now)?;
    // The rule of `load_credential` for revoking: the owner shares one of the administrator's practices.
    let mut shares: BTreeMap<String, bool> = BTreeMap::new();
    for row in &mut out {
        if !shares.contains_key(&row.owner) {
            let owner = store.user_by_username(&row.owner)?;
            shares.insert(row.owner.clone(), owner.is_some_and(|o| o.practices.iter().any(|p| user.practices.contains(p))));
        }
        row.revocable = shares.get(&row.owner).copied();
    }
    out.sort_by(|a, b| urgency(&a.kind).cmp(&urgency(&b.kind)).then_with(|| a.owner.cmp(&b.owner)));
    Ok(out)
}

fn practice_names(store: &dyn ReadStore) -> Result<BTreeMap<PracticeId, String>> {
    Ok(store.practices()?.into_iter().collect())
}

fn findings(
    store: &dyn ReadStore,
    c: &CredentialRecord,
    owner: &UserRecord,
    now: DateTime<Utc>,
    rules: &NudgeRules,
) -> Result<Vec<(Nudge, Option<DateTime<Utc>>)>> {
    if !c.active || c.deleted_at.is_some() {
        return Ok(Vec::new());
    }
    let credential = store.credential_facts(c)?;
    let last_used = store.last_used(&c.id)?;
    let facts = NudgeFacts { credential: &credential, owner: &owner.facts(), created_at: c.created_at, last_used };
    Ok(nudges_for(&facts, now, rules).into_iter().map(|n| (n, last_used)).collect())
}

fn urgency(kind: &str) -> u8 {
    match kind {
        "expired" => 0,
        "access_changed" => 1,
        "owner_left_practice" => 2,
        "expires_soon" => 3,
        _ => 4,
    }
}

fn days(n: i64) -> String {
    if n == 1 {
        "1 day".to_owned()
    } else {
        format!("{n} days")
    }
}

fn to_wire(
    c: &CredentialRecord,
    owner: &UserRecord,
    nudge: &Nudge,
    last_used: Option<DateTime<Utc>>,
    names: &BTreeMap<PracticeId, String>,
) -> wire::Nudge {
    let date = |t: DateTime<Utc>| t.format("%-d %b %Y").to_string();
    let (detail, n) = match nudge {
        Nudge::Unused { days: d } if last_used.is_none() => {
            (format!("Never used since it was created {} ago", days(*d)), Some(*d))
        }
        Nudge::Unused { days: d } => (format!("Not used for {}", days(*d)), Some(*d)),
        Nudge::ExpiresSoon { days_left } => (
            format!("Expires in {}{}", days(*days_left), c.window.to.map(|t| format!(", on {}", date(t))).unwrap_or_default()),
            Some(*days_left),
        ),
        Nudge::Expired => (
            format!("Expired{} but still switched on", c.window.to.map(|t| format!(" on {}", date(t))).unwrap_or_default()),
            None,
        ),
        Nudge::OwnerLeftPractice { practices } => {
            let ps: Vec<String> =
                practices.iter().map(|p| names.get(p).cloned().unwrap_or_else(|| format!("practice {}", p.0))).collect();
            (
                format!("{} is no longer a member of {}: its patients there are out of reach", owner.display_name, ps.join(", ")),
                None,
            )
        }
    };
    wire::Nudge {
        credential_id: c.id.clone(),
        name: c.name.clone(),
        credential_kind: c.kind.as_str().to_owned(),
        kind: nudge.as_str().to_owned(),
        detail,
        days: n,
        last_used,
        valid_to: c.window.to,
        owner: owner.username.clone(),
        owner_name: owner.display_name.clone(),
        notice_id: None,
        changed_at: None,
        acknowledged_at: None,
        revocable: None,
    }
}
