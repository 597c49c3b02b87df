//! The local store through its public API: the outbox's order, cancel, replay after a crash, refusals and
//! retries, the cache, accounts kept apart, sign-out, the file's mode, and unreadable rows.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use portico_offline::{Account, Action, EntryState, ListChange, OfflineError, OfflineStore, Outcome};
use serde_json::json;

fn t(minute: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 9, 0, 0).unwrap() + Duration::minutes(minute)
}

fn ada() -> Account {
    Account { server: "https://portico.example".into(), user: "ada".into() }
}

fn delete(id: &str) -> Action {
    Action::DeleteCredential { id: id.into(), name: format!("Key {id}") }
}

fn ids(entries: &[portico_offline::OutboxEntry]) -> Vec<i64> {
    entries.iter().map(|e| e.id).collect()
}

/// Sends everything waiting, answering each action with `answer(action)`; returns the targets in sending order.
fn drain(store: &mut OfflineStore, who: &Account, answer: impl Fn(&Action) -> Outcome) -> Vec<String> {
    let mut sent = Vec::new();
    while let Some(entry) = store.next_to_send(who, t(60)).unwrap() {
        assert_eq!(entry.state, EntryState::Sending);
        sent.push(entry.action.target().to_owned());
        let outcome = answer(&entry.action);
        let retry = outcome == Outcome::RetryLater;
        store.finish(entry.id, outcome, t(61)).unwrap();
        if retry {
            break;
        }
    }
    sent
}

#[test]
fn actions_are_sent_in_the_order_they_were_taken() {
    let mut store = OfflineStore::open_in_memory().unwrap();
    let who = ada();
    // Enqueue times out of order: the order is the order of enqueueing, not of the clock.
    for (id, minute) in [("c3", 5), ("c1", 1), ("c2", 3)] {
        store.enqueue(&who, &delete(id), t(minute)).unwrap();
    }
    let waiting = store.waiting(&who).unwrap();
    assert_eq!(waiting.iter().map(|e| e.action.target()).collect::<Vec<_>>(), ["c3", "c1", "c2"]);
    assert!(waiting.iter().all(|e| e.state == EntryState::Pending && e.attempts == 0));
    assert_eq!(waiting[0].description, "Delete “Key c3”");
    assert_eq!(waiting[0].queued_at, t(5));
    assert_eq!(drain(&mut store, &who, |_| Outcome::Done), ["c3", "c1", "c2"]);
    assert!(store.waiting(&who).unwrap().is_empty());
    assert_eq!(store.next_to_send(&who, t(70)).unwrap(), None);
}

#[test]
fn cancel_takes_back_only_a_pending_entry_which_is_then_never_sent() {
    let mut store = OfflineStore::open_in_memory().unwrap();
    let who = ada();
    let first = store.enqueue(&who, &delete("c1"), t(0)).unwrap();
    let second = store.enqueue(&who, &delete("c2"), t(1)).unwrap();
    let third = store.enqueue(&who, &delete("c3"), t(2)).unwrap();

    let sending = store.next_to_send(&who, t(3)).unwrap().unwrap();
    assert_eq!(sending.id, first.id);
    assert!(!store.cancel(&who, first.id).unwrap(), "an entry being sent cannot be cancelled");
    assert!(store.cancel(&who, second.id).unwrap());
    assert!(!store.cancel(&who, second.id).unwrap(), "already cancelled");
    assert!(!store.cancel(&who, 9_999).unwrap(), "unknown id");
    let other = Account { server: ada().server, user: "bo".into() };
    assert!(!store.cancel(&other, third.id).unwrap(), "another account's entry");

    assert_eq!(ids(&store.waiting(&who).unwrap()), [first.id, third.id]);
    store.finish(first.id, Outcome::Done, t(4)).unwrap();
    assert_eq!(drain(&mut store, &who, |_| Outcome::Done), ["c3"]);
    // A cancelled entry leaves no outcome either.
    assert_eq!(ids(&store.outcomes(&who, 10).unwrap()), [third.id, first.id]);
}

