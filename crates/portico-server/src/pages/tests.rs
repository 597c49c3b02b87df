//! Rendering tests: hostile input is escaped, app links are links only when http(s), each page is
//! well-formed enough for assistive technology (one main landmark, every label bound to a control, errors
//! tied to their inputs), and the forms post what the authorize flow reads. The last test writes every page
//! to target/pages-preview/ for a look in a browser.

use super::*;

const OBS_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/observation-category";

fn hidden() -> HiddenFields {
    vec![("request".into(), "req_123".into()), ("state".into(), "af0ifjsldkj".into())]
}

fn sign_in_view() -> SignInView {
    SignInView {
        app_name: "Growth Chart".into(),
        app_homepage: Some("https://growthchart.example/".into()),
        error: None,
        username: String::new(),
        hidden: hidden(),
        action: "/oauth/authorize".into(),
        desktop: false,
    }
}

fn picker_view() -> PickerView {
    PickerView {
        app_name: "Growth Chart".into(),
        query: "shaw".into(),
        patients: vec![
            PatientRow {
                id: "pat-amy".into(),
                name: "Amy V. Shaw".into(),
                birth_date: Some("1987-02-20".into()),
                gender: Some("female".into()),
                mrn: Some("0012345".into()),
            },
            PatientRow {
                id: "pat-ben".into(),
                name: "Ben Shaw".into(),
                birth_date: Some("2015-06-01".into()),
                gender: None,
                mrn: None,
            },
            PatientRow {
                id: "pat-cy".into(),
                name: "Cy Shaw-Lopez".into(),
                birth_date: None,
                gender: Some("male".into()),
                mrn: None,
            },
        ],
        hidden: hidden(),
        action: "/oauth/authorize".into(),
        error: None,
    }
}

fn scope(value: &str, description: &str, resource_type: Option<&str>) -> ScopeRow {
    ScopeRow {
        value: value.into(),
        description: description.into(),
        resource_type: resource_type.map(Into::into),
        checked: true,
        categories: Vec::new(),
    }
}

fn category(resource: &str, code: &str, label: &str) -> CategoryRow {
    CategoryRow { value: format!("patient/{resource}.rs?category={OBS_CATEGORY}|{code}"), label: label.into(), checked: true }
}

fn consent_view() -> ConsentView {
    let mut observations =
        scope("patient/Observation.rs", "Read your vital signs, lab results and other observations", Some("Observation"));
    observations.categories = vec![
        category("Observation", "vital-signs", "Vital signs"),
        category("Observation", "laboratory", "Laboratory results"),
        category("Observation", "social-history", "Social history"),
    ];
    ConsentView {
        app: AppInfo {
            name: "Growth Chart".into(),
            description: Some("Plots a child's height, weight and BMI against WHO and CDC growth curves.".into()),
            homepage: Some("https://growthchart.example/".into()),
            privacy_policy: Some("https://growthchart.example/privacy".into()),
            approved_by: vec!["Riverside Family Practice".into(), "Hillcrest Pediatrics".into()],
            developer: Some("Example Health Labs".into()),
        },
        user_display: "Amy Shaw (amy)".into(),
        patient_display: Some("Amy V. Shaw".into()),
        scopes: vec![
            scope("launch/patient", "Open your record when you start the app", None),
            scope("openid", "Confirm who you are", None),
            scope("fhirUser", "See your name and account", None),
            scope("offline_access", "Keep access while you are not using the app", None),
            scope("patient/Patient.rs", "Read your name, birth date and contact details", Some("Patient")),
            observations,
            scope("patient/Condition.rs", "Read your conditions and diagnoses", Some("Condition")),
            ScopeRow {
                checked: false,
                ..scope("patient/MedicationRequest.rs", "Read your prescriptions", Some("MedicationRequest"))
            },
        ],
        openid: true,
        fhir_user: true,
        offline_access: true,
        default_end_date: Some("2027-02-23".into()),
        min_end_date: Some("2026-11-25".into()),
        preview: vec![("Patient".into(), 1), ("Observation".into(), 342), ("Condition".into(), 12)],
        error: None,
        hidden: hidden(),
        action: "/oauth/authorize".into(),
    }
}

