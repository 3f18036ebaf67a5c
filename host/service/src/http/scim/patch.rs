//! The two small languages of SCIM this provider speaks: listing filters
//! (`userName eq "…"`, `externalId eq "…"`, `id eq "…"`) and PATCH
//! operations (RFC 7644 3.5.2) on the writable attributes, including the
//! forms identity providers send: a path-less `replace` of several
//! attributes, `name.givenName`, `emails[type eq "work"].value`.

use serde_json::{Map, Value};

use super::ScimError;
use super::resource::{Writable, active_value, checked_value, declared, text};
use crate::store::ScimFilter;

const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// A `filter` parameter, of the forms this provider supports.
pub(super) fn parse_filter(filter: Option<&str>) -> Result<ScimFilter, ScimError> {
    let Some(filter) = filter.map(str::trim).filter(|f| !f.is_empty()) else {
        return Ok(ScimFilter::All);
    };
    let invalid = || {
        ScimError::bad(
            "invalidFilter",
            format!(
                "`{filter}`: the filters supported are `userName eq \"…\"`, `externalId eq \"…\"` and `id eq \"…\"`"
            ),
        )
    };
    let mut parts = filter.splitn(3, char::is_whitespace);
    let (attribute, operator, value) = (
        parts.next().ok_or_else(invalid)?,
        parts.next().ok_or_else(invalid)?,
        parts.next().ok_or_else(invalid)?.trim(),
    );
    if !operator.eq_ignore_ascii_case("eq") {
        return Err(invalid());
    }
    let value: String = serde_json::from_str(value).map_err(|_| invalid())?;
    match declared(attribute) {
        Some("userName" | "id") => Ok(ScimFilter::UserName(value)),
        Some("externalId") => Ok(ScimFilter::ExternalId(value)),
        _ => Err(invalid()),
    }
}

/// Where an operation applies.
enum Target {
    /// A whole attribute (declared name).
    Attribute(&'static str),
    /// A part of `name`.
    NamePart(String),
    /// `emails[type eq "…"]` and, optionally, one of its parts.
    Email { kind: String, part: Option<String> },
}

fn parse_path(path: &str) -> Result<Target, ScimError> {
    let invalid = || {
        ScimError::bad(
            "invalidPath",
            format!("`{path}` is not a path this service provider supports"),
        )
    };
    if let Some((attribute, rest)) = path.split_once('[') {
        if declared(attribute) != Some("emails") {
            return Err(invalid());
        }
        let (filter, after) = rest.split_once(']').ok_or_else(invalid)?;
        let mut parts = filter.trim().splitn(3, char::is_whitespace);
        let (attribute, operator, value) = (
            parts.next().ok_or_else(invalid)?,
            parts.next().ok_or_else(invalid)?,
            parts.next().ok_or_else(invalid)?.trim(),
        );
        if !attribute.eq_ignore_ascii_case("type") || !operator.eq_ignore_ascii_case("eq") {
            return Err(invalid());
        }
        let kind: String = serde_json::from_str(value).map_err(|_| invalid())?;
        let part = match after.strip_prefix('.') {
            Some(part)
                if ["value", "primary"]
                    .iter()
                    .any(|p| p.eq_ignore_ascii_case(part)) =>
            {
                Some(part.to_ascii_lowercase())
            }
            Some(_) => return Err(invalid()),
            None if after.is_empty() => None,
            None => return Err(invalid()),
        };
        return Ok(Target::Email { kind, part });
    }
    if let Some((attribute, part)) = path.split_once('.')
        && declared(attribute) == Some("name")
    {
        return Ok(Target::NamePart(part.to_string()));
    }
    declared(path).map(Target::Attribute).ok_or_else(invalid)
}

/// `current` after the operations of a PatchOp `body`; `user_name` is the
/// user's (immutable) id.
pub(super) fn apply(
    body: &Value,
    current: Writable,
    user_name: &str,
) -> Result<Writable, ScimError> {
    let object = body
        .as_object()
        .ok_or_else(|| ScimError::bad("invalidSyntax", "the body must be a PatchOp object"))?;
    let field = |name: &str| {
        object
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    };
    let schema_named = field("schemas")
        .and_then(Value::as_array)
        .is_some_and(|s| s.iter().any(|s| s.as_str() == Some(PATCH_SCHEMA)));
    if !schema_named {
        return Err(ScimError::bad(
            "invalidSyntax",
            format!("`schemas` must list {PATCH_SCHEMA}"),
        ));
    }
    let operations = field("Operations")
        .and_then(Value::as_array)
        .filter(|o| !o.is_empty())
        .ok_or_else(|| ScimError::bad("invalidSyntax", "`Operations` must list operations"))?;
    let mut user = current;
    for operation in operations {
        operate(&mut user, operation, user_name)?;
    }
    Ok(user)
}

fn operate(user: &mut Writable, operation: &Value, user_name: &str) -> Result<(), ScimError> {
    let get = |name: &str| {
        operation
            .as_object()
            .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)))
            .map(|(_, v)| v)
    };
    let op = get("op")
        .and_then(Value::as_str)
        .map(str::to_ascii_lowercase)
        .ok_or_else(|| ScimError::bad("invalidSyntax", "every operation needs an `op`"))?;
    let path = get("path").and_then(Value::as_str);
    let value = get("value");
    match (op.as_str(), path, value) {
        ("remove", None, _) => Err(ScimError::bad("noTarget", "`remove` needs a `path`")),
        ("remove", Some(path), _) => remove(user, parse_path(path)?, user_name),
        ("add" | "replace", None, Some(Value::Object(values))) => {
            for (key, value) in values {
                let target = parse_path(key)?;
                set(user, target, value, op == "add", user_name)?;
            }
            Ok(())
        }
        ("add" | "replace", Some(path), Some(value)) => {
            set(user, parse_path(path)?, value, op == "add", user_name)
        }
        ("add" | "replace", _, _) => Err(ScimError::bad(
            "invalidValue",
            format!("`{op}` needs a `value`"),
        )),
        _ => Err(ScimError::bad(
            "invalidSyntax",
            format!("`{op}` is not an operation: add, replace or remove"),
        )),
    }
}

