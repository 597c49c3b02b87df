//! A SMART app's side of the standalone launch, without a browser: the authorization pages driven as the
//! plain HTML forms they are (sign in, allow), then the token endpoint (code with PKCE, refresh) and
//! revocation (RFC 7009). For `portico demo`, which shows each step; a real app sends a person's browser
//! to the authorize URL instead.
//!
//! The pages are read the way a browser submits them: the hidden `request` and `csrf` fields and every
//! `scope` field of the consent form (so "allow" gives what the page offered, nothing added). Tokens are
//! held only in memory and never printed by `Debug`.

use reqwest::redirect::Policy;
use serde::Deserialize;
use serde_json::Value;
use url::Url;

use crate::{ClientError, Result};

/// The parameters of an authorization request (RFC 6749 §4.1.1 with PKCE and SMART's `aud`).
#[derive(Clone, Debug)]
pub struct AuthorizeRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub scope: String,
    pub state: String,
    /// The FHIR base the token is for.
    pub aud: String,
    /// BASE64URL(SHA-256(verifier)), method S256.
    pub code_challenge: String,
}

/// Where the consent ended: the redirect back to the app.
#[derive(Clone, Debug)]
pub struct Authorized {
    pub code: String,
    pub state: String,
    /// The scope values the consent page offered and the user allowed.
    pub allowed: Vec<String>,
}

/// A token response for a registered app (RFC 6749 §5.1 with SMART's fields).
#[derive(Clone, Deserialize)]
pub struct SmartToken {
    pub access_token: String,
    pub token_type: String,
    pub expires_in: i64,
    pub scope: String,
    #[serde(default)]
    pub patient: Option<String>,
    #[serde(default)]
    pub refresh_token: Option<String>,
    #[serde(default)]
    pub id_token: Option<String>,
}

impl std::fmt::Debug for SmartToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmartToken")
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .field("patient", &self.patient)
            .field("refresh_token", &self.refresh_token.is_some())
            .field("id_token", &self.id_token.is_some())
            .finish_non_exhaustive()
    }
}

/// One app's conversation with the service's OAuth endpoints.
#[derive(Clone, Debug)]
pub struct SmartApp {
    http: reqwest::Client,
    base: Url,
    client_id: String,
}

impl SmartApp {
    /// `base` is the service root (e.g. `http://127.0.0.1:8080`); the app is a public client `client_id`.
    pub fn new(base: &str, client_id: &str) -> Result<SmartApp> {
        // Redirects are the answer here (the code comes back in one), so they are never followed.
        let http = reqwest::Client::builder().redirect(Policy::none()).build()?;
        Ok(SmartApp { http, base: crate::parse_base(base)?, client_id: client_id.to_owned() })
    }

    fn url(&self, path: &str) -> Result<Url> {
        self.base.join(path).map_err(|e| ClientError::Url(e.to_string()))
    }

