//! Remote mode when the network drops: lists answered from the desktop's own cache, actions that can wait
//! put in the outbox, and a sync that sends the outbox in order once the server is back and says what
//! changed there meanwhile. Embedded mode passes straight through (nothing to cache: the service is here).

use std::collections::HashSet;
use std::future::Future;

use chrono::Utc;
use portico_api as wire;
use portico_client::{Client, ClientError};
use portico_offline::{outcome_of, Account, Action, ListChange, OutboxEntry, Outcome};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::CommandError;
use crate::service::{Desktop, Session};

/// Lists whose changes on the server are worth telling the person about, with what their items are.
const WATCHED: [(&str, &str); 5] = [
    ("credentials", "App credential"),
    ("connected_apps", "Connected app"),
    ("staff_credentials", "Staff key"),
    ("approvals", "App approval"),
    ("apps", "Registered app"),
];

/// The id and name of every staff key seen on any page (the newest last), for the outbox's words.
const STAFF_KEY_NAMES: &str = "staff_key_names";
/// How many staff key names are kept: the most recently seen.
const MAX_REMEMBERED_NAMES: usize = 5_000;
/// Where remote mode keeps the patient summaries it has been shown, merged, and how many at most.
const PATIENT_NAMES: &str = "patient_names";
const PATIENT_NAMES_KEPT: usize = 2000;

fn id_of(v: &serde_json::Value) -> &str {
    v["id"].as_str().unwrap_or_default()
}

/// The cached patient summaries after the server answered `fresh` for the ids `asked`: the fresh ones first,
/// then the others kept (an asked id the server no longer shows is dropped), at most [`PATIENT_NAMES_KEPT`].
/// None when nothing changed: this is asked at every render of a list of keys, and then nothing is written.
fn merged_patient_names(
    kept: Vec<serde_json::Value>,
    fresh: Vec<serde_json::Value>,
    asked: &HashSet<&str>,
) -> Option<Vec<serde_json::Value>> {
    let known: Vec<&serde_json::Value> = kept.iter().filter(|v| asked.contains(id_of(v))).collect();
    if known.len() == fresh.len() && fresh.iter().all(|f| known.contains(&f)) {
        return None;
    }
    Some(fresh.into_iter().chain(kept.into_iter().filter(|v| !asked.contains(id_of(v)))).take(PATIENT_NAMES_KEPT).collect())
}

/// What the cache can say offline about the ids `asked`.
fn cached_patient_names(kept: Vec<serde_json::Value>, asked: &HashSet<&str>) -> Vec<wire::PatientSummary> {
    kept.into_iter().filter(|v| asked.contains(id_of(v))).filter_map(|v| serde_json::from_value(v).ok()).collect()
}

/// An outbox entry as the UI reads it: with the id of the card it acts on.
#[derive(Serialize)]
pub struct Entry {
    #[serde(flatten)]
    entry: OutboxEntry,
    target: String,
}

fn entry(e: OutboxEntry) -> Entry {
    let target = match &e.action {
        Action::DecideApproval { app_id, practice_id, .. } => format!("{app_id}:{practice_id}"),
        other => other.target().to_owned(),
    };
    Entry { entry: e, target }
}

#[derive(Serialize)]
pub struct ConnectionStatus {
    mode: &'static str,
    online: bool,
    offline_since: Option<String>,
    last_synced: Option<String>,
    waiting: Vec<Entry>,
    outcomes: Vec<Entry>,
    changes: Vec<String>,
}

/// What appeared and disappeared. Items that merely changed are not news: "last used" moves with every
/// read an app makes.
fn change_lines(what: &str, c: &ListChange) -> Vec<String> {
    let mut lines = Vec::new();
    lines.extend(c.added.iter().map(|n| format!("{what} “{n}” was added on the server")));
    lines.extend(c.removed.iter().map(|n| format!("{what} “{n}” was removed on the server")));
    lines
}

/// A change of the person's own roles or practices, made by an administrator meanwhile.
fn role_lines(before: &serde_json::Value, after: &serde_json::Value) -> Vec<String> {
    let list = |v: &serde_json::Value, k: &str| -> Vec<String> {
        v.get(k)
            .and_then(|r| r.as_array())
            .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect())
            .unwrap_or_default()
    };
    let (was, now) = (list(before, "roles"), list(after, "roles"));
    let mut lines = Vec::new();
    lines.extend(was.iter().filter(|r| !now.contains(r)).map(|r| format!("Your role “{r}” was removed on the server")));
    lines.extend(now.iter().filter(|r| !was.contains(r)).map(|r| format!("You were given the role “{r}” on the server")));
    lines
}

