//! What the JSON API demands of every request a browser could send: state
//! changes come as JSON from a page of this site (CSRF), and no answer is
//! kept in a cache (tokens, enrolment keys) or sniffed as another type.

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

pub async fn guard(request: Request, next: Next) -> Response {
    let mut response = match check(request.method(), request.headers()) {
        Ok(()) => next.run(request).await,
        Err(e) => e.into_response(),
    };
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// A state change (any method but GET, HEAD, OPTIONS) must be JSON — a
/// form of another site cannot send that without a CORS preflight we never
/// answer — and, where the browser says where it comes from
/// (`Sec-Fetch-Site`, `Origin`), come from this site.
fn check(method: &Method, headers: &HeaderMap) -> Result<(), ApiError> {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    let text = |name: header::HeaderName| headers.get(name).map(|v| v.to_str().unwrap_or("?"));
    if let Some(site) = text(header::HeaderName::from_static("sec-fetch-site"))
        && !matches!(site, "same-origin" | "none")
    {
        return Err(ApiError::CrossSite(format!(
            "`Sec-Fetch-Site: {site}`: state changes are accepted from this site's pages only"
        )));
    }
    if let Some(origin) = text(header::ORIGIN) {
        let host = text(header::HOST).unwrap_or("");
        if origin_authority(origin)
            .is_none_or(|a| !a.eq_ignore_ascii_case(&strip_default_port(host, None)))
        {
            return Err(ApiError::CrossSite(format!(
                "`Origin: {}` is not this site (`Host: {}`)",
                mfa_reset::log_text::Shown(origin),
                mfa_reset::log_text::Shown(host)
            )));
        }
    }
    let is_json = text(header::CONTENT_TYPE).is_some_and(|ct| {
        ct.split(';')
            .next()
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
    });
    if !is_json {
        return Err(ApiError::NotJson);
    }
    Ok(())
}

/// `scheme://host[:port]` → `host[:port]` without the scheme's default port.
fn origin_authority(origin: &str) -> Option<String> {
    let (scheme, authority) = origin.split_once("://")?;
    if authority.is_empty() || authority.contains('/') {
        return None;
    }
    Some(strip_default_port(authority, Some(scheme)))
}

fn strip_default_port(authority: &str, scheme: Option<&str>) -> String {
    let default = match scheme {
        Some("https") => ":443",
        Some("http") => ":80",
        _ => return authority.to_string(),
    };
    authority
        .strip_suffix(default)
        .unwrap_or(authority)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    header::HeaderName::from_static(k),
                    HeaderValue::from_static(v),
                )
            })
            .collect()
    }

    #[test]
    fn cross_site_and_non_json_state_changes_are_refused() {
        let json = ("content-type", "application/json");
        let post = Method::POST;
        assert!(check(&post, &headers(&[json])).is_ok());
        assert!(
            check(
                &post,
                &headers(&[("content-type", "Application/JSON; charset=utf-8")])
            )
            .is_ok()
        );
        assert!(
            check(
                &post,
                &headers(&[
                    json,
                    ("host", "a.test:8000"),
                    ("origin", "http://a.test:8000")
                ])
            )
            .is_ok()
        );
        assert!(
            check(
                &post,
                &headers(&[json, ("host", "a.test"), ("origin", "https://a.test:443")])
            )
            .is_ok()
        );
        assert!(check(&post, &headers(&[json, ("sec-fetch-site", "same-origin")])).is_ok());
        for bad in [
            headers(&[]),
            headers(&[("content-type", "text/plain")]),
            headers(&[("content-type", "application/x-www-form-urlencoded")]),
            headers(&[json, ("sec-fetch-site", "cross-site")]),
            headers(&[json, ("sec-fetch-site", "same-site")]),
            headers(&[json, ("host", "a.test"), ("origin", "https://evil.test")]),
            headers(&[json, ("host", "a.test"), ("origin", "null")]),
            headers(&[
                json,
                ("host", "a.test:8000"),
                ("origin", "http://a.test:9000"),
            ]),
        ] {
            assert!(check(&post, &bad).is_err(), "{bad:?}");
        }
        // Reads need none of it.
        assert!(check(&Method::GET, &headers(&[("sec-fetch-site", "cross-site")])).is_ok());
    }
}
