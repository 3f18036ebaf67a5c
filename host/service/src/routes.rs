//! The gateway route map: path prefix and methods → Cedar action.
//!
//! Paths are matched whole segment by segment, case-insensitively, after
//! one canonical normalization ([`canonical_path`]); the rule with the
//! longest matching prefix decides, and a method it does not list is
//! denied rather than passed on to a shorter rule.

use serde::Deserialize;

/// The route map shipped in `host/service/deploy/routes.toml`, used by default.
pub const DEFAULT_ROUTES: &str = include_str!("../deploy/routes.toml");

/// One rule of the route map: a path prefix, its methods, its Cedar action.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// Matches paths whose first segments are these (`/app/admin/`
    /// matches `/app/admin` and `/app/admin/users`, not
    /// `/app/administrator`).
    pub prefix: String,
    /// Upper-case methods; any method when empty.
    #[serde(default)]
    pub methods: Vec<String>,
    /// The Cedar action deciding requests on this route.
    pub action: String,
    /// `prefix` in canonical form, filled by [`RouteMap::parse`].
    #[serde(skip)]
    segments: Vec<String>,
}

/// The gateway route map: which Cedar action decides a forwarded request.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RouteMap {
    /// The rules; the longest matching prefix decides.
    #[serde(rename = "route")]
    pub routes: Vec<Route>,
}

/// What the route map says of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteMatch<'a> {
    /// Decide with this Cedar action.
    Action(&'a str),
    /// A suffix spelling of a longer rule's prefix: both actions must allow
    /// (the rule the path matches exactly, then the longer one), since the
    /// backend may serve it as either.
    Both(&'a str, &'a str),
    /// The most specific rule matches the path but not the method.
    MethodNotAllowed,
    /// No rule matches the path.
    NoRoute,
}

/// Why a route map is refused: where (`route[2].prefix`, or the TOML
/// itself) and why, with the value as written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}{message}")]
pub struct RouteMapError {
    /// The route and key (`route[2].prefix`), empty for TOML syntax.
    pub field: String,
    /// Why, with the value as written.
    pub message: String,
}

impl RouteMapError {
    fn at(i: usize, key: &str, message: String) -> Self {
        Self {
            field: format!("route[{i}].{key}"),
            message: format!(": {message}"),
        }
    }
}

impl RouteMap {
    /// A route map from its TOML form (`deploy/routes.toml`), every rule
    /// checked.
    pub fn parse(toml_text: &str) -> Result<Self, RouteMapError> {
        let mut map: Self = toml::from_str(toml_text).map_err(|e| RouteMapError {
            field: String::new(),
            message: e.to_string(),
        })?;
        for i in 0..map.routes.len() {
            let r = &map.routes[i];
            let canonical = canonical_path(&r.prefix)
                .map_err(|why| RouteMapError::at(i, "prefix", format!("`{}`: {why}", r.prefix)))?;
            if r.prefix.chars().any(char::is_uppercase) {
                return Err(RouteMapError::at(
                    i,
                    "prefix",
                    format!(
                        "`{}`: write prefixes in lower case (paths match case-insensitively)",
                        r.prefix
                    ),
                ));
            }
            if let Some(m) = r.methods.iter().find(|m| !is_method(m)) {
                return Err(RouteMapError::at(
                    i,
                    "methods",
                    format!("`{m}` is not an upper-case HTTP method"),
                ));
            }
            if r.action.trim().is_empty() {
                return Err(RouteMapError::at(i, "action", "must not be empty".into()));
            }
            let same = map.routes[..i].iter().position(|o| o.segments == canonical);
            if let Some(j) = same {
                return Err(RouteMapError::at(
                    i,
                    "prefix",
                    format!(
                        "`{}` is the prefix of route[{j}] too: list its methods in one rule",
                        r.prefix
                    ),
                ));
            }
            map.routes[i].segments = canonical;
        }
        Ok(map)
    }

