//! A request of the mfa-reset schema told in words, so that a proof's
//! counterexample reads as what a person could do: "a sub-user may now
//! reset the MFA of a sub-user of another organization".

use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Who does what, and in which circumstances.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Story {
    /// "a sub-user", "a root user".
    pub subject: String,
    /// "reset the MFA of a sub-user of another organization".
    pub deed: String,
    /// "session: MFA finished, idle 0 s, logged in 0 s ago; …".
    pub circumstances: String,
}

impl Story {
    /// `modal` between subject and deed: "may now", "may no longer", or ""
    /// for the bare request.
    pub fn sentence(&self, modal: &str) -> String {
        let deed = if modal.is_empty() {
            self.deed.clone()
        } else {
            format!("{modal} {}", self.deed)
        };
        let deed = if modal.is_empty() {
            present_tense(&deed)
        } else {
            deed
        };
        format!("{} {deed} ({})", self.subject, self.circumstances)
    }
}

/// "reset the MFA of" → "resets the MFA of" (the first word only).
fn present_tense(deed: &str) -> String {
    let (verb, rest) = deed.split_once(' ').unwrap_or((deed, ""));
    let verb = match verb {
        "do" => "does".to_string(),
        v if v.ends_with('h') || v.ends_with('s') => format!("{v}es"),
        v => format!("{v}s"),
    };
    if rest.is_empty() {
        verb
    } else {
        format!("{verb} {rest}")
    }
}

/// Tells the request of a `run-tests` case (`request`, `entities`).
pub fn tell(case: &Value) -> Story {
    let entities = case["entities"].as_array().cloned().unwrap_or_default();
    let entity = |uid: &str| {
        entities
            .iter()
            .find(|e| uid_text(&e["uid"]) == uid)
            .cloned()
            .unwrap_or(Value::Null)
    };
    let request = &case["request"];
    let principal_uid = request["principal"].as_str().unwrap_or("");
    let resource_uid = request["resource"].as_str().unwrap_or("");
    let action = request["action"]
        .as_str()
        .and_then(|a| a.rsplit("::").next())
        .unwrap_or("?")
        .trim_matches('"')
        .to_string();
    let principal = entity(principal_uid);
    let resource = entity(resource_uid);
    let own_organization = principal["attrs"]["organization"]["__entity"].clone();

    let subject = if principal_uid.contains("::SupportAgent::") {
        "a support agent"
    } else if principal_uid.contains("::CancelLink::") {
        "a case's cancel link"
    } else if principal["attrs"]["is_root"] == Value::Bool(true) {
        "a root user"
    } else {
        "a sub-user"
    }
    .to_string();
    let target = if resource_uid.contains("::RecoveryCase::") {
        recovery_case(&resource, principal_uid, &request["context"])
    } else if resource_uid == principal_uid {
        "their own account".to_string()
    } else if resource_uid.contains("::User::") {
        let role = if resource["attrs"]["is_root"] == Value::Bool(true) {
            "the root"
        } else {
            "a sub-user"
        };
        let whose = if resource["attrs"]["organization"]["__entity"] == own_organization {
            "of its organization"
        } else {
            "of another organization"
        };
        format!("{role} {whose}")
    } else if resource_uid == uid_text(&own_organization) {
        "its own organization".to_string()
    } else {
        "another organization".to_string()
    };
    let deed = match action.as_str() {
        "reset_own_mfa" => "reset their own MFA".to_string(),
        "enable_own_mfa" => "turn on their own MFA".to_string(),
        "disable_own_mfa" => "turn off their own MFA".to_string(),
        "reset_user_mfa" => format!("reset the MFA of {target}"),
        "enable_user_mfa" => format!("turn on the MFA of {target}"),
        "disable_user_mfa" => format!("turn off the MFA of {target}"),
        "set_enforcement" => format!("switch MFA enforcement of {target}"),
        "list_users" => format!("list the users of {target}"),
        "access_console" => format!("open the console of {target}"),
        "administer_console" => format!("open the administration pages of {target}"),
        "read_organization_audit" => format!("read the audit log of {target}"),
        "view_session" => format!("view the session of {target}"),
        "start_enrolment" => format!("start an enrolment for {target}"),
        "confirm_enrolment" => format!("confirm an enrolment for {target}"),
        "verify_code" => format!("verify a login code for {target}"),
        "open_recovery_case" => format!("open {target}"),
        "approve_recovery_case" => format!("approve {target}"),
        "issue_recovery_ticket" => format!("issue the ticket of {target}"),
        "cancel_recovery_case" | "cancel_recovery_case_by_link" => format!("cancel {target}"),
        "redeem_recovery_ticket" => format!("redeem the ticket of {target}"),
        other => format!("do `{other}` on {target}"),
    };
    Story {
        subject,
        deed,
        circumstances: circumstances(&request["context"], &principal, &entity),
    }
}