#[test]
fn an_entry_left_sending_by_a_crash_is_pending_again_and_first_after_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("offline.db");
    let who = ada();
    let (first, second) = {
        let mut store = OfflineStore::open(&path).unwrap();
        let first = store.enqueue(&who, &delete("c1"), t(0)).unwrap();
        let second = store.enqueue(&who, &delete("c2"), t(1)).unwrap();
        let sending = store.next_to_send(&who, t(2)).unwrap().unwrap();
        assert_eq!(sending.id, first.id);
        assert_eq!(store.waiting(&who).unwrap()[0].state, EntryState::Sending);
        (first, second)
        // The store is dropped here without `finish`: the app died mid-send.
    };
    let mut store = OfflineStore::open(&path).unwrap();
    let waiting = store.waiting(&who).unwrap();
    assert_eq!(ids(&waiting), [first.id, second.id]);
    assert_eq!(waiting[0].state, EntryState::Pending);
    assert_eq!(waiting[0].attempts, 1, "the interrupted send counts as an attempt");
    assert_eq!(waiting[0].last_attempt_at, Some(t(2)));
    let again = store.next_to_send(&who, t(5)).unwrap().unwrap();
    assert_eq!((again.id, again.attempts), (first.id, 2));
    // The delete had reached the server before the crash: replaying it answers 404.
    store.finish(again.id, portico_offline::outcome_of(Some(404), "not found"), t(6)).unwrap();
    assert_eq!(store.outcomes(&who, 1).unwrap()[0].state, EntryState::AlreadyDone);
}

#[test]
fn a_refused_action_leaves_waiting_and_shows_with_its_reason() {
    let mut store = OfflineStore::open_in_memory().unwrap();
    let who = ada();
    let validity = Action::SetValidity {
        id: "c1".into(),
        name: "Lab key".into(),
        valid_from: Some("2030-01-01T00:00:00Z".into()),
        valid_to: Some("2029-01-01T00:00:00Z".into()),
    };
    let refused = store.enqueue(&who, &validity, t(0)).unwrap();
    let after = store.enqueue(&who, &delete("c2"), t(1)).unwrap();
    let sent = drain(&mut store, &who, |a| match a {
        Action::SetValidity { .. } => portico_offline::outcome_of(Some(400), "valid_to is before valid_from"),
        _ => Outcome::Done,
    });
    assert_eq!(sent, ["c1", "c2"], "a refusal does not hold up the rest");
    assert!(store.waiting(&who).unwrap().is_empty());
    let outcomes = store.outcomes(&who, 10).unwrap();
    assert_eq!(ids(&outcomes), [after.id, refused.id], "newest first");
    let entry = &outcomes[1];
    assert_eq!(entry.state, EntryState::Refused);
    assert_eq!(entry.reason.as_deref(), Some("valid_to is before valid_from"));
    assert_eq!(entry.description, "Change when “Lab key” is valid");
    assert_eq!(entry.finished_at, Some(t(61)));
    assert_eq!(outcomes[0].state, EntryState::Done);
    assert_eq!(outcomes[0].reason, None);
    assert_eq!(ids(&store.outcomes(&who, 1).unwrap()), [after.id], "limit");

    store.dismiss_outcomes(&who).unwrap();
    assert!(store.outcomes(&who, 10).unwrap().is_empty());
}