fn immutable(name: &str, value: Option<&Value>, user_name: &str) -> Result<(), ScimError> {
    let unchanged = name == "userName"
        && value
            .and_then(Value::as_str)
            .is_some_and(|v| v.eq_ignore_ascii_case(user_name));
    if unchanged || name == "schemas" {
        return Ok(());
    }
    Err(ScimError::bad(
        "mutability",
        format!("`{name}` cannot be changed"),
    ))
}

fn set(
    user: &mut Writable,
    target: Target,
    value: &Value,
    add: bool,
    user_name: &str,
) -> Result<(), ScimError> {
    match target {
        Target::Attribute(name @ ("userName" | "id" | "meta" | "schemas")) => {
            immutable(name, Some(value), user_name)
        }
        Target::Attribute("password") => Err(ScimError::bad(
            "invalidValue",
            "`password` is never set by provisioning: the user chooses one from the invitation",
        )),
        Target::Attribute("active") => {
            user.active = Some(active_value(value)?);
            Ok(())
        }
        Target::Attribute("externalId") => {
            user.external_id = match value {
                Value::Null => None,
                v => Some(text("externalId", v)?),
            };
            Ok(())
        }
        Target::Attribute("emails") if add => {
            let added = checked_value("emails", &as_list(value))?;
            let mut emails = user
                .profile
                .get("emails")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            emails.extend(added.as_array().cloned().unwrap_or_default());
            user.profile.insert(
                "emails".into(),
                checked_value("emails", &Value::Array(emails))?,
            );
            Ok(())
        }
        Target::Attribute(name) => {
            let value = if name == "emails" {
                as_list(value)
            } else {
                value.clone()
            };
            if value.is_null() {
                user.profile.remove(name);
            } else {
                user.profile
                    .insert(name.into(), checked_value(name, &value)?);
            }
            Ok(())
        }
        Target::NamePart(part) => {
            let mut name = user
                .profile
                .get("name")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            name.insert(part, value.clone());
            user.profile
                .insert("name".into(), checked_value("name", &Value::Object(name))?);
            Ok(())
        }
        Target::Email { kind, part } => {
            let mut emails = user
                .profile
                .get("emails")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let at = emails
                .iter()
                .position(|e| e.get("type").and_then(Value::as_str) == Some(kind.as_str()));
            let entry = match at {
                Some(i) => &mut emails[i],
                None => {
                    let mut fresh = Map::new();
                    fresh.insert("type".into(), Value::from(kind.as_str()));
                    emails.push(Value::Object(fresh));
                    emails.last_mut().expect("just pushed")
                }
            };
            match (part, value) {
                (Some(part), v) => entry[part] = v.clone(),
                (None, Value::Object(fields)) => {
                    for (k, v) in fields {
                        entry[k.as_str()] = v.clone();
                    }
                }
                (None, _) => {
                    return Err(ScimError::bad(
                        "invalidValue",
                        "an e-mail address must be an object",
                    ));
                }
            }
            user.profile.insert(
                "emails".into(),
                checked_value("emails", &Value::Array(emails))?,
            );
            Ok(())
        }
    }
}