/// A recovery case (R14) as the facts its policies depend on: "a case for
/// the root of an organization, opened 3h ago by another agent, not
/// approved, open".
fn recovery_case(case: &Value, principal_uid: &str, context: &Value) -> String {
    let attrs = &case["attrs"];
    let yes = |name: &str| attrs[name] == Value::Bool(true);
    let account = if yes("for_support_agent") {
        "a support agent"
    } else if yes("for_root") {
        "the root of an organization"
    } else {
        "a sub-user"
    };
    let own = case["parents"]
        .as_array()
        .is_some_and(|parents| parents.iter().any(|p| uid_text(p) == principal_uid));
    let whose = if own { " (their own account)" } else { "" };
    let agent = |name: &str| {
        let uid = uid_text(&attrs[name]["__entity"]);
        if uid.is_empty() {
            None
        } else if uid == principal_uid {
            Some("them")
        } else {
            Some("another agent")
        }
    };
    let opened = match (millis(&context["now"]), millis(&attrs["opened_at"])) {
        (Some(now), Some(then)) => format!("opened {} ago", duration(now - then)),
        _ => "opened ?".to_string(),
    };
    let approved = match agent("approved_by") {
        Some(by) => format!("approved by {by}"),
        None => "not approved".to_string(),
    };
    let state = if yes("cancelled") {
        "cancelled"
    } else if yes("redeemed") {
        "redeemed"
    } else if attrs.get("ticket_issued_at").is_some() {
        "ticket issued"
    } else {
        "open"
    };
    format!(
        "a recovery case for {account}{whose}, {opened} by {}, {approved}, {state}",
        agent("opened_by").unwrap_or("?")
    )
}

/// The session and the caller's MFA, as facts a policy may depend on.
fn circumstances(context: &Value, principal: &Value, entity: &dyn Fn(&str) -> Value) -> String {
    let session = &context["session"];
    let now = millis(&context["now"]);
    let ago = |field: &str| match (now, millis(&session[field])) {
        (Some(now), Some(then)) => duration(now - then),
        _ => "?".to_string(),
    };
    let finished = match session["mfa_satisfied"].as_bool() {
        Some(true) => "MFA finished",
        Some(false) => "MFA not finished",
        None => "MFA ?",
    };
    let attrs = &principal["attrs"];
    let mfa = match (
        attrs["mfa_enabled"].as_bool(),
        attrs["mfa_enrolled"].as_bool(),
    ) {
        (Some(false), _) => "off",
        (Some(true), Some(false)) => "due",
        (Some(true), Some(true)) => "active",
        _ => "?",
    };
    let organization = entity(&uid_text(&attrs["organization"]["__entity"]));
    let enforced = match organization["attrs"]["enforce_mfa"].as_bool() {
        Some(true) => "enforces MFA",
        Some(false) => "does not enforce MFA",
        None => "enforcement ?",
    };
    format!(
        "session: {finished}, idle {}, logged in {} ago; their MFA {mfa}; their organization {enforced}",
        ago("last_activity_at"),
        ago("login_at"),
    )
}

/// `Type::"id"` of a JSON entity reference `{type, id}`.
fn uid_text(uid: &Value) -> String {
    match (uid["type"].as_str(), uid["id"].as_str()) {
        (Some(t), Some(id)) => format!("{t}::{}", Value::String(id.into())),
        _ => String::new(),
    }
}

/// Milliseconds since 1970 of a context's datetime value, as JSON: a
/// `datetime("…")`, or one `offset` by a duration (how the solver writes
/// them; its values can lie far beyond what a calendar shows, hence i128).
fn millis(value: &Value) -> Option<i128> {
    let extension = &value["__extn"];
    match extension["fn"].as_str()? {
        "datetime" => {
            let at = datetime(extension["arg"].as_str()?)?;
            Some(at.unix_timestamp_nanos() / 1_000_000)
        }
        "offset" => {
            let args = extension["args"].as_array()?;
            let base = millis(args.first()?)?;
            let by = duration_millis(args.get(1)?["__extn"]["arg"].as_str()?)?;
            Some(base + by)
        }
        _ => None,
    }
}

/// A Cedar duration literal (`-1d2h3m4s5ms`) in milliseconds.
fn duration_millis(text: &str) -> Option<i128> {
    let (sign, mut rest) = match text.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, text),
    };
    let mut total: i128 = 0;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit())?;
        let number: i128 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let (unit, len) = [
            ("ms", 2, 1),
            ("d", 1, 86_400_000),
            ("h", 1, 3_600_000),
            ("m", 1, 60_000),
            ("s", 1, 1000),
        ]
        .iter()
        .find(|(u, _, _)| rest.starts_with(u))
        .map(|(_, len, unit)| (*unit, *len))?;
        total += number * unit;
        rest = &rest[len..];
    }
    Some(sign * total)
}

