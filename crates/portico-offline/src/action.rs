//! The actions that can wait for the server, and what became of one when it was sent.

use serde::{Deserialize, Serialize};

/// An action the person took that can be sent later. Every one is idempotent at the server (sending it
/// twice, or after it happened elsewhere, changes nothing more), which is what makes replay after a crash
/// safe. Serialized as `{"kind": "delete_credential", ...}` for the UI.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Action {
    /// Delete a credential: a key, a staff key, or a connected app (a credential of kind `connected_app`,
    /// so this is also how an app's access is revoked).
    DeleteCredential { id: String, name: String },
    /// Deactivate (`active: false`) or activate a credential.
    SetCredentialActive { id: String, name: String, active: bool },
    /// Set a credential's validity window; `None` clears that bound. RFC 3339 strings, as the API takes them.
    SetValidity { id: String, name: String, valid_from: Option<String>, valid_to: Option<String> },
    /// Approve or deny an app for one practice.
    DecideApproval {
        app_id: String,
        app_name: String,
        practice_id: i64,
        practice_name: String,
        approve: bool,
        reason: Option<String>,
    },
    /// Delete a registered app (its developer's action).
    DeleteApp { id: String, name: String },
}

impl Action {
    /// Plain words for the UI, e.g. `Delete “Phone health app”`.
    pub fn describe(&self) -> String {
        match self {
            Action::DeleteCredential { name, .. } => format!("Delete “{name}”"),
            Action::SetCredentialActive { name, active: true, .. } => format!("Activate “{name}”"),
            Action::SetCredentialActive { name, active: false, .. } => format!("Deactivate “{name}”"),
            Action::SetValidity { name, .. } => format!("Change when “{name}” is valid"),
            Action::DecideApproval { app_name, practice_name, approve: true, .. } => {
                format!("Approve “{app_name}” for {practice_name}")
            }
            Action::DecideApproval { app_name, practice_name, approve: false, .. } => {
                format!("Deny “{app_name}” for {practice_name}")
            }
            Action::DeleteApp { name, .. } => format!("Delete the app “{name}”"),
        }
    }

    /// The id of the item it acts on, so the UI can mark that item "waiting to send": the credential's id,
    /// or the app's id (for an approval, the practice is `practice_id` in the action itself).
    pub fn target(&self) -> &str {
        match self {
            Action::DeleteCredential { id, .. }
            | Action::SetCredentialActive { id, .. }
            | Action::SetValidity { id, .. }
            | Action::DeleteApp { id, .. } => id,
            Action::DecideApproval { app_id, .. } => app_id,
        }
    }
}

/// What became of one attempt to send an action. Serialized as `{"kind": "refused", "reason": ...}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Outcome {
    /// The server did it.
    Done,
    /// It had already happened (the item is gone): nothing left to do.
    AlreadyDone,
    /// The server will not do it; `reason` is its message, for the person.
    Refused { reason: String },
    /// Not decided: the server was out of reach, busy, or the session must be renewed first. The entry goes
    /// back to waiting, in its place.
    RetryLater,
}

