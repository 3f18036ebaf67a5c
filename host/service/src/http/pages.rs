//! The console's pages under `/console/`: one static shell and its assets,
//! embedded in the binary (no CDN; works offline). They hold no data and
//! decide nothing — every fact and every answer comes from the JSON API,
//! which the policies decide — so serving them needs no session.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::app::AppState;

const SHELL: &str = include_str!("../../console/console.html");

/// The pages the shell shows (its script picks the view by the last path
/// segment). Links between them are relative, so a gateway may mount the
/// console under another prefix as long as `/api/` sits beside it.
const PAGES: [&str; 7] = [
    "login",
    "profile",
    "organization",
    "expired",
    "invitation",
    "support",
    "cancel-case",
];

const ASSETS: [(&str, &str, &str); 5] = [
    (
        "console.css",
        "text/css; charset=utf-8",
        include_str!("../../console/console.css"),
    ),
    (
        "console.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/console.js"),
    ),
    (
        "common.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/common.js"),
    ),
    (
        "support.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/support.js"),
    ),
    (
        "codes.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/codes.js"),
    ),
];

/// Scripts and styles of this site only, no inline code, no framing, and
/// nothing sent anywhere else: an injected string can neither run nor leak
/// the enrolment key. `img-src data:` is the QR code.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; \
     base-uri 'none'";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console", get(|| async { see_other("console/") }))
        // The login page: a visitor without a session sees it at once,
        // one with a session goes on from there to the profile.
        .route("/console/", get(|| async { see_other("login") }))
        .route("/console/{page}", get(page))
        .route("/console/assets/{file}", get(asset))
}

async fn page(Path(page): Path<String>) -> Response {
    if PAGES.contains(&page.as_str()) {
        served("text/html; charset=utf-8", SHELL)
    } else {
        not_found()
    }
}

async fn asset(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|(name, _, _)| *name == file) {
        Some((_, content_type, body)) => served(content_type, body),
        None => not_found(),
    }
}

fn served(content_type: &'static str, body: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        // The support link of an expired session leaks no console URL.
        (header::REFERRER_POLICY, "no-referrer"),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
        // Not kept, not even for the back button: an enrolment page holds
        // a key, and a page after logout must not come back.
        (header::CACHE_CONTROL, "no-store"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// A relative redirect: right behind a gateway that mounts the console
/// elsewhere too.
fn see_other(location: &'static str) -> Response {
    (
        StatusCode::SEE_OTHER,
        [(header::LOCATION, HeaderValue::from_static(location))],
    )
        .into_response()
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "no such console page\n",
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shell_links_only_assets_that_are_served() {
        for reference in SHELL
            .split(['"', '\''])
            .filter(|s| s.starts_with("assets/"))
        {
            let file = reference.trim_start_matches("assets/");
            assert!(
                ASSETS.iter().any(|(name, _, _)| *name == file),
                "{reference} is linked but not served"
            );
        }
    }

    #[test]
    fn the_shell_has_no_inline_script_or_style() {
        // The content security policy would block them.
        let lower = SHELL.to_lowercase();
        for script in lower.split("<script").skip(1) {
            let tag = &script[..script.find('>').expect("a closed tag")];
            assert!(tag.contains(" src="), "inline script: <script{tag}>");
        }
        assert!(!lower.contains("<style") && !lower.contains(" style="));
        assert!(!lower.contains("javascript:"));
        for handler in ["onclick=", "onload=", "onerror=", "onsubmit=", "onchange="] {
            assert!(!lower.contains(handler), "{handler}");
        }
    }
}