/// A Cedar `datetime("…")` literal.
fn datetime(text: &str) -> Option<OffsetDateTime> {
    // Cedar writes offsets as +hhmm and allows a bare date; RFC 3339 wants
    // +hh:mm and a time.
    let mut text = if text.len() == 10 {
        format!("{text}T00:00:00Z")
    } else {
        text.to_string()
    };
    let tail = text.len().saturating_sub(5);
    if text.len() > 19 && matches!(&text[tail..tail + 1], "+" | "-") && !text[tail..].contains(':')
    {
        text.insert(tail + 3, ':');
    }
    OffsetDateTime::parse(&text, &Rfc3339).ok()
}

/// "0 s", "30 d", "30 d 0 h 0 min 0.001 s" of milliseconds.
fn duration(ms: i128) -> String {
    let sign = if ms < 0 { "-" } else { "" };
    let ms = ms.unsigned_abs();
    let (days, rest) = (ms / 86_400_000, ms % 86_400_000);
    let (h, m, s) = (rest / 3_600_000, rest / 60_000 % 60, rest % 60_000);
    let seconds = if s % 1000 == 0 {
        format!("{} s", s / 1000)
    } else {
        format!("{}.{:03} s", s / 1000, s % 1000)
    };
    match (days, rest) {
        (0, _) if h == 0 && m == 0 => format!("{sign}{seconds}"),
        (_, 0) => format!("{sign}{days} d"),
        _ => format!("{sign}{days} d {h} h {m} min {seconds}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user(id: &str, org: &str, root: bool) -> Value {
        json!({"uid": {"type": "MfaReset::User", "id": id}, "parents": [],
               "attrs": {"organization": {"__entity": {"type": "MfaReset::Organization", "id": org}},
                         "is_root": root, "mfa_enabled": true, "mfa_enrolled": true}})
    }

    #[test]
    fn a_cross_organization_reset_is_told_as_such() {
        let case = json!({
            "request": {
                "principal": "MfaReset::User::\"a\"",
                "action": "MfaReset::Action::\"reset_user_mfa\"",
                "resource": "MfaReset::User::\"b\"",
                "context": {
                    "now": {"__extn": {"fn": "datetime", "arg": "2026-01-31T00:00:00.001Z"}},
                    "session": {
                        "login_at": {"__extn": {"fn": "datetime", "arg": "2026-01-01"}},
                        "last_activity_at": {"__extn": {"fn": "datetime", "arg": "2026-01-01T00:00:00.000+0000"}},
                        "mfa_satisfied": true
                    }
                }
            },
            "entities": [user("a", "o1", false), user("b", "o2", false),
                         {"uid": {"type": "MfaReset::Organization", "id": "o1"}, "attrs": {"enforce_mfa": false}, "parents": []}]
        });
        let story = tell(&case);
        assert_eq!(
            story.sentence("may now"),
            "a sub-user may now reset the MFA of a sub-user of another organization \
             (session: MFA finished, idle 30 d 0 h 0 min 0.001 s, logged in 30 d 0 h 0 min 0.001 s ago; \
             their MFA active; their organization does not enforce MFA)"
        );
        assert!(
            story
                .sentence("")
                .starts_with("a sub-user resets the MFA of")
        );
    }

    #[test]
    fn own_and_organization_targets() {
        let own = json!({
            "request": {"principal": "MfaReset::User::\"a\"", "action": "MfaReset::Action::\"list_users\"",
                        "resource": "MfaReset::Organization::\"o1\"", "context": {}},
            "entities": [user("a", "o1", true)]
        });
        assert_eq!(tell(&own).deed, "list the users of its own organization");
        assert_eq!(tell(&own).subject, "a root user");
        let mut other = own.clone();
        other["request"]["resource"] = json!("MfaReset::Organization::\"o2\"");
        assert_eq!(tell(&other).deed, "list the users of another organization");
        assert_eq!(duration(0), "0 s");
        assert_eq!(duration(30 * 86_400_000), "30 d");
        assert_eq!(duration_millis("1d2h3m4s5ms"), Some(93_784_005));
        assert_eq!(
            duration_millis("-9223372036854775807ms"),
            Some(-9_223_372_036_854_775_807)
        );
        let offset = json!({"__extn": {"fn": "offset", "args": [
            {"__extn": {"fn": "datetime", "arg": "1970-01-02"}},
            {"__extn": {"fn": "duration", "arg": "-1h"}}]}});
        assert_eq!(millis(&offset), Some(86_400_000 - 3_600_000));
    }
}