/// The outcome of an HTTP answer: `status` is `None` when no answer came (transport failure, server
/// unreachable), `message` is the error's message from the body (used when the server refuses).
///
/// 2xx → done; 404/410 → already done; 401 (the session must be renewed first), 408, 429, 5xx and no answer
/// → retry later; any other 4xx → refused. Anything else (1xx, 3xx: not a final answer) → retry later,
/// so an action is never dropped on an answer that does not say what happened.
pub fn outcome_of(status: Option<u16>, message: &str) -> Outcome {
    let Some(status) = status else { return Outcome::RetryLater };
    match status {
        200..=299 => Outcome::Done,
        404 | 410 => Outcome::AlreadyDone,
        401 | 408 | 429 => Outcome::RetryLater,
        400..=499 => {
            let message = message.trim();
            let reason = if message.is_empty() { format!("The server refused it (HTTP {status}).") } else { message.to_owned() };
            Outcome::Refused { reason }
        }
        _ => Outcome::RetryLater,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn refused(reason: &str) -> Outcome {
        Outcome::Refused { reason: reason.to_owned() }
    }

    #[test]
    fn outcome_of_each_kind_of_answer() {
        let cases: &[(Option<u16>, &str, Outcome)] = &[
            (None, "connection refused", Outcome::RetryLater),
            (Some(200), "", Outcome::Done),
            (Some(204), "", Outcome::Done),
            (Some(299), "", Outcome::Done),
            (Some(404), "not found", Outcome::AlreadyDone),
            (Some(410), "gone", Outcome::AlreadyDone),
            (Some(401), "session expired", Outcome::RetryLater),
            (Some(408), "", Outcome::RetryLater),
            (Some(429), "slow down", Outcome::RetryLater),
            (Some(500), "boom", Outcome::RetryLater),
            (Some(502), "", Outcome::RetryLater),
            (Some(503), "busy", Outcome::RetryLater),
            (Some(599), "", Outcome::RetryLater),
            (Some(400), "valid_to is before valid_from", refused("valid_to is before valid_from")),
            (Some(403), "only administrators decide", refused("only administrators decide")),
            (Some(409), "  already decided \n", refused("already decided")),
            (Some(422), "", refused("The server refused it (HTTP 422).")),
            (Some(499), " ", refused("The server refused it (HTTP 499).")),
            (Some(100), "", Outcome::RetryLater),
            (Some(304), "", Outcome::RetryLater),
            (Some(302), "", Outcome::RetryLater),
        ];
        for (status, message, expected) in cases {
            assert_eq!(outcome_of(*status, message), *expected, "{status:?} {message:?}");
        }
    }

    fn approval(approve: bool) -> Action {
        Action::DecideApproval {
            app_id: "app-7".into(),
            app_name: "Phone health app".into(),
            practice_id: 3,
            practice_name: "Practice X".into(),
            approve,
            reason: None,
        }
    }

    #[test]
    fn each_action_in_plain_words_with_its_target() {
        let name = || "Phone health app".to_owned();
        let cases: Vec<(Action, &str, &str)> = vec![
            (Action::DeleteCredential { id: "c1".into(), name: name() }, "Delete “Phone health app”", "c1"),
            (Action::SetCredentialActive { id: "c2".into(), name: name(), active: false }, "Deactivate “Phone health app”", "c2"),
            (Action::SetCredentialActive { id: "c2".into(), name: name(), active: true }, "Activate “Phone health app”", "c2"),
            (
                Action::SetValidity {
                    id: "c3".into(),
                    name: name(),
                    valid_from: None,
                    valid_to: Some("2030-01-01T00:00:00Z".into()),
                },
                "Change when “Phone health app” is valid",
                "c3",
            ),
            (approval(true), "Approve “Phone health app” for Practice X", "app-7"),
            (approval(false), "Deny “Phone health app” for Practice X", "app-7"),
            (Action::DeleteApp { id: "a9".into(), name: name() }, "Delete the app “Phone health app”", "a9"),
        ];
        for (action, words, target) in cases {
            assert_eq!(action.describe(), words, "{action:?}");
            assert_eq!(action.target(), target, "{action:?}");
        }
    }

    #[test]
    fn actions_and_outcomes_are_tagged_snake_case_json_for_the_ui() {
        let cases: Vec<(serde_json::Value, Action)> = vec![
            (
                json!({"kind": "delete_credential", "id": "c1", "name": "n"}),
                Action::DeleteCredential { id: "c1".into(), name: "n".into() },
            ),
            (
                json!({"kind": "set_credential_active", "id": "c1", "name": "n", "active": false}),
                Action::SetCredentialActive { id: "c1".into(), name: "n".into(), active: false },
            ),
            (
                json!({"kind": "set_validity", "id": "c1", "name": "n", "valid_from": "2025-01-01T00:00:00Z", "valid_to": null}),
                Action::SetValidity {
                    id: "c1".into(),
                    name: "n".into(),
                    valid_from: Some("2025-01-01T00:00:00Z".into()),
                    valid_to: None,
                },
            ),
            (
                json!({"kind": "decide_approval", "app_id": "app-7", "app_name": "Phone health app", "practice_id": 3,
                       "practice_name": "Practice X", "approve": true, "reason": null}),
                approval(true),
            ),
            (json!({"kind": "delete_app", "id": "a9", "name": "n"}), Action::DeleteApp { id: "a9".into(), name: "n".into() }),
        ];
        for (wire, action) in cases {
            assert_eq!(serde_json::to_value(&action).unwrap(), wire);
            assert_eq!(serde_json::from_value::<Action>(wire).unwrap(), action);
        }
        assert_eq!(serde_json::to_value(Outcome::AlreadyDone).unwrap(), json!({"kind": "already_done"}));
        assert_eq!(serde_json::to_value(refused("no")).unwrap(), json!({"kind": "refused", "reason": "no"}));
        assert!(serde_json::from_value::<Action>(json!({"kind": "format_disk"})).is_err());
    }
}
