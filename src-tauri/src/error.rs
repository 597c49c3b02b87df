//! The one error shape every command rejects with: `{code, message}`, as the management API uses.

use portico_client::ClientError;
use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct CommandError {
    pub code: String,
    pub message: String,
}

impl CommandError {
    pub fn new(code: &str, message: impl Into<String>) -> CommandError {
        CommandError { code: code.to_owned(), message: message.into() }
    }

    pub fn unauthenticated() -> CommandError {
        CommandError::new("unauthenticated", "Please sign in.")
    }
}

impl From<ClientError> for CommandError {
    fn from(e: ClientError) -> CommandError {
        match e {
            ClientError::Api { code, message, .. } => {
                let code = serde_json::to_value(code)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_else(|| "internal".into());
                CommandError { code, message }
            }
            ClientError::Fhir { status, diagnostics, .. } => {
                let code = match status {
                    401 => "unauthenticated",
                    403 => "forbidden",
                    404 | 410 => "not_found",
                    400 | 422 => "invalid_input",
                    _ => "internal",
                };
                CommandError::new(code, diagnostics)
            }
            ClientError::Transport(_) => CommandError::new("unavailable", "The Portico service cannot be reached."),
            other => CommandError::new("internal", other.to_string()),
        }
    }
}
