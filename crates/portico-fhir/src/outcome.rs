//! OperationOutcome bodies for error responses.

use serde_json::{json, Value};

/// The R4 `issue-type` codes Portico reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssueCode {
    Invalid,
    NotFound,
    Forbidden,
    Security,
    Login,
    NotSupported,
    Conflict,
    Deleted,
    TooLong,
    Exception,
    Processing,
    /// The service cannot answer now; the same request may work later.
    Transient,
    /// Too many requests or attempts.
    Throttled,
}

impl IssueCode {
    /// The code as it appears in `OperationOutcome.issue.code`.
    pub fn as_str(self) -> &'static str {
        match self {
            IssueCode::Invalid => "invalid",
            IssueCode::NotFound => "not-found",
            IssueCode::Forbidden => "forbidden",
            IssueCode::Security => "security",
            IssueCode::Login => "login",
            IssueCode::NotSupported => "not-supported",
            IssueCode::Conflict => "conflict",
            IssueCode::Deleted => "deleted",
            IssueCode::TooLong => "too-long",
            IssueCode::Exception => "exception",
            IssueCode::Processing => "processing",
            IssueCode::Transient => "transient",
            IssueCode::Throttled => "throttled",
        }
    }
}

/// {"resourceType":"OperationOutcome","issue":[{"severity":"error","code":<code>,"diagnostics":<msg>}]}
pub fn operation_outcome(code: IssueCode, diagnostics: &str) -> Value {
    json!({
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code.as_str(), "diagnostics": diagnostics}],
    })
}

/// An OperationOutcome of warnings, one issue per sentence: something the request asked for that the answer
/// does not reflect, although the answer is still given.
pub fn warnings(code: IssueCode, diagnostics: &[String]) -> Value {
    let issues: Vec<Value> =
        diagnostics.iter().map(|d| json!({"severity": "warning", "code": code.as_str(), "diagnostics": d})).collect();
    json!({"resourceType": "OperationOutcome", "issue": issues})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_shape() {
        for (code, text) in [
            (IssueCode::Invalid, "invalid"),
            (IssueCode::NotFound, "not-found"),
            (IssueCode::Forbidden, "forbidden"),
            (IssueCode::Security, "security"),
            (IssueCode::Login, "login"),
            (IssueCode::NotSupported, "not-supported"),
            (IssueCode::Conflict, "conflict"),
            (IssueCode::Deleted, "deleted"),
            (IssueCode::TooLong, "too-long"),
            (IssueCode::Exception, "exception"),
            (IssueCode::Processing, "processing"),
        ] {
            let o = operation_outcome(code, "why");
            assert_eq!(
                o,
                json!({"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": text, "diagnostics": "why"}]})
            );
        }
    }
}