    /// The URL a browser would be sent to.
    pub fn authorize_url(&self, req: &AuthorizeRequest) -> Result<Url> {
        let mut url = self.url("oauth/authorize")?;
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &req.client_id)
            .append_pair("redirect_uri", &req.redirect_uri)
            .append_pair("scope", &req.scope)
            .append_pair("state", &req.state)
            .append_pair("aud", &req.aud)
            .append_pair("code_challenge", &req.code_challenge)
            .append_pair("code_challenge_method", "S256");
        Ok(url)
    }

    /// Opens the authorize page, signs in as `username` and allows everything the consent page offers;
    /// returns the code from the redirect. `on_page` hears the title of each page on the way.
    pub async fn authorize_as(
        &self,
        req: &AuthorizeRequest,
        username: &str,
        password: &str,
        mut on_page: impl FnMut(&str),
    ) -> Result<Authorized> {
        let first = self.http.get(self.authorize_url(req)?).send().await?;
        let html = page_text(first).await?;
        on_page(&title(&html));
        let request = hidden(&html, "request").ok_or_else(|| unexpected(200, "the sign-in page carries no request"))?;
        let signed_in = self
            .http
            .post(self.url("oauth/authorize")?)
            .form(&[("request", request.as_str()), ("username", username), ("password", password), ("action", "sign_in")])
            .send()
            .await?;
        // The session cookie of the pages, for the consent post.
        let cookie = signed_in
            .headers()
            .get(reqwest::header::SET_COOKIE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(str::to_owned);
        let html = page_text(signed_in).await?;
        on_page(&title(&html));
        let csrf = hidden(&html, "csrf").ok_or_else(|| unexpected(200, "no consent form after signing in (wrong password?)"))?;
        let request = hidden(&html, "request").unwrap_or(request);
        let allowed = field_values(&html, "scope");
        let mut form: Vec<(&str, &str)> = vec![("request", &request), ("csrf", &csrf), ("action", "allow")];
        form.extend(allowed.iter().map(|s| ("scope", s.as_str())));
        let mut post = self.http.post(self.url("oauth/authorize")?).form(&form);
        if let Some(c) = &cookie {
            post = post.header(reqwest::header::COOKIE, c);
        }
        let done = post.send().await?;
        let status = done.status().as_u16();
        let location = done.headers().get(reqwest::header::LOCATION).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let location = location.ok_or_else(|| unexpected(status, "the consent did not redirect back to the app"))?;
        let back = Url::parse(&location).map_err(|e| ClientError::Url(e.to_string()))?;
        let param = |name: &str| back.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned());
        if let Some(error) = param("error") {
            return Err(ClientError::OAuth { status, error, description: param("error_description").unwrap_or_default() });
        }
        let code = param("code").ok_or_else(|| unexpected(status, "the redirect carries no code"))?;
        Ok(Authorized { code, state: param("state").unwrap_or_default(), allowed })
    }

    /// `authorization_code` with the PKCE verifier (a public client: no secret).
    pub async fn exchange_code(&self, code: &str, redirect_uri: &str, verifier: &str) -> Result<SmartToken> {
        self.token(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", verifier),
            ("client_id", &self.client_id),
        ])
        .await
    }

    /// `refresh_token`: the answer carries the next refresh token (rotation).
    pub async fn refresh(&self, refresh_token: &str) -> Result<SmartToken> {
        self.token(&[("grant_type", "refresh_token"), ("refresh_token", refresh_token), ("client_id", &self.client_id)]).await
    }

    async fn token(&self, form: &[(&str, &str)]) -> Result<SmartToken> {
        let resp = self.http.post(self.url("oauth/token")?).form(form).send().await?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await?;
        if status == 200 {
            return serde_json::from_slice(&bytes).map_err(|_| unexpected(200, "malformed token response"));
        }
        Err(oauth_error(status, &bytes))
    }

    /// RFC 7009: revokes `token` (`hint`: `access_token` or `refresh_token`). The service answers 200
    /// whether or not the token was live, so only a refusal is an error.
    pub async fn revoke(&self, token: &str, hint: &str) -> Result<()> {
        let form = [("token", token), ("token_type_hint", hint), ("client_id", &self.client_id)];
        let resp = self.http.post(self.url("oauth/revoke")?).form(&form).send().await?;
        let status = resp.status().as_u16();
        if status == 200 {
            return Ok(());
        }
        Err(oauth_error(status, &resp.bytes().await?))
    }
}

async fn page_text(resp: reqwest::Response) -> Result<String> {
    let status = resp.status().as_u16();
    let text = resp.text().await?;
    if status != 200 {
        let t = title(&text);
        return Err(unexpected(status, if t.is_empty() { "the authorization page failed" } else { &t }));
    }
    Ok(text)
}

fn unexpected(status: u16, body: &str) -> ClientError {
    ClientError::Unexpected { status, body: body.to_owned() }
}

fn oauth_error(status: u16, bytes: &[u8]) -> ClientError {
    let v: Value = serde_json::from_slice(bytes).unwrap_or(Value::Null);
    ClientError::OAuth {
        status,
        error: v["error"].as_str().unwrap_or("unknown").to_owned(),
        description: v["error_description"].as_str().unwrap_or("").to_owned(),
    }
}

/// Undoes the HTML escaping of an attribute value or text.
fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&#x2f;", "/")
        .replace("&#x2F;", "/")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The page's `<title>`, unescaped.
fn title(html: &str) -> String {
    let Some(start) = html.find("<title>").map(|i| i + "<title>".len()) else { return String::new() };
    let end = html[start..].find("</title>").map_or(html.len(), |i| start + i);
    unescape(html[start..end].trim())
}

/// The value of the first field named `name`.
fn hidden(html: &str, name: &str) -> Option<String> {
    field_values(html, name).into_iter().next()
}

/// The values of every `<input name="NAME" value="…">` on the page, in order (each once).
fn field_values(html: &str, name: &str) -> Vec<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let mut out: Vec<String> = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find(&marker) {
        let start = i + marker.len();
        let Some(len) = rest[start..].find('"') else { break };
        let v = unescape(&rest[start..start + len]);
        if !out.contains(&v) {
            out.push(v);
        }
        rest = &rest[start + len..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_fields_a_browser_would_post() {
        let html = r#"<title>Allow &quot;A&amp;B&quot;?</title>
            <input type="hidden" name="request" value="r&#x2f;1">
            <input type="checkbox" id="s1" name="scope" value="patient/Patient.rs" checked>
            <input type="hidden" name="scope" value="openid"><input type="hidden" name="scope" value="openid">
            <input type="hidden" name="csrf" value="c-2">"#;
        assert_eq!(title(html), "Allow \"A&B\"?");
        assert_eq!(hidden(html, "request").as_deref(), Some("r/1"));
        assert_eq!(hidden(html, "csrf").as_deref(), Some("c-2"));
        assert_eq!(hidden(html, "patient"), None);
        assert_eq!(field_values(html, "scope"), ["patient/Patient.rs", "openid"]);
    }
}
