//! The gateway route map: path prefix and method → Cedar action.

use serde::Deserialize;

/// The route map shipped in `host/deploy/routes.toml`, used by default.
pub const DEFAULT_ROUTES: &str = include_str!("../../deploy/routes.toml");

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// Matches paths that start with it.
    pub prefix: String,
    /// Upper-case methods; any method when empty.
    #[serde(default)]
    pub methods: Vec<String>,
    /// The Cedar action deciding requests on this route.
    pub action: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RouteMap {
    #[serde(rename = "route")]
    pub routes: Vec<Route>,
}

impl RouteMap {
    pub fn parse(toml_text: &str) -> Result<Self, String> {
        let map: Self = toml::from_str(toml_text).map_err(|e| e.to_string())?;
        for (i, r) in map.routes.iter().enumerate() {
            if !r.prefix.starts_with('/') {
                return Err(format!(
                    "route[{i}].prefix: `{}` must start with `/`",
                    r.prefix
                ));
            }
            if r.action.trim().is_empty() {
                return Err(format!("route[{i}].action: must not be empty"));
            }
        }
        Ok(map)
    }

    /// The action for `method` on `path` (already normalized), if any rule matches.
    pub fn action_for(&self, method: &str, path: &str) -> Option<&str> {
        self.routes
            .iter()
            .find(|r| {
                path.starts_with(&r.prefix)
                    && (r.methods.is_empty()
                        || r.methods.iter().any(|m| m.eq_ignore_ascii_case(method)))
            })
            .map(|r| r.action.as_str())
    }
}

/// Percent-decodes a request path, drops the query, folds `//`, and refuses
/// dot segments, so `/console/%2e%2e/admin` cannot slip past a prefix.
pub fn normalize_path(raw: &str) -> Option<String> {
    let path = raw.split(['?', '#']).next().unwrap_or("");
    let bytes = path.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            decoded.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            decoded.push(bytes[i]);
            i += 1;
        }
    }
    let decoded = String::from_utf8(decoded).ok()?;
    if !decoded.starts_with('/') || decoded.contains('\0') || decoded.contains('\\') {
        return None;
    }
    let mut out = String::new();
    for segment in decoded.split('/').filter(|s| !s.is_empty()) {
        if segment == "." || segment == ".." {
            return None;
        }
        out.push('/');
        out.push_str(segment);
    }
    if decoded.ends_with('/') || out.is_empty() {
        out.push('/');
    }
    Some(out)
}