/// A multi-valued attribute's value: a single entry counts as a list of one.
fn as_list(value: &Value) -> Value {
    match value {
        Value::Array(_) | Value::Null => value.clone(),
        single => Value::Array(vec![single.clone()]),
    }
}

fn remove(user: &mut Writable, target: Target, user_name: &str) -> Result<(), ScimError> {
    match target {
        Target::Attribute(name @ ("userName" | "id" | "meta" | "schemas" | "password")) => {
            immutable(name, None, user_name)
        }
        Target::Attribute("active") => Err(ScimError::bad(
            "mutability",
            "`active` cannot be removed: replace it with false to deactivate the user",
        )),
        Target::Attribute("externalId") => {
            user.external_id = None;
            Ok(())
        }
        Target::Attribute(name) => {
            user.profile.remove(name);
            Ok(())
        }
        Target::NamePart(part) => {
            if let Some(Value::Object(name)) = user.profile.get_mut("name") {
                name.retain(|k, _| !k.eq_ignore_ascii_case(&part));
            }
            Ok(())
        }
        Target::Email { kind, part } => {
            if let Some(Value::Array(emails)) = user.profile.get_mut("emails") {
                let matches =
                    |e: &Value| e.get("type").and_then(Value::as_str) == Some(kind.as_str());
                match part {
                    None => emails.retain(|e| !matches(e)),
                    Some(part) => emails.iter_mut().filter(|e| matches(e)).for_each(|e| {
                        if let Some(o) = e.as_object_mut() {
                            o.remove(&part);
                        }
                    }),
                }
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn patch(operations: Value) -> Value {
        json!({"schemas": [PATCH_SCHEMA], "Operations": operations})
    }

    #[test]
    fn filters_of_the_supported_forms_parse_and_others_are_invalid_filters() {
        assert_eq!(parse_filter(None).unwrap(), ScimFilter::All);
        assert_eq!(
            parse_filter(Some(r#"userName eq "Bob@Example.com""#)).unwrap(),
            ScimFilter::UserName("Bob@Example.com".into())
        );
        assert_eq!(
            parse_filter(Some(r#"externalid EQ "00u1""#)).unwrap(),
            ScimFilter::ExternalId("00u1".into())
        );
        for bad in [
            r#"userName co "bob""#,
            r#"userName eq bob"#,
            r#"title eq "x""#,
            r#"userName eq "a" or userName eq "b""#,
            "userName",
        ] {
            assert!(parse_filter(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn identity_providers_patch_forms_apply_and_user_name_stays() {
        let user = Writable::default();
        // Microsoft Entra ID: path-less replace, a string boolean.
        let user = apply(
            &patch(json!([{"op": "Replace", "value": {"active": "False", "displayName": "Bob"}}])),
            user,
            "bob",
        )
        .unwrap();
        assert_eq!(user.active, Some(false));
        assert_eq!(user.profile["displayName"], "Bob");
        let user = apply(
            &patch(json!([
                {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "bob@acme.test"},
                {"op": "add", "path": "name.givenName", "value": "Bob"}
            ])),
            user,
            "bob",
        )
        .unwrap();
        assert_eq!(user.emails(), vec!["bob@acme.test".to_string()]);
        assert_eq!(user.profile["name"]["givenName"], "Bob");
        let user = apply(
            &patch(json!([{"op": "remove", "path": "displayName"}])),
            user,
            "bob",
        )
        .unwrap();
        assert!(!user.profile.contains_key("displayName"));
        for (operations, scim_type) in [
            (
                json!([{"op": "replace", "path": "userName", "value": "eve"}]),
                "mutability",
            ),
            (json!([{"op": "remove"}]), "noTarget"),
            (
                json!([{"op": "replace", "path": "title", "value": "x"}]),
                "invalidPath",
            ),
            (
                json!([{"op": "replace", "path": "password", "value": "x"}]),
                "invalidValue",
            ),
            (
                json!([{"op": "move", "path": "active", "value": true}]),
                "invalidSyntax",
            ),
        ] {
            let err = apply(&patch(operations.clone()), user.clone(), "bob").unwrap_err();
            assert_eq!(err.scim_type, Some(scim_type), "{operations}");
        }
        assert!(apply(&json!({"Operations": []}), user, "bob").is_err());
    }
}