    /// The rule for `method` on `segments` (from `canonical_path`): the
    /// longest prefix matching whole segments decides. A path some rule
    /// matches exactly, and a longer rule up to a suffix spelling
    /// (`/app/admin.json`, `/app/admin~/` under `/app/admin/`; backend
    /// routers map such suffixes, `(.:format)`, to the prefix's handler), is
    /// decided by both rules: neither can be the laxer way in. A suffix
    /// spelling never brings a path no rule matches under a rule.
    pub fn route_for(&self, method: &str, segments: &[String]) -> RouteMatch<'_> {
        let longest = |matches: fn(&[String], &[String]) -> bool| {
            self.routes
                .iter()
                .filter(|r| matches(segments, &r.segments))
                .max_by_key(|r| r.segments.len())
        };
        let Some(exact) = longest(|path, prefix| path.starts_with(prefix)) else {
            return RouteMatch::NoRoute;
        };
        let suffixed =
            longest(starts_with_suffixed).filter(|r| r.segments.len() > exact.segments.len());
        let takes = |r: &Route| r.methods.is_empty() || r.methods.iter().any(|m| m == method);
        match suffixed {
            _ if !takes(exact) => RouteMatch::MethodNotAllowed,
            Some(longer) if !takes(longer) => RouteMatch::MethodNotAllowed,
            Some(longer) if longer.action != exact.action => {
                RouteMatch::Both(&exact.action, &longer.action)
            }
            _ => RouteMatch::Action(&exact.action),
        }
    }
}

/// Whether `path` starts with `prefix` segment by segment, each path
/// segment being the prefix's or the prefix's followed by a suffix: a
/// character that cannot continue a name (not a letter, digit, `-` or
/// `_`), then anything (`admin.json`, `admin~`, `admin!x`).
fn starts_with_suffixed(path: &[String], prefix: &[String]) -> bool {
    path.len() >= prefix.len()
        && path.iter().zip(prefix).all(|(segment, wanted)| {
            segment.strip_prefix(wanted.as_str()).is_some_and(|rest| {
                rest.chars()
                    .next()
                    .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            })
        })
}

/// An HTTP method as a route map or a gateway may name it: an upper-case token.
pub fn is_method(method: &str) -> bool {
    !method.is_empty() && method.len() <= 32 && method.bytes().all(|b| b.is_ascii_uppercase())
}

/// The one canonical form of a request path: its segments, percent-decoded
/// once, lower-cased, empty segments dropped; the query is ignored.
/// Whatever a server behind the gateway might read differently is refused
/// with the reason: dot segments, `;` parameters, segments ending in a dot
/// or a space, encoded `/` or `\`, double encoding (`%25`), control
/// characters, a `#` (never part of a request), anything but ASCII once
/// decoded (case folding and invisible characters differ between servers).
pub fn canonical_path(raw: &str) -> Result<Vec<String>, &'static str> {
    let path = raw.split('?').next().unwrap_or("");
    if path.contains('#') {
        return Err("has a `#`");
    }
    if !path.starts_with('/') {
        return Err("does not start with `/`");
    }
    let mut segments = Vec::new();
    for raw_segment in path.split('/').filter(|s| !s.is_empty()) {
        let segment = decode_segment(raw_segment)?;
        if segment == "." || segment == ".." {
            return Err("has a dot segment");
        }
        if segment.contains(';') {
            return Err("has a `;` parameter");
        }
        if segment.ends_with('.') || segment.ends_with(char::is_whitespace) {
            return Err("has a segment ending in a dot or a space");
        }
        if segment.starts_with(char::is_whitespace) {
            return Err("has a segment starting with a space");
        }
        segments.push(segment.to_ascii_lowercase());
    }
    Ok(segments)
}