fn error_view() -> ErrorView {
    ErrorView {
        title: "This app cannot sign you in".into(),
        message: "The address the app asked Portico to send you back to is not one it registered.".into(),
        details: Some(
            "error: invalid_request\nredirect_uri does not match a registered redirect URI\nclient_id: pci_smart_4k2j".into(),
        ),
    }
}

const HOSTILE: &str = "<script>alert(\"x\")</script>' onmouseover='alert(1)";

/// Every page with the hostile text in each field a stranger controls.
fn hostile_pages() -> Vec<(&'static str, String)> {
    let hostile_hidden = vec![("request".to_string(), HOSTILE.to_string()), (HOSTILE.to_string(), "v".to_string())];
    let mut pages = Vec::new();
    pages.push((
        "sign-in",
        sign_in(&SignInView {
            app_name: HOSTILE.into(),
            error: Some(HOSTILE.into()),
            username: HOSTILE.into(),
            hidden: hostile_hidden.clone(),
            ..sign_in_view()
        })
        .unwrap(),
    ));
    let mut picker = picker_view();
    picker.app_name = HOSTILE.into();
    picker.query = HOSTILE.into();
    picker.error = Some(HOSTILE.into());
    picker.hidden = hostile_hidden.clone();
    picker.patients[0].id = HOSTILE.into();
    picker.patients[0].name = HOSTILE.into();
    pages.push(("picker", patient_picker(&picker).unwrap()));
    let mut view = consent_view();
    view.app.name = HOSTILE.into();
    view.app.description = Some(HOSTILE.into());
    view.app.developer = Some(HOSTILE.into());
    view.app.approved_by = vec![HOSTILE.into()];
    view.user_display = HOSTILE.into();
    view.patient_display = Some(HOSTILE.into());
    view.scopes[0].description = HOSTILE.into();
    view.scopes[4].value = HOSTILE.into();
    view.scopes[5].categories[0].label = HOSTILE.into();
    view.preview[0].0 = HOSTILE.into();
    view.error = Some(HOSTILE.into());
    view.hidden = hostile_hidden;
    pages.push(("consent", consent(&view).unwrap()));
    pages.push((
        "error",
        error_page(&ErrorView { title: HOSTILE.into(), message: HOSTILE.into(), details: Some(HOSTILE.into()) }).unwrap(),
    ));
    pages
}

#[test]
fn hostile_text_is_escaped_everywhere() {
    for (page, html) in hostile_pages() {
        // The consent page's own script tag is the only one.
        let own = format!("<script src=\"{}\" defer>", CONSENT_SCRIPT_PATH.replace('/', "&#x2f;"));
        assert!(!html.replace(&own, "").contains("<script"), "{page}: a script tag got through");
        assert!(!html.contains("' onmouseover='"), "{page}: a quote broke out of an attribute");
        assert!(!html.contains("\"x\""), "{page}: a double quote got through unescaped");
        assert!(
            html.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;&#x2f;script&gt;&#x27; onmouseover=&#x27;"),
            "{page}: escaped text missing"
        );
    }
}

