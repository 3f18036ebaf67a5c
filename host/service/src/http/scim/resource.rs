//! A user as a SCIM resource, and the writable part of one as a request
//! sends it: checked against the declared schema (attribute names are
//! case-insensitive, as RFC 7643 2.1 says; anything undeclared, a password
//! above all, is refused with the attribute's name and why), and kept as
//! sent, so that what is read back is what was written.

use serde_json::{Map, Value, json};
use time::format_description::well_known::Rfc3339;

use super::discovery::USER_SCHEMA;
use super::{PREFIX, ScimError};
use crate::accounts::provisioning::time_of;
use crate::store::{AccountProfile, ScimRecord};

/// Longest string value accepted in an attribute.
const MAX_VALUE_CHARS: usize = 1024;
/// Most e-mail addresses one user holds.
const MAX_EMAILS: usize = 20;
const NAME_PARTS: [&str; 6] = [
    "formatted",
    "familyName",
    "givenName",
    "middleName",
    "honorificPrefix",
    "honorificSuffix",
];
const EMAIL_PARTS: [&str; 3] = ["value", "type", "primary"];

/// The writable attributes of a user, with their names as declared.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Writable {
    pub external_id: Option<String>,
    /// `name`, `displayName`, `emails`, as declared names.
    pub profile: Map<String, Value>,
    pub active: Option<bool>,
}

impl Writable {
    pub fn account_profile(&self) -> AccountProfile {
        AccountProfile {
            external_id: self.external_id.clone(),
            profile: (!self.profile.is_empty())
                .then(|| Value::Object(self.profile.clone()).to_string()),
        }
    }

    /// The e-mail addresses, primary first.
    pub fn emails(&self) -> Vec<String> {
        let mut emails: Vec<(bool, String)> = self
            .profile
            .get("emails")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|e| {
                Some((
                    e.get("primary") != Some(&Value::Bool(true)),
                    e.get("value")?.as_str()?.to_string(),
                ))
            })
            .collect();
        emails.sort_by_key(|(not_primary, _)| *not_primary);
        emails.into_iter().map(|(_, e)| e).collect()
    }

    /// As stored: the record's provider data and its `active`.
    pub fn of(record: &ScimRecord) -> Self {
        let profile = record
            .profile
            .profile
            .as_deref()
            .and_then(|p| serde_json::from_str::<Map<String, Value>>(p).ok())
            .unwrap_or_default();
        Self {
            external_id: record.profile.external_id.clone(),
            profile,
            active: Some(record.user.active),
        }
    }
}

/// The declared name of a User attribute, whatever its letter case.
pub(super) fn declared(name: &str) -> Option<&'static str> {
    let name = name
        .strip_prefix(USER_SCHEMA)
        .map(|n| n.trim_start_matches(':'))
        .unwrap_or(name);
    [
        "schemas",
        "id",
        "externalId",
        "userName",
        "name",
        "displayName",
        "emails",
        "active",
        "meta",
        "password",
    ]
    .into_iter()
    .find(|d| d.eq_ignore_ascii_case(name))
}

pub(super) fn text(attribute: &str, value: &Value) -> Result<String, ScimError> {
    let s = value
        .as_str()
        .ok_or_else(|| ScimError::bad("invalidValue", format!("`{attribute}` must be a string")))?;
    if s.chars().count() > MAX_VALUE_CHARS {
        return Err(ScimError::bad(
            "invalidValue",
            format!("`{attribute}` is longer than {MAX_VALUE_CHARS} characters"),
        ));
    }
    Ok(s.to_string())
}

/// A complex value with only the `parts` declared, each a string (or, for
/// `primary`, a boolean); names as declared.
fn complex(attribute: &str, value: &Value, parts: &[&str]) -> Result<Value, ScimError> {
    let object = value.as_object().ok_or_else(|| {
        ScimError::bad("invalidValue", format!("`{attribute}` must be an object"))
    })?;
    let mut out = Map::new();
    for (key, part) in object {
        let name = parts
            .iter()
            .find(|p| p.eq_ignore_ascii_case(key))
            .ok_or_else(|| {
                ScimError::bad(
                    "invalidSyntax",
                    format!("`{attribute}.{key}` is not an attribute of this service provider (see /Schemas)"),
                )
            })?;
        let checked = match (*name, part) {
            ("primary", Value::Bool(_)) => part.clone(),
            ("primary", _) => {
                return Err(ScimError::bad(
                    "invalidValue",
                    format!("`{attribute}.primary` must be true or false"),
                ));
            }
            (_, Value::Null) => continue,
            _ => Value::String(text(&format!("{attribute}.{name}"), part)?),
        };
        out.insert((*name).to_string(), checked);
    }
    Ok(Value::Object(out))
}