fn queued(action: &Action) -> CommandError {
    CommandError::new("queued", format!("Offline: {} will be sent when the server is back.", action.describe()))
}

impl Desktop {
    /// Keeps what the server answered for `key`, noting what changed there since it was last seen (unless
    /// the person changed it from here).
    pub fn remember(&self, who: &Account, key: &str, value: &serde_json::Value) {
        let Ok(mut o) = self.offline.lock() else { return };
        let own = o.own_changes.remove(key);
        let Some(store) = o.store.as_mut() else { return };
        if key == "me" {
            if let Ok(Some(before)) = store.get(who, key) {
                let lines = role_lines(&before.value, value);
                o.changes.extend(lines);
            }
        }
        let Some(store) = o.store.as_mut() else { return };
        match store.put(who, key, value, Utc::now()) {
            Ok(Some(change)) if !own => {
                if let Some((_, what)) = WATCHED.iter().find(|(k, _)| *k == key) {
                    let lines = change_lines(what, &change);
                    o.changes.extend(lines);
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "could not cache a list"),
        }
    }

    pub fn recall<T: DeserializeOwned>(&self, who: &Account, key: &str) -> Option<T> {
        let o = self.offline.lock().ok()?;
        let cached = o.store.as_ref()?.get(who, key).ok()??;
        serde_json::from_value(cached.value).ok()
    }

    /// Marks lists the person is about to change themselves, so their next version is not news.
    pub fn expect_change(&self, keys: &[&str]) {
        if let Ok(mut o) = self.offline.lock() {
            o.own_changes.extend(keys.iter().map(|k| (*k).to_owned()));
        }
    }

    /// A read: from the server (and then cached), or, when the server cannot be reached, what was cached.
    pub async fn cached<T, F, Fut>(&self, key: &str, fetch: F) -> Result<T, CommandError>
    where
        T: Serialize + DeserializeOwned,
        F: Fn(Client) -> Fut,
        Fut: Future<Output = Result<T, ClientError>>,
    {
        Ok(self.cached_fresh(key, fetch).await?.0)
    }

    /// [`Desktop::cached`], also saying whether the answer came from the server (`true`) or from the cache.
    /// Embedded mode has no cache: always `false`, as there is nothing of it to keep.
    pub async fn cached_fresh<T, F, Fut>(&self, key: &str, fetch: F) -> Result<(T, bool), CommandError>
    where
        T: Serialize + DeserializeOwned,
        F: Fn(Client) -> Fut,
        Fut: Future<Output = Result<T, ClientError>>,
    {
        let client = self.signed_in().await?;
        let Some(who) = self.account().await else { return Ok((fetch(client).await?, false)) };
        let answer = match fetch(client).await {
            Err(e) if e.status() == Some(401) => {
                // The access token ended early (the server restarted its clock, say): renew once and retry.
                self.force_renew().await?;
                fetch(self.signed_in().await?).await
            }
            other => other,
        };
        match answer {
            Ok(v) => {
                self.went_online();
                if let Ok(json) = serde_json::to_value(&v) {
                    self.remember(&who, key, &json);
                }
                Ok((v, true))
            }
            Err(e) if e.is_unreachable() => {
                self.went_offline();
                let cached = self.recall(&who, key).ok_or_else(|| {
                    CommandError::new("unavailable", "The server cannot be reached, and this was never loaded here before.")
                })?;
                Ok((cached, false))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// What a page of staff keys fresh from the server says beyond itself: the names of its keys (for the
    /// outbox's words, whichever page they were seen on) and, when the page is the whole unfiltered list, that
    /// list under `staff_credentials`, so keys added or removed on the server meanwhile are told as before.
    pub async fn remember_staff_keys(&self, query: &wire::StaffKeyQuery, page: &wire::Page<wire::StaffKey>) {
        let Some(who) = self.account().await else { return };
        let seen: Vec<serde_json::Value> = self.recall(&who, STAFF_KEY_NAMES).unwrap_or_default();
        self.remember(&who, STAFF_KEY_NAMES, &serde_json::Value::Array(merge_names(seen, page)));
        if let Some(whole) = whole_list(query, page) {
            self.remember(&who, "staff_credentials", &whole);
        }
    }

    /// The summaries of these patients (chips of a key's chosen patients, names in a preview). In remote mode
    /// every answer is merged into one cached list per account (the newest [`PATIENT_NAMES_KEPT`]), so names
    /// still show offline; an id the server no longer shows is dropped from it.
    pub async fn patients_by_id(&self, ids: Vec<String>) -> Result<Vec<wire::PatientSummary>, CommandError> {
        let client = self.signed_in().await?;
        let Some(who) = self.account().await else { return Ok(client.patients_by_id(&ids).await?) };
        let answer = match client.patients_by_id(&ids).await {
            Err(e) if e.status() == Some(401) => {
                self.force_renew().await?;
                self.signed_in().await?.patients_by_id(&ids).await
            }
            other => other,
        };
        let kept: Vec<serde_json::Value> = self.recall(&who, PATIENT_NAMES).unwrap_or_default();
        let asked: HashSet<&str> = ids.iter().map(String::as_str).collect();
        match answer {
            Ok(found) => {
                self.went_online();
                let fresh: Vec<serde_json::Value> = found.iter().filter_map(|p| serde_json::to_value(p).ok()).collect();
                if let Some(merged) = merged_patient_names(kept, fresh, &asked) {
                    self.remember(&who, PATIENT_NAMES, &serde_json::Value::Array(merged));
                }
                Ok(found)
            }
            Err(e) if e.is_unreachable() => {
                self.went_offline();
                Ok(cached_patient_names(kept, &asked))
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn force_renew(&self) -> Result<(), CommandError> {
        let mut guard = self.session.lock().await;
        if let Some(Session::Remote(r)) = guard.as_mut() {
            r.renew_at = std::time::Instant::now();
        }
        drop(guard);
        self.signed_in().await.map(|_| ())
    }

    /// An action that can wait: sent now, or, when the server cannot be reached, put in the outbox (and the
    /// UI told "queued": it never shows the action as done before the server confirmed it).
    pub async fn or_queue<T, F, Fut>(&self, action: Action, keys: &[&str], send: F) -> Result<T, CommandError>
    where
        F: FnOnce(Client) -> Fut,
        Fut: Future<Output = Result<T, ClientError>>,
    {
        let client = self.signed_in().await?;
        let Some(who) = self.account().await else { return Ok(send(client).await?) };
        if !self.known_offline() {
            match send(client).await {
                Ok(v) => {
                    self.expect_change(keys);
                    return Ok(v);
                }
                Err(e) if e.is_unreachable() => self.went_offline(),
                Err(e) => return Err(e.into()),
            }
        }
        let Ok(mut o) = self.offline.lock() else { return Err(CommandError::new("internal", "The outbox is unavailable.")) };
        let Some(store) = o.store.as_mut() else {
            return Err(CommandError::new("unavailable", "The server cannot be reached, and this computer has no outbox."));
        };
        store.enqueue(&who, &action, Utc::now()).map_err(|e| CommandError::new("internal", e.to_string()))?;
        Err(queued(&action))
    }

    /// Refuses an action that needs the server (creating a credential must show its secret) while offline.
    pub fn needs_server(&self, what: &str) -> Result<(), CommandError> {
        if self.known_offline() {
            return Err(CommandError::new("offline", format!("{what} needs the server, which cannot be reached right now.")));
        }
        Ok(())
    }

    /// The name the person saw for an id, from any cached list (for the outbox's words).
    pub async fn name_of(&self, id: &str) -> String {
        let Some(who) = self.account().await else { return id.to_owned() };
        for key in ["credentials", "connected_apps", "staff_credentials", STAFF_KEY_NAMES, "apps"] {
            let list: Option<Vec<serde_json::Value>> = self.recall(&who, key);
            let found = list.into_iter().flatten().find(|v| v.get("id").and_then(|i| i.as_str()) == Some(id));
            if let Some(name) = found.as_ref().and_then(|v| v.get("name")).and_then(|n| n.as_str()) {
                return name.to_owned();
            }
        }
        id.to_owned()
    }

    /// Checks the server; when it answers, sends the outbox in order, each reporting its outcome.
    pub async fn sync(&self) -> ConnectionStatus {
        if self.known_offline() {
            // Try the server once: a renewed session (or a refused one) says it is back.
            let mut guard = self.session.lock().await;
            if let Some(Session::Remote(r)) = guard.as_mut() {
                if std::time::Instant::now() >= r.renew_at {
                    match self.renew(r).await {
                        Ok(()) => self.went_online(),
                        Err(portico_client::signin::ConnectError::Refused(_)) => self.went_online(),
                        Err(_) => {}
                    }
                }
            }
        }
        if let Ok(client) = self.signed_in().await {
            if let Some(who) = self.account().await {
                match client.me().await {
                    Ok(me) => {
                        self.went_online();
                        if let Ok(json) = serde_json::to_value(&me) {
                            self.remember(&who, "me", &json);
                        }
                        self.send_outbox(&client, &who).await;
                    }
                    Err(e) if e.is_unreachable() => self.went_offline(),
                    Err(_) => {}
                }
            }
        }
        self.status().await
    }

    async fn send_outbox(&self, client: &Client, who: &Account) {
        loop {
            let next = {
                let Ok(mut o) = self.offline.lock() else { return };
                let Some(store) = o.store.as_mut() else { return };
                match store.next_to_send(who, Utc::now()) {
                    Ok(Some(e)) => e,
                    Ok(None) => return,
                    Err(e) => {
                        tracing::warn!(error = %e, "the outbox could not be read");
                        return;
                    }
                }
            };
            let outcome = execute(client, &next.action).await;
            let retry = matches!(outcome, Outcome::RetryLater);
            if retry {
                self.went_offline();
            } else {
                self.expect_change(&["credentials", "connected_apps", "staff_credentials", "approvals", "apps"]);
            }
            if let Ok(mut o) = self.offline.lock() {
                if let Some(store) = o.store.as_mut() {
                    if let Err(e) = store.finish(next.id, outcome, Utc::now()) {
                        tracing::warn!(error = %e, "could not record an outbox outcome");
                    }
                }
            }
            if retry {
                return;
            }
        }
    }

    pub async fn status(&self) -> ConnectionStatus {
        let who = self.account().await;
        let remote = self.current_server().is_some();
        let Ok(mut o) = self.offline.lock() else {
            return ConnectionStatus {
                mode: "embedded",
                online: true,
                offline_since: None,
                last_synced: None,
                waiting: Vec::new(),
                outcomes: Vec::new(),
                changes: Vec::new(),
            };
        };
        let changes = std::mem::take(&mut o.changes);
        let (waiting, outcomes, last_synced) = match (o.store.as_ref(), &who) {
            (Some(store), Some(who)) => (
                store.waiting(who).unwrap_or_default(),
                store.outcomes(who, 10).unwrap_or_default(),
                store.last_synced(who).ok().flatten(),
            ),
            _ => (Vec::new(), Vec::new(), None),
        };
        ConnectionStatus {
            mode: if remote { "remote" } else { "embedded" },
            online: !remote || o.online,
            offline_since: o.offline_since.map(|t| t.to_rfc3339()),
            last_synced: last_synced.map(|t| t.to_rfc3339()),
            waiting: waiting.into_iter().map(entry).collect(),
            outcomes: outcomes.into_iter().map(entry).collect(),
            changes,
        }
    }

    pub async fn cancel_outbox(&self, id: i64) -> Result<bool, CommandError> {
        let who = self.account().await.ok_or_else(CommandError::unauthenticated)?;
        let mut o = self.offline.lock().map_err(|_| CommandError::new("internal", "The outbox is unavailable."))?;
        let store = o.store.as_mut().ok_or_else(|| CommandError::new("not_found", "There is no outbox."))?;
        store.cancel(&who, id).map_err(|e| CommandError::new("internal", e.to_string()))
    }

    pub async fn dismiss_outcomes(&self) -> Result<(), CommandError> {
        let Some(who) = self.account().await else { return Ok(()) };
        let mut o = self.offline.lock().map_err(|_| CommandError::new("internal", "The outbox is unavailable."))?;
        if let Some(store) = o.store.as_mut() {
            store.dismiss_outcomes(&who).map_err(|e| CommandError::new("internal", e.to_string()))?;
        }
        Ok(())
    }

    /// Forgets what this computer kept of an account (sign-out): its cache and outbox.
    pub fn forget_account(&self, who: &Account) {
        if let Ok(mut o) = self.offline.lock() {
            if let Some(store) = o.store.as_mut() {
                if let Err(e) = store.forget(who) {
                    tracing::warn!(error = %e, "could not forget the cache of a signed-out account");
                }
            }
            o.changes.clear();
            o.online = true;
            o.offline_since = None;
        }
    }
}

/// The names seen so far with those of `page`'s keys: each id once, the most recently seen last, at most
/// [`MAX_REMEMBERED_NAMES`] of them.
fn merge_names(mut seen: Vec<serde_json::Value>, page: &wire::Page<wire::StaffKey>) -> Vec<serde_json::Value> {
    for k in &page.items {
        let (id, name) = (&k.credential.id, &k.credential.name);
        seen.retain(|v| v.get("id").and_then(|i| i.as_str()) != Some(id.as_str()));
        seen.push(serde_json::json!({ "id": id, "name": name }));
    }
    let over = seen.len().saturating_sub(MAX_REMEMBERED_NAMES);
    seen.drain(..over);
    seen
}

/// The whole list of staff keys, when `page` is it: neither searched nor filtered, from the first row, holding
/// every match.
fn whole_list(query: &wire::StaffKeyQuery, page: &wire::Page<wire::StaffKey>) -> Option<serde_json::Value> {
    if !query.is_unfiltered_start() || (page.items.len() as u64) < page.total {
        return None;
    }
    serde_json::to_value(page.items.iter().map(|k| &k.credential).collect::<Vec<_>>()).ok()
}

/// Sends one waiting action; its outcome in the outbox's terms.
async fn execute(client: &Client, action: &Action) -> Outcome {
    let result: Result<bool, ClientError> = match action {
        // `deleted_now: false`: someone (or an earlier attempt) already deleted it.
        Action::DeleteCredential { id, .. } => client.delete_credential(id).await.map(|d| d.deleted_now),
        Action::SetCredentialActive { id, active, .. } => client
            .update_credential(id, &wire::CredentialUpdate { active: Some(*active), ..Default::default() })
            .await
            .map(|_| true),
        Action::SetValidity { id, valid_from, valid_to, .. } => {
            let parse = |v: &Option<String>| {
                v.as_deref().and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok()).map(|t| t.with_timezone(&Utc))
            };
            let change = wire::CredentialUpdate {
                valid_from: Some(parse(valid_from)),
                valid_to: Some(parse(valid_to)),
                ..Default::default()
            };
            client.update_credential(id, &change).await.map(|_| true)
        }
        Action::DecideApproval { app_id, practice_id, approve, reason, .. } => {
            let decision =
                wire::ApprovalDecision { status: if *approve { "approved" } else { "denied" }.into(), reason: reason.clone() };
            client.decide_approval(app_id, *practice_id, &decision).await.map(|_| true)
        }
        Action::DeleteApp { id, .. } => client.delete_app(id).await.map(|_| true),
    };
    match result {
        Ok(true) => Outcome::Done,
        Ok(false) => Outcome::AlreadyDone,
        Err(e) => {
            let status = if e.is_unreachable() { None } else { e.status() };
            outcome_of(status, &CommandError::from(e).message)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use portico_api as wire;
    use serde_json::json;

    fn page(ids: &[&str], total: u64) -> wire::Page<wire::StaffKey> {
        let key = |id: &str| -> wire::StaffKey {
            serde_json::from_value(json!({
                "id": id, "kind": "developer", "name": format!("Key {id}"), "note": null, "client_id": format!("c-{id}"),
                "secret_hint": "h", "status": "active", "usable": true, "valid_from": null, "valid_to": null,
                "created_at": "2026-01-01T00:00:00Z", "created_by": "dev", "owner": "dev", "last_used_at": null,
                "scope": "", "patients": [], "reach": "", "previous_secret_valid_until": null,
                "owner_name": "Dev", "owner_practices": [{"id": 1, "name": "One"}]
            }))
            .unwrap()
        };
        wire::Page { items: ids.iter().map(|i| key(i)).collect(), total, offset: 0, limit: 25 }
    }

    /// Staff keys come a page at a time: their names are kept from every page seen, for the outbox's words, and
    /// the list is compared with the last one (what was added or removed on the server) only when a page was
    /// the whole of it.
    #[test]
    fn pages_of_staff_keys_feed_the_names_and_the_whole_list() {
        let names = super::merge_names(
            vec![json!({"id": "a", "name": "Old name"}), json!({"id": "z", "name": "Z"})],
            &page(&["a", "b"], 2),
        );
        assert_eq!(
            names,
            [json!({"id": "z", "name": "Z"}), json!({"id": "a", "name": "Key a"}), json!({"id": "b", "name": "Key b"})]
        );
        let many: Vec<String> = (0..super::MAX_REMEMBERED_NAMES + 3).map(|i| i.to_string()).collect();
        let ids: Vec<&str> = many.iter().map(String::as_str).collect();
        let kept = super::merge_names(Vec::new(), &page(&ids, ids.len() as u64));
        assert_eq!((kept.len(), kept[0]["id"].as_str()), (super::MAX_REMEMBERED_NAMES, Some("3")));

        let plain = wire::StaffKeyQuery { sort: Some("name".into()), ..Default::default() };
        let whole = super::whole_list(&plain, &page(&["a", "b"], 2)).expect("the whole list");
        assert_eq!(
            whole.as_array().map(|a| a.iter().map(|k| k["id"].clone()).collect::<Vec<_>>()),
            Some(vec![json!("a"), json!("b")])
        );
        assert!(whole[0].get("owner_name").is_none(), "kept as the credentials list was");
        assert!(super::whole_list(&plain, &page(&["a", "b"], 3)).is_none(), "a first page of several");
        let searched = wire::StaffKeyQuery { q: Some("a".into()), ..Default::default() };
        assert!(super::whole_list(&searched, &page(&["a"], 1)).is_none(), "a search");
        let later = wire::StaffKeyQuery { offset: Some(25), ..Default::default() };
        assert!(super::whole_list(&later, &page(&[], 2)).is_none(), "not from the first row");
    }

    #[test]
    fn patient_names_are_merged_for_offline_use() {
        let p = |id: &str, name: &str| json!({"id": id, "name": name, "birth_date": null, "gender": null, "mrn": null, "practices": [1]});
        let asked: HashSet<&str> = ["a", "b", "gone"].into_iter().collect();
        let kept = vec![p("gone", "Left the practice"), p("x", "Other"), p("a", "Ann Old")];
        let merged = super::merged_patient_names(kept.clone(), vec![p("a", "Ann New"), p("b", "Bo")], &asked).expect("changed");
        assert_eq!(
            merged,
            vec![p("a", "Ann New"), p("b", "Bo"), p("x", "Other")],
            "fresh first, others kept, the gone one dropped"
        );
        assert_eq!(super::merged_patient_names(merged.clone(), vec![p("b", "Bo"), p("a", "Ann New")], &asked), None, "unchanged");
        let many: Vec<_> = (0..super::PATIENT_NAMES_KEPT + 5).map(|i| p(&format!("k{i}"), "K")).collect();
        assert_eq!(
            super::merged_patient_names(many, vec![p("a", "A")], &asked).expect("changed").len(),
            super::PATIENT_NAMES_KEPT
        );
        let offline = super::cached_patient_names(merged, &["b", "x", "unknown"].into_iter().collect());
        assert_eq!(offline.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["Bo", "Other"]);
    }

    #[test]
    fn what_changed_on_the_server_in_words() {
        let c = portico_offline::ListChange {
            added: vec!["New app".into()],
            removed: vec!["Old app".into()],
            changed: vec!["Busy app".into()],
        };
        assert_eq!(
            super::change_lines("Connected app", &c),
            ["Connected app “New app” was added on the server", "Connected app “Old app” was removed on the server"]
        );
        let lines = super::role_lines(&json!({"roles": ["provider", "developer"]}), &json!({"roles": ["provider", "nurse"]}));
        assert_eq!(lines, ["Your role “developer” was removed on the server", "You were given the role “nurse” on the server"]);
        assert!(super::role_lines(&json!({"roles": ["patient"]}), &json!({"roles": ["patient"]})).is_empty());
    }
}