#[test]
fn hidden_values_keep_their_quotes_escaped_inside_the_attribute() {
    let html = sign_in(&SignInView {
        hidden: vec![("state".into(), "a\"b'c<d>&e".into()), ("redirect_uri".into(), "https://app.example/cb?x=1&y=2".into())],
        ..sign_in_view()
    })
    .unwrap();
    assert!(html.contains(r#"<input type="hidden" name="state" value="a&quot;b&#x27;c&lt;d&gt;&amp;e">"#), "{html}");
    assert!(html.contains(r#"name="redirect_uri" value="https:&#x2f;&#x2f;app.example&#x2f;cb?x=1&amp;y=2">"#), "{html}");
}

/// App links as a developer might type them: only absolute http(s) URLs become links.
#[test]
fn app_links_are_links_only_when_http() {
    let cases: &[(&str, bool)] = &[
        ("https://growthchart.example/privacy", true),
        ("http://localhost:8080/", true),
        ("HTTPS://APP.EXAMPLE/", true),
        ("javascript:alert(1)", false),
        ("JaVaScRiPt:alert(1)", false),
        (" javascript:alert(1)", false),
        ("\tjava\nscript:alert(1)", false),
        ("data:text/html,<script>alert(1)</script>", false),
        ("vbscript:msgbox(1)", false),
        ("//evil.example/x", false),
        ("/relative/path", false),
        ("https://", false),
        ("https://growthchart.example/\"><script>alert(1)</script>", true),
        ("mailto:privacy@app.example", false),
        ("", false),
    ];
    for &(url, linked) in cases {
        let mut view = consent_view();
        view.app.homepage = Some(url.into());
        view.app.privacy_policy = None;
        let html = consent(&view).unwrap();
        let has_link = html.contains(">Homepage<span class=\"visually-hidden\">");
        assert_eq!(has_link, linked, "homepage {url:?}");
        if !linked {
            assert!(!html.to_ascii_lowercase().contains("href=\"javascript"), "{url:?}");
            assert!(!html.contains("href=\"data:") && !html.contains("href=\"vbscript:"), "{url:?}");
        }
        let html = sign_in(&SignInView { app_homepage: Some(url.into()), ..sign_in_view() }).unwrap();
        assert_eq!(html.contains("<a href="), linked, "sign-in homepage {url:?}");
    }
}

/// Counts of an opening and a closing tag (`<name` followed by space or `>`).
fn count_tag(html: &str, name: &str) -> (usize, usize) {
    let open = html.matches(&format!("<{name} ")).count() + html.matches(&format!("<{name}>")).count();
    let close = html.matches(&format!("</{name}>")).count();
    (open, close)
}

/// The values of `attr="..."` in `html`.
fn attr_values<'a>(html: &'a str, attr: &str) -> Vec<&'a str> {
    let needle = format!(" {attr}=\"");
    html.match_indices(&needle)
        .filter_map(|(i, _)| {
            let rest = &html[i + needle.len()..];
            rest.find('"').map(|end| &rest[..end])
        })
        .collect()
}

fn check_structure(page: &str, html: &str) {
    assert!(html.starts_with("<!doctype html>\n<html lang=\"en\">"), "{page}: doctype and lang");
    assert_eq!(html.matches("<title>").count(), 1, "{page}: one title");
    assert!(
        html.contains(&format!("<link rel=\"stylesheet\" href=\"{}\">", STYLESHEET_PATH.replace('/', "&#x2f;"))),
        "{page}: stylesheet"
    );
    assert!(html.contains("name=\"viewport\""), "{page}: viewport");
    assert_eq!(count_tag(html, "main"), (1, 1), "{page}: one main landmark");
    assert_eq!(count_tag(html, "h1"), (1, 1), "{page}: one h1");
    for tag in ["form", "fieldset", "legend", "ul", "li", "table", "section", "div", "label", "button", "details", "p", "dl"] {
        let (open, close) = count_tag(html, tag);
        assert_eq!(open, close, "{page}: <{tag}> opened {open} times, closed {close}");
    }
    assert_eq!(count_tag(html, "fieldset").0, count_tag(html, "legend").0, "{page}: every fieldset has a legend");
    let ids = attr_values(html, "id");
    let mut unique = ids.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "{page}: duplicate ids {ids:?}");
    for target in attr_values(html, "for") {
        assert!(ids.contains(&target), "{page}: label for={target} has no control");
    }
    for described in attr_values(html, "aria-describedby") {
        for id in described.split(' ') {
            assert!(ids.contains(&id), "{page}: aria-describedby={id} points nowhere");
        }
    }
    for (i, _) in html.match_indices("<form ") {
        let tag = &html[i..i + html[i..].find('>').unwrap_or(0)];
        assert!(tag.contains("method=\"post\"") && tag.contains("action=\"&#x2f;oauth&#x2f;authorize\""), "{page}: {tag}");
    }
    // Every visible input is labelled: its id is some label's `for`.
    let fors = attr_values(html, "for");
    for (i, _) in html.match_indices("<input ") {
        let tag = &html[i..i + html[i..].find('>').unwrap_or(0)];
        if tag.contains("type=\"hidden\"") {
            continue;
        }
        let id = attr_values(tag, "id");
        assert!(id.len() == 1 && fors.contains(&id[0]), "{page}: unlabelled input {tag}");
    }
    // One optional script, on the consent page only, from our own origin.
    let scripts = if page.starts_with("consent") { 1 } else { 0 };
    assert_eq!(html.matches("<script").count(), scripts, "{page}: scripts");
    if scripts == 1 {
        let tag = format!("<script src=\"{}\" defer></script>", CONSENT_SCRIPT_PATH.replace('/', "&#x2f;"));
        assert!(html.contains(&tag), "{page}: {tag}");
    }
}

#[test]
fn every_page_is_well_formed_and_labelled() {
    let mut sign_in_error = sign_in_view();
    sign_in_error.error = Some("Wrong username or password.".into());
    sign_in_error.username = "amy".into();
    let mut picker_error = picker_view();
    picker_error.error = Some("Choose a patient to continue.".into());
    let picker_empty = PickerView { patients: Vec::new(), ..picker_view() };
    let mut consent_error = consent_view();
    consent_error.error = Some("The end date must be today or later.".into());
    let consent_small = ConsentView {
        scopes: vec![scope("patient/Patient.rs", "Read your name", Some("Patient"))],
        openid: false,
        fhir_user: false,
        offline_access: false,
        default_end_date: None,
        min_end_date: None,
        patient_display: None,
        preview: Vec::new(),
        app: AppInfo {
            description: None,
            homepage: None,
            privacy_policy: None,
            approved_by: Vec::new(),
            developer: None,
            ..consent_view().app
        },
        ..consent_view()
    };
    let pages = [
        ("sign-in", sign_in(&sign_in_view()).unwrap()),
        ("sign-in error", sign_in(&sign_in_error).unwrap()),
        ("picker", patient_picker(&picker_view()).unwrap()),
        ("picker error", patient_picker(&picker_error).unwrap()),
        ("picker empty", patient_picker(&picker_empty).unwrap()),
        ("consent", consent(&consent_view()).unwrap()),
        ("consent error", consent(&consent_error).unwrap()),
        ("consent small", consent(&consent_small).unwrap()),
        ("error", error_page(&error_view()).unwrap()),
        ("error without details", error_page(&ErrorView { details: None, ..error_view() }).unwrap()),
    ];
    for (page, html) in &pages {
        check_structure(page, html);
        if page.starts_with("sign-in") || page.starts_with("picker") || page.starts_with("consent") {
            for (name, value) in hidden() {
                let field = format!("<input type=\"hidden\" name=\"{name}\" value=\"{value}\">");
                let forms = html.matches("<form ").count();
                assert_eq!(html.matches(&field).count(), forms, "{page}: every form carries {name}");
            }
        }
    }
}

/// What each page must say and post, as (page, html, required fragments, forbidden fragments).
#[test]
fn pages_say_and_post_what_the_flow_reads() {
    let mut sign_in_error = sign_in_view();
    sign_in_error.error = Some("Wrong username or password.".into());
    sign_in_error.username = "amy".into();
    let mut picker_error = picker_view();
    picker_error.error = Some("Choose a patient to continue.".into());
    let mut consent_online = consent_view();
    consent_online.offline_access = false;
    consent_online.scopes.retain(|s| s.value != "offline_access");
    consent_online.default_end_date = None;
    let mut consent_error = consent_view();
    consent_error.error = Some("The end date must be today or later.".into());
    let cases: Vec<(&str, String, Vec<&str>, Vec<&str>)> = vec![
        (
            "sign-in",
            sign_in(&sign_in_view()).unwrap(),
            vec![
                "<label for=\"username\">Username</label>",
                "<label for=\"password\">Password</label>",
                "name=\"username\"",
                "name=\"password\" type=\"password\" autocomplete=\"current-password\"",
                "<a href=\"https:&#x2f;&#x2f;growthchart.example&#x2f;\"",
                "name=\"action\" value=\"sign_in\" class=\"primary wide\">Sign in</button>",
            ],
            vec!["aria-invalid", "role=\"alert\""],
        ),
        (
            "sign-in error",
            sign_in(&sign_in_error).unwrap(),
            vec![
                "<p id=\"signin-error\" class=\"alert error\" role=\"alert\">Wrong username or password.</p>",
                "value=\"amy\"",
                "aria-invalid=\"true\" aria-describedby=\"signin-error\"",
            ],
            vec![],
        ),
        (
            "picker",
            patient_picker(&picker_view()).unwrap(),
            vec![
                "<label for=\"q\">Search patients</label>",
                "name=\"q\" type=\"search\" value=\"shaw\"",
                "name=\"action\" value=\"search\"",
                "<legend>Patients matching “shaw”</legend>",
                "type=\"radio\" id=\"patient-1\" name=\"patient\" value=\"pat-amy\"",
                "Born 1987-02-20 · female",
                "name=\"action\" value=\"select_patient\" class=\"primary\">Continue</button>",
            ],
            vec!["disabled", " checked"],
        ),
        (
            "picker error",
            patient_picker(&picker_error).unwrap(),
            vec!["id=\"picker-error\"", "<fieldset class=\"choices\" aria-describedby=\"picker-error\">"],
            vec![],
        ),
        (
            "picker empty",
            patient_picker(&PickerView { patients: Vec::new(), ..picker_view() }).unwrap(),
            vec!["No patient matches “shaw”", "Continue</button>", " disabled>Continue"],
            vec!["type=\"radio\""],
        ),
        (
            "consent",
            consent(&consent_view()).unwrap(),
            vec![
                "Growth Chart wants access to Amy V. Shaw’s health record",
                "Signed in as <strong>Amy Shaw (amy)</strong>",
                "Riverside Family Practice, Hillcrest Pediatrics",
                ">Homepage<span",
                ">Privacy policy<span",
                "Example Health Labs",
                // The offline notice, boxed, with the end date.
                "<div class=\"notice warn\" role=\"note\">",
                "This app asks to keep access when you are not using it, until <strong class=\"date\">23 February 2027</strong>",
                // A checkbox per resource scope, ticked as the view says.
                "type=\"checkbox\" id=\"scope-1\" name=\"scope\" value=\"patient&#x2f;Patient.rs\" checked>",
                "name=\"scope\" value=\"patient&#x2f;MedicationRequest.rs\">",
                "Read your vital signs, lab results and other observations",
                // Category sub-options for Observation.
                "<legend>Or only these kinds of Observation</legend>",
                "value=\"patient&#x2f;Observation.rs?category=http:&#x2f;&#x2f;terminology.hl7.org&#x2f;CodeSystem&#x2f;observation-category|laboratory\" checked>",
                ">Laboratory results</label>",
                // Scopes without a checkbox are stated in words and posted as they are.
                "Keep access while you are not using the app",
                "<input type=\"hidden\" name=\"scope\" value=\"offline_access\">",
                "<input type=\"hidden\" name=\"scope\" value=\"launch&#x2f;patient\">",
                // End date.
                "<label for=\"end_date\">Access ends on</label>",
                "name=\"end_date\" type=\"date\" value=\"2027-02-23\" min=\"2026-11-25\"",
                // Preview.
                "<h2 id=\"preview-title\">What Growth Chart would receive</h2>",
                "<tr><th scope=\"row\">Observation</th><td class=\"num\">342</td></tr>",
                "<tr><th scope=\"row\">Total</th><td class=\"num\">355</td></tr>",
                "name=\"action\" value=\"preview\"",
                "name=\"action\" value=\"deny\" class=\"secondary\">Deny</button>",
                "name=\"action\" value=\"allow\" class=\"primary\">Allow</button>",
            ],
            // Four resource rows; the other scopes have no checkbox.
            vec!["role=\"alert\"", "id=\"scope-5\"", "value=\"openid\" checked"],
        ),
        (
            "consent online",
            consent(&consent_online).unwrap(),
            vec!["name=\"end_date\" type=\"date\" value=\"\"", "Optional. Leave empty"],
            vec!["notice warn", "keep access when you are not using it"],
        ),
        (
            "consent error",
            consent(&consent_error).unwrap(),
            vec!["id=\"consent-error\"", "aria-describedby=\"end-date-hint consent-error\" aria-invalid=\"true\""],
            vec![],
        ),
        (
            "error",
            error_page(&error_view()).unwrap(),
            vec![
                "<h1>This app cannot sign you in</h1>",
                "start again from the app",
                "<summary>Details for the app's developer</summary>",
                "redirect_uri does not match",
            ],
            vec!["<form", "<a "],
        ),
    ];
    for (page, html, required, forbidden) in cases {
        for fragment in required {
            assert!(html.contains(fragment), "{page}: missing {fragment:?}\n{html}");
        }
        for fragment in forbidden {
            assert!(!html.contains(fragment), "{page}: unexpected {fragment:?}");
        }
    }
}

/// Pressing Enter in a field submits with the form's first submit button; on the consent page that must
/// be "Update preview", never "Allow".
#[test]
fn enter_on_the_consent_form_previews_rather_than_allows() {
    let html = consent(&consent_view()).unwrap();
    let form = &html[html.find("<form ").unwrap()..];
    let first_button = &form[form.find("<button ").unwrap()..];
    assert!(first_button.starts_with("<button type=\"submit\" name=\"action\" value=\"preview\""), "{first_button}");
}

#[tokio::test]
async fn the_assets_are_served_with_their_types() {
    for (response, content_type, start) in [
        (stylesheet().await, "text/css; charset=utf-8", "/* Portico"),
        (consent_script().await, "text/javascript; charset=utf-8", "// Portico"),
    ] {
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[header::CONTENT_TYPE], content_type);
        assert_eq!(response.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        assert!(body.starts_with(start.as_bytes()), "{content_type}");
    }
}

#[test]
fn end_dates_are_written_in_words() {
    for (input, shown) in [
        ("2027-02-23", "23 February 2027"),
        ("2026-12-01", "1 December 2026"),
        ("2027-02-30", "2027-02-30"),
        ("23/02/2027", "23/02/2027"),
        ("", ""),
    ] {
        assert_eq!(long_date(input), shown, "{input:?}");
    }
}

#[test]
fn page_responses_are_not_cached_or_framed() {
    let response = html(StatusCode::BAD_REQUEST, error_page(&error_view()).unwrap());
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let h = response.headers();
    assert_eq!(h[header::CONTENT_TYPE], "text/html; charset=utf-8");
    assert_eq!(h[header::CACHE_CONTROL], "no-store");
    assert_eq!(h[header::X_FRAME_OPTIONS], "DENY");
    let csp = h[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"), "{csp}");
    // Browsers apply form-action to the redirect after a posted form, which leaves for the app.
    assert!(!csp.contains("form-action"), "{csp}");
}

/// Writes each page, and a hostile one, to target/pages-preview/ beside a copy of the stylesheet, for a
/// look in a browser (headless chromium screenshots).
#[test]
fn pages_render_to_preview_files() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/pages-preview");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("pages.css"), STYLESHEET).unwrap();
    std::fs::write(dir.join("consent.js"), CONSENT_SCRIPT).unwrap();
    let mut sign_in_error = sign_in_view();
    sign_in_error.error = Some("Wrong username or password. Check them and try again.".into());
    sign_in_error.username = "amy".into();
    let files = [
        ("sign-in.html", sign_in(&sign_in_view()).unwrap()),
        ("sign-in-error.html", sign_in(&sign_in_error).unwrap()),
        ("picker.html", patient_picker(&picker_view()).unwrap()),
        ("picker-empty.html", patient_picker(&PickerView { patients: Vec::new(), query: "zz".into(), ..picker_view() }).unwrap()),
        ("consent.html", consent(&consent_view()).unwrap()),
        ("error.html", error_page(&error_view()).unwrap()),
        ("hostile-consent.html", hostile_pages().remove(2).1),
    ];
    let linked = format!("href=\"{}\"", STYLESHEET_PATH.replace('/', "&#x2f;"));
    for (name, html) in files {
        assert!(html.contains(&linked));
        let script = format!("src=\"{}\"", CONSENT_SCRIPT_PATH.replace('/', "&#x2f;"));
        let html = html.replace(&linked, "href=\"pages.css\"").replace(&script, "src=\"consent.js\"");
        std::fs::write(dir.join(name), html).unwrap();
    }
}