#[test]
fn retry_later_puts_the_entry_back_in_its_place() {
    let mut store = OfflineStore::open_in_memory().unwrap();
    let who = ada();
    let first = store.enqueue(&who, &delete("c1"), t(0)).unwrap();
    let second = store.enqueue(&who, &delete("c2"), t(1)).unwrap();

    let sending = store.next_to_send(&who, t(2)).unwrap().unwrap();
    store.finish(sending.id, Outcome::RetryLater, t(3)).unwrap();
    let waiting = store.waiting(&who).unwrap();
    assert_eq!(ids(&waiting), [first.id, second.id]);
    assert_eq!((waiting[0].state, waiting[0].attempts, waiting[0].finished_at), (EntryState::Pending, 1, None));
    assert!(store.outcomes(&who, 10).unwrap().is_empty());

    // A later entry enqueued meanwhile still comes after both.
    let third = store.enqueue(&who, &delete("c3"), t(4)).unwrap();
    let again = store.next_to_send(&who, t(5)).unwrap().unwrap();
    assert_eq!((again.id, again.attempts), (first.id, 2));
    store.finish(again.id, Outcome::Done, t(6)).unwrap();
    assert_eq!(drain(&mut store, &who, |_| Outcome::Done), ["c2", "c3"]);
    assert_eq!(ids(&store.outcomes(&who, 10).unwrap()), [third.id, second.id, first.id]);
}

#[test]
fn an_entry_being_sent_is_not_handed_out_again() {
    let mut store = OfflineStore::open_in_memory().unwrap();
    let who = ada();
    let first = store.enqueue(&who, &delete("c1"), t(0)).unwrap();
    let second = store.enqueue(&who, &delete("c2"), t(1)).unwrap();
    assert_eq!(store.next_to_send(&who, t(2)).unwrap().unwrap().id, first.id);
    assert_eq!(store.next_to_send(&who, t(3)).unwrap().unwrap().id, second.id, "the oldest pending one");
    assert_eq!(store.next_to_send(&who, t(4)).unwrap(), None);
    let waiting = store.waiting(&who).unwrap();
    assert_eq!(
        waiting.iter().map(|e| (e.id, e.state, e.attempts)).collect::<Vec<_>>(),
        [(first.id, EntryState::Sending, 1), (second.id, EntryState::Sending, 1)]
    );
}

#[test]
fn finish_is_only_for_an_entry_being_sent() {
    let mut store = OfflineStore::open_in_memory().unwrap();
    let who = ada();
    let entry = store.enqueue(&who, &delete("c1"), t(0)).unwrap();
    assert!(matches!(store.finish(entry.id, Outcome::Done, t(1)), Err(OfflineError::NotSending { id }) if id == entry.id));
    store.next_to_send(&who, t(1)).unwrap().unwrap();
    store.finish(entry.id, Outcome::Done, t(2)).unwrap();
    assert!(matches!(store.finish(entry.id, Outcome::Done, t(3)), Err(OfflineError::NotSending { .. })), "settled once");
    assert!(matches!(store.finish(42, Outcome::Done, t(3)), Err(OfflineError::NotSending { id: 42 })));
}

#[test]
fn the_cache_keeps_each_value_with_when_it_was_fetched() {
    let mut store = OfflineStore::open_in_memory().unwrap();
    let who = ada();
    assert_eq!(store.get(&who, "credentials").unwrap(), None);
    assert_eq!(store.last_synced(&who).unwrap(), None);

    let at = t(0) + Duration::nanoseconds(123_456_789);
    let first = json!([{"id": "c1", "name": "Lab key"}, {"id": "c2", "name": "Old key"}]);
    assert_eq!(store.put(&who, "credentials", &first, at).unwrap(), None, "no previous value");
    let cached = store.get(&who, "credentials").unwrap().unwrap();
    assert_eq!((cached.value, cached.fetched_at), (first, at));

    store.put(&who, "session", &json!({"user": "ada", "roles": ["admin"]}), t(2)).unwrap();
    assert_eq!(store.last_synced(&who).unwrap(), Some(t(2)));

    // The list fetched again: what changed on the server meanwhile.
    let second = json!([{"id": "c1", "name": "Lab key"}, {"id": "g9", "name": "Phone health app"}]);
    let change = store.put(&who, "credentials", &second, t(1)).unwrap();
    assert_eq!(
        change,
        Some(ListChange { added: vec!["Phone health app".into()], removed: vec!["Old key".into()], changed: vec![] })
    );
    assert_eq!(store.get(&who, "credentials").unwrap().unwrap().fetched_at, t(1));
    assert_eq!(store.last_synced(&who).unwrap(), Some(t(2)), "the newest fetch of any key");
    assert_eq!(store.put(&who, "credentials", &second, t(3)).unwrap(), Some(ListChange::default()));
    assert_eq!(store.last_synced(&who).unwrap(), Some(t(3)));
    // Not a list: stored, nothing to compare.
    assert_eq!(store.put(&who, "session", &json!({"user": "ada", "roles": []}), t(4)).unwrap(), None);
    assert_eq!(store.get(&who, "session").unwrap().unwrap().value, json!({"user": "ada", "roles": []}));
}