/// `value` as the attribute `name` (declared), checked.
pub(super) fn checked_value(name: &str, value: &Value) -> Result<Value, ScimError> {
    match name {
        "displayName" => Ok(Value::String(text(name, value)?)),
        "name" => complex(name, value, &NAME_PARTS),
        "emails" => {
            let list = value.as_array().ok_or_else(|| {
                ScimError::bad("invalidValue", "`emails` must be a list of addresses")
            })?;
            if list.len() > MAX_EMAILS {
                return Err(ScimError::bad(
                    "invalidValue",
                    format!("`emails` holds more than {MAX_EMAILS} addresses"),
                ));
            }
            let emails = list
                .iter()
                .map(|e| {
                    let e = complex("emails", e, &EMAIL_PARTS)?;
                    if e.get("value").is_none() {
                        return Err(ScimError::bad(
                            "invalidValue",
                            "every entry of `emails` needs a `value`",
                        ));
                    }
                    Ok(e)
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Value::Array(emails))
        }
        _ => Err(ScimError::bad(
            "invalidSyntax",
            format!("`{name}` is not writable"),
        )),
    }
}

/// `active` as sent: a boolean (or `"True"`/`"False"`, as Microsoft Entra
/// ID sends it in PATCH).
pub(super) fn active_value(value: &Value) -> Result<bool, ScimError> {
    match value {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(false),
        _ => Err(ScimError::bad(
            "invalidValue",
            "`active` must be true or false",
        )),
    }
}

/// A whole user as POST and PUT send it: its `userName` and its writable
/// attributes. `schemas` must name the User schema; `id` and `meta` are
/// the service's and ignored; a password is never taken.
pub(super) fn parse_user(body: &Value) -> Result<(Option<String>, Writable), ScimError> {
    let object = body
        .as_object()
        .ok_or_else(|| ScimError::bad("invalidSyntax", "the body must be a User object"))?;
    let schemas_named = object
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("schemas"))
        .and_then(|(_, v)| v.as_array())
        .is_some_and(|s| s.iter().any(|s| s.as_str() == Some(USER_SCHEMA)));
    if !schemas_named {
        return Err(ScimError::bad(
            "invalidSyntax",
            format!("`schemas` must list {USER_SCHEMA}"),
        ));
    }
    let mut user_name = None;
    let mut writable = Writable::default();
    for (key, value) in object {
        let Some(name) = declared(key) else {
            return Err(ScimError::bad(
                "invalidSyntax",
                format!("`{key}` is not an attribute of this service provider (see /Schemas)"),
            ));
        };
        match (name, value) {
            ("schemas" | "id" | "meta", _) => {}
            (_, Value::Null) => {}
            ("password", _) => {
                return Err(ScimError::bad(
                    "invalidValue",
                    "`password` is never set by provisioning: the user chooses one from the invitation",
                ));
            }
            ("userName", _) => user_name = Some(text(name, value)?),
            ("externalId", _) => writable.external_id = Some(text(name, value)?),
            ("active", _) => writable.active = Some(active_value(value)?),
            _ => {
                writable
                    .profile
                    .insert(name.to_string(), checked_value(name, value)?);
            }
        }
    }
    Ok((user_name, writable))
}

/// The user as a SCIM resource.
pub(super) fn to_json(record: &ScimRecord, base_url: &str) -> Value {
    let writable = Writable::of(record);
    let mut resource = json!({
        "schemas": [USER_SCHEMA],
        "id": record.user.id,
        "userName": record.user.id,
        "active": record.user.active,
        "meta": {
            "resourceType": "User",
            "created": time_of(record.created_at).format(&Rfc3339).unwrap_or_default(),
            "lastModified": time_of(record.updated_at.or(record.created_at))
                .format(&Rfc3339)
                .unwrap_or_default(),
            "location": format!("{base_url}{PREFIX}/Users/{}", record.user.id),
            "version": format!("W/\"{}\"", record.version),
        },
    });
    if let Some(external_id) = &writable.external_id {
        resource["externalId"] = Value::from(external_id.as_str());
    }
    for (key, value) in writable.profile {
        resource[key] = value;
    }
    resource
}

/// `resource` with only the attributes asked for (`attributes`), or
/// without those excluded (`excludedAttributes`); `id` and `schemas`
/// always stay (RFC 7644 3.4.2.5).
pub(super) fn project(
    mut resource: Value,
    attributes: Option<&str>,
    excluded: Option<&str>,
) -> Value {
    let names = |list: &str| -> Vec<String> {
        list.split(',')
            .filter_map(|n| declared(n.trim().split('.').next().unwrap_or_default()))
            .map(str::to_string)
            .collect()
    };
    let Some(object) = resource.as_object_mut() else {
        return resource;
    };
    let keep = |key: &str| key == "id" || key == "schemas";
    if let Some(list) = attributes.filter(|l| !l.trim().is_empty()) {
        let wanted = names(list);
        object.retain(|k, _| keep(k) || wanted.iter().any(|w| w == k));
    } else if let Some(list) = excluded {
        let unwanted = names(list);
        object.retain(|k, _| keep(k) || !unwanted.iter().any(|u| u == k));
    }
    resource
}