fn decode_segment(segment: &str) -> Result<String, &'static str> {
    let bytes = segment.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or("has a `%` not followed by two hex digits")?;
            match hex {
                b'/' | b'\\' => return Err("has an encoded `/` or `\\`"),
                // A backend that decodes before splitting would end the
                // path there (`/app/admin%3F/` read as `/app/admin`).
                b'?' | b'#' => return Err("has an encoded `?` or `#`"),
                b'%' => return Err("is encoded twice (`%25`)"),
                _ => decoded.push(hex),
            }
            i += 3;
        } else {
            decoded.push(bytes[i]);
            i += 1;
        }
    }
    if !decoded.is_ascii() {
        return Err("is not ASCII once decoded");
    }
    let text = String::from_utf8(decoded).map_err(|_| "is not UTF-8 once decoded")?;
    if text.chars().any(|c| c.is_control() || c == '\\') {
        return Err("has a control character or `\\`");
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    static ROUTES: std::sync::LazyLock<RouteMap> =
        std::sync::LazyLock::new(|| RouteMap::parse(DEFAULT_ROUTES).unwrap());

    fn route(method: &str, path: &str) -> Result<RouteMatch<'static>, &'static str> {
        canonical_path(path).map(|segments| ROUTES.route_for(method, &segments))
    }

    #[test]
    fn every_spelling_of_the_admin_console_is_the_admin_console_or_refused() {
        for path in [
            "/app/admin",
            "/app/admin/",
            "/app/Admin/",
            "/app/ADMIN/users",
            "/app//admin/",
            "/app/%61dmin/",
            "/app/admin?x=/app/home",
        ] {
            assert_eq!(
                route("GET", path),
                Ok(RouteMatch::Action("administer_console")),
                "{path}"
            );
        }
        for path in [
            "/app/admin;x=1/",
            "/app/admin./",
            "/app/admin%20/",
            "/app/admin%2fusers",
            "/app/%2e%2e/admin",
            "/app/home/../admin/",
            "/app/%2561dmin/",
            "/app/admin%00/",
            "/app/admin\\users",
            "/app/%ff/",
            "/app/%zz/",
            "/app/home#/../admin",
            "/app/adm%C4%B1n",
            "/app/admin%E2%80%8B",
            "/app/admın",
            "app/admin",
            // A backend decoding before it splits off the query would read
            // `/app/admin`.
            "/app/admin%3f/",
            "/app/admin%3F/",
            "/app/admin%23/",
        ] {
            assert!(route("GET", path).is_err(), "{path} must be refused");
        }
    }

    /// R11: the suffix spellings a backend router maps to its admin
    /// handler (`/admin(.:format)`, `admin~`) need the admin pages' action
    /// as well as the one of the rule they match exactly; names that merely
    /// start alike are not the admin pages.
    #[test]
    fn suffix_spellings_of_a_protected_prefix_fall_under_it() {
        for path in [
            "/app/admin.json",
            "/app/admin.xml/users",
            "/app/admin~/",
            "/app/Admin.JSON",
            "/app/admin!x",
            "/app/admin,/",
        ] {
            assert_eq!(
                route("GET", path),
                Ok(RouteMatch::Both("access_console", "administer_console")),
                "{path}"
            );
        }
        // A laxer rule nested in a stricter one is no way around it: the
        // stricter one still decides (`/app/admin/help.php`).
        let nested = RouteMap::parse(
            "[[route]]\nprefix = \"/app/admin/\"\naction = \"administer_console\"\n\
             [[route]]\nprefix = \"/app/admin/help/\"\naction = \"access_console\"\n",
        )
        .unwrap();
        for path in [
            "/app/admin/help.php",
            "/app/admin/help~",
            "/app/admin/help.bak/x",
        ] {
            let segments = canonical_path(path).unwrap();
            assert_eq!(
                nested.route_for("GET", &segments),
                RouteMatch::Both("administer_console", "access_console"),
                "{path}"
            );
        }
        for path in ["/app/administrator", "/app/admin-tools/", "/app/admin_x"] {
            assert_eq!(
                route("GET", path),
                Ok(RouteMatch::Action("access_console")),
                "{path}"
            );
        }
        // A suffix spelling never brings an unrouted path under a rule.
        for path in ["/app.json/home", "/app~/admin/"] {
            assert_eq!(route("GET", path), Ok(RouteMatch::NoRoute), "{path}");
        }
        // The audit route keeps its methods under a suffix spelling.
        assert_eq!(
            route("POST", "/app/audit.json"),
            Ok(RouteMatch::MethodNotAllowed)
        );
    }

    #[test]
    fn a_prefix_matches_whole_segments_only() {
        assert_eq!(
            route("GET", "/app/administrator"),
            Ok(RouteMatch::Action("access_console"))
        );
        assert_eq!(
            route("GET", "/app/auditor"),
            Ok(RouteMatch::Action("access_console"))
        );
        assert_eq!(route("GET", "/apps/home"), Ok(RouteMatch::NoRoute));
        assert_eq!(route("GET", "/"), Ok(RouteMatch::NoRoute));
    }

    #[test]
    fn an_unlisted_method_is_denied_not_passed_to_a_shorter_rule() {
        assert_eq!(
            route("GET", "/app/audit"),
            Ok(RouteMatch::Action("read_organization_audit"))
        );
        for method in ["HEAD", "POST", "PUT", "DELETE", "PATCH"] {
            assert_eq!(
                route(method, "/app/audit/2026"),
                Ok(RouteMatch::MethodNotAllowed),
                "{method}"
            );
        }
    }

    #[test]
    fn route_maps_that_cannot_match_as_written_are_refused() {
        for (toml, why) in [
            (
                "[[route]]\nprefix = \"/App/\"\naction = \"a\"",
                "lower case",
            ),
            ("[[route]]\nprefix = \"/app;x/\"\naction = \"a\"", "`;`"),
            ("[[route]]\nprefix = \"app/\"\naction = \"a\"", "start with"),
            (
                "[[route]]\nprefix = \"/c/\"\nmethods = [\"get\"]\naction = \"a\"",
                "upper-case",
            ),
            (
                "[[route]]\nprefix = \"/c/\"\naction = \"a\"\n[[route]]\nprefix = \"/c\"\naction = \"b\"",
                "route[0] too",
            ),
        ] {
            let err = RouteMap::parse(toml).unwrap_err();
            assert!(err.to_string().contains(why), "{err}");
            assert!(err.field.starts_with("route["), "{err:?}");
        }
    }

    /// Percent-encodes every byte of `segment` but ASCII letters and digits.
    fn encode_all(segment: &str) -> String {
        segment
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: 2_000,
            failure_persistence: None,
            ..proptest::prelude::ProptestConfig::default()
        })]

        /// Fuzzing: any text is a canonical path or a reason, never a
        /// panic; a canonical path holds nothing a server could read
        /// differently, and is its own canonical form.
        #[test]
        fn any_path_is_canonical_or_refused(raw in "(/|%|[0-9A-Fa-f]|[./;?#\\\\ ]|\\PC|\\p{Cc}){0,40}") {
            if let Ok(segments) = canonical_path(&raw) {
                for s in &segments {
                    proptest::prop_assert!(!s.is_empty() && s.is_ascii());
                    proptest::prop_assert!(s != "." && s != "..");
                    proptest::prop_assert!(!s.contains(['/', '\\', ';']));
                    proptest::prop_assert!(!s.chars().any(|c| c.is_control() || c.is_ascii_uppercase()));
                    proptest::prop_assert!(!s.ends_with('.') && !s.ends_with(' '));
                }
                let again = format!(
                    "/{}",
                    segments.iter().map(|s| encode_all(s)).collect::<Vec<_>>().join("/")
                );
                proptest::prop_assert_eq!(canonical_path(&again), Ok(segments));
            }
        }

        /// No spelling of a route escapes it: upper case, percent-encoding
        /// and doubled slashes all give the same segments, so the same rule.
        #[test]
        fn every_spelling_of_a_path_is_the_same_route(
            segments in proptest::collection::vec("[a-z0-9]{1,8}", 1..5),
            shape in proptest::collection::vec(0u8..4, 40),
        ) {
            let mut shape = shape.into_iter().cycle();
            let spelled: String = segments
                .iter()
                .map(|s| {
                    let s: String = s
                        .chars()
                        .map(|c| match shape.next().unwrap() {
                            0 => c.to_string(),
                            1 => c.to_ascii_uppercase().to_string(),
                            2 => format!("%{:02x}", c as u8),
                            _ => format!("%{:02X}", c.to_ascii_uppercase() as u8),
                        })
                        .collect();
                    let slashes = if shape.next().unwrap() == 0 { "//" } else { "/" };
                    format!("{slashes}{s}")
                })
                .collect();
            proptest::prop_assert_eq!(canonical_path(&spelled), Ok(segments.clone()));
            let plain = format!("/{}", segments.join("/"));
            proptest::prop_assert_eq!(route("GET", &spelled), route("GET", &plain));
        }
    }
}