#[test]
fn accounts_do_not_see_each_others_cache_or_outbox() {
    let mut store = OfflineStore::open_in_memory().unwrap();
    let accounts = [
        ada(),
        Account { server: ada().server, user: "bo".into() },
        Account { server: "https://other.example".into(), user: "ada".into() },
    ];
    for (i, who) in accounts.iter().enumerate() {
        store.put(who, "credentials", &json!([{"id": i}]), t(i as i64)).unwrap();
        store.enqueue(who, &delete(&format!("c{i}")), t(i as i64)).unwrap();
    }
    for (i, who) in accounts.iter().enumerate() {
        assert_eq!(store.get(who, "credentials").unwrap().unwrap().value, json!([{"id": i}]), "{who:?}");
        assert_eq!(store.last_synced(who).unwrap(), Some(t(i as i64)));
        let waiting = store.waiting(who).unwrap();
        assert_eq!(waiting.iter().map(|e| e.action.target()).collect::<Vec<_>>(), [format!("c{i}")], "{who:?}");
    }
    // Sending for one account hands out only its own entries.
    let bo = &accounts[1];
    assert_eq!(drain(&mut store, bo, |_| Outcome::Done), ["c1"]);
    assert_eq!(store.outcomes(bo, 10).unwrap().len(), 1);
    assert!(store.outcomes(&accounts[0], 10).unwrap().is_empty());
    store.dismiss_outcomes(&accounts[0]).unwrap();
    assert_eq!(store.outcomes(bo, 10).unwrap().len(), 1, "dismissing is per account");
}

#[test]
fn forget_removes_the_cache_and_outbox_of_that_account_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("offline.db");
    let mut store = OfflineStore::open(&path).unwrap();
    let (who, other) = (ada(), Account { server: ada().server, user: "bo".into() });
    for person in [&who, &other] {
        store.put(person, "credentials", &json!([]), t(0)).unwrap();
        store.enqueue(person, &delete("c1"), t(0)).unwrap();
        store.enqueue(person, &delete("c2"), t(0)).unwrap();
        let sent = store.next_to_send(person, t(1)).unwrap().unwrap();
        store.finish(sent.id, Outcome::Done, t(1)).unwrap();
    }
    store.forget(&who).unwrap();
    assert_eq!(store.get(&who, "credentials").unwrap(), None);
    assert_eq!(store.last_synced(&who).unwrap(), None);
    assert!(store.waiting(&who).unwrap().is_empty());
    assert!(store.outcomes(&who, 10).unwrap().is_empty());
    assert_eq!(store.next_to_send(&who, t(2)).unwrap(), None);

    assert!(store.get(&other, "credentials").unwrap().is_some());
    assert_eq!(store.waiting(&other).unwrap().len(), 1);
    assert_eq!(store.outcomes(&other, 10).unwrap().len(), 1);
    // Gone from the file, not merely out of sight: only the other account's rows are left.
    let raw = rusqlite::Connection::open(&path).unwrap();
    let count = |table: &str| raw.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get::<_, i64>(0)).unwrap();
    assert_eq!((count("accounts"), count("cache"), count("outbox")), (1, 1, 2));
    store.forget(&who).unwrap();
    // Signing in again starts empty and works as before.
    store.enqueue(&who, &delete("c9"), t(3)).unwrap();
    assert_eq!(drain(&mut store, &who, |_| Outcome::Done), ["c9"]);
}

#[cfg(unix)]
#[test]
fn the_file_is_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let fresh = dir.path().join("fresh.db");
    let mut store = OfflineStore::open(&fresh).unwrap();
    store.put(&ada(), "k", &json!(1), t(0)).unwrap();
    assert_eq!(mode(&fresh), 0o600);
    let wal = dir.path().join("fresh.db-wal");
    assert!(wal.exists(), "WAL mode");
    assert_eq!(mode(&wal), 0o600);
    // A file another version left world-readable is narrowed on open.
    let old = dir.path().join("old.db");
    std::fs::write(&old, b"").unwrap();
    std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o644)).unwrap();
    OfflineStore::open(&old).unwrap();
    assert_eq!(mode(&old), 0o600);
}

#[test]
fn an_unreadable_stored_action_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("offline.db");
    let who = ada();
    let (good, bad) = {
        let mut store = OfflineStore::open(&path).unwrap();
        (store.enqueue(&who, &delete("c1"), t(0)).unwrap(), store.enqueue(&who, &delete("c2"), t(1)).unwrap())
    };
    let cases = ["not json at all", r#"{"kind": "format_disk", "id": "c2"}"#, r#"{"kind": "delete_credential"}"#, "null"];
    for garbage in cases {
        {
            let conn = rusqlite::Connection::open(&path).unwrap();
            conn.execute("UPDATE outbox SET action = ?1 WHERE id = ?2", rusqlite::params![garbage, bad.id]).unwrap();
        }
        let mut store = OfflineStore::open(&path).unwrap();
        let err = store.waiting(&who).unwrap_err();
        assert!(matches!(err, OfflineError::UnreadableEntry { id, .. } if id == bad.id), "{garbage}: {err}");
        // The readable entry before it still goes out; then the bad one is reported, not sent.
        let next = store.next_to_send(&who, t(2)).unwrap().unwrap();
        assert_eq!(next.id, good.id);
        store.finish(next.id, Outcome::RetryLater, t(3)).unwrap();
    }
    let mut store = OfflineStore::open(&path).unwrap();
    store.next_to_send(&who, t(4)).unwrap().unwrap();
    store.finish(good.id, Outcome::Done, t(5)).unwrap();
    assert!(matches!(store.next_to_send(&who, t(6)), Err(OfflineError::UnreadableEntry { .. })));
    assert!(store.waiting(&who).unwrap_err().to_string().contains(&format!("outbox entry {}", bad.id)));
    // The person can take it back, and the outbox works again.
    assert!(store.cancel(&who, bad.id).unwrap());
    assert!(store.waiting(&who).unwrap().is_empty());
    assert_eq!(store.outcomes(&who, 10).unwrap().len(), 1);
}

#[test]
fn a_file_from_a_newer_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("offline.db");
    drop(OfflineStore::open(&path).unwrap());
    rusqlite::Connection::open(&path).unwrap().pragma_update(None, "user_version", 99).unwrap();
    assert!(matches!(OfflineStore::open(&path), Err(OfflineError::NewerSchema { found: 99, known: 1 })));
}

#[test]
fn garbage_in_the_cache_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("offline.db");
    let who = ada();
    OfflineStore::open(&path).unwrap().put(&who, "k", &json!([{"id": 1}]), t(0)).unwrap();
    rusqlite::Connection::open(&path).unwrap().execute("UPDATE cache SET value = '{oops'", []).unwrap();
    let mut store = OfflineStore::open(&path).unwrap();
    assert!(matches!(store.get(&who, "k"), Err(OfflineError::Corrupt(_))));
    // Fetching again replaces it (there is nothing to compare with).
    assert_eq!(store.put(&who, "k", &json!([{"id": 1}]), t(1)).unwrap(), None);
    assert_eq!(store.get(&who, "k").unwrap().unwrap().value, json!([{"id": 1}]));
}
