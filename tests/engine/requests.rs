//! Bad requests: each gets a clear error naming the field, never a panic,
//! and the engine keeps deciding afterwards.

use crate::common;

use common::*;
use mfa_reset::{Action, Error, MfaStatus, Request, Role};
use time::Duration;

const GOOD: &str = r#"{
  "actor": {"id": "bob", "role": "sub_user", "organization": {"id": "acme", "enforce_mfa": false}, "mfa": "active"},
  "session": {"login_at": "2026-11-20T09:00:00Z", "last_activity_at": "2026-11-22T09:00:00Z", "mfa_satisfied": true},
  "now": "2026-11-22T10:00:00Z",
  "action": "reset_own_mfa"
}"#;

/// Parses and decides `json`, expecting an invalid-request error.
fn field_error(json: &str) -> (String, String) {
    let result = Request::from_json(json).and_then(|r| engine().decide(&r));
    match result {
        Err(Error::InvalidRequest(mfa_reset::RequestError { field, message })) => (field, message),
        other => panic!("expected an invalid-request error, got {other:?}"),
    }
}

#[test]
fn a_well_formed_json_request_is_decided() {
    let outcome = engine()
        .decide(&Request::from_json(GOOD).expect("parses"))
        .expect("decides");
    assert!(outcome.decision.allowed);
}

#[test]
fn invalid_json_is_reported_with_its_position() {
    let (field, message) = field_error(r#"{"actor": "#);
    assert_eq!(field, "actor");
    assert!(message.contains("line 1"), "{message}");
}

#[test]
fn an_unknown_field_is_named() {
    let (field, message) = field_error(&GOOD.replace(
        "\"mfa\": \"active\"",
        "\"mfa\": \"active\", \"admin\": true",
    ));
    assert_eq!(field, "actor.admin");
    assert!(message.contains("unknown field `admin`"), "{message}");
}

#[test]
fn a_missing_field_is_named() {
    let (field, message) = field_error(&GOOD.replace(", \"enforce_mfa\": false", ""));
    assert_eq!(field, "actor.organization");
    assert!(message.contains("missing field `enforce_mfa`"), "{message}");

    let (field, message) = field_error(&GOOD.replace("\"now\": \"2026-11-22T10:00:00Z\",", ""));
    assert_eq!(field, "(request)");
    assert!(message.contains("missing field `now`"), "{message}");
}

#[test]
fn a_wrong_value_is_named() {
    let (field, message) = field_error(&GOOD.replace("\"sub_user\"", "\"superuser\""));
    assert_eq!(field, "actor.role");
    assert!(message.contains("superuser"), "{message}");

    let (field, _) = field_error(&GOOD.replace("2026-11-22T10:00:00Z", "yesterday"));
    assert_eq!(field, "now");

    let (field, message) = field_error(&GOOD.replace("\"reset_own_mfa\"", "\"reset_everyone\""));
    assert_eq!(field, "action");
    assert!(message.contains("reset_everyone"), "{message}");
}

#[test]
fn an_empty_id_is_refused_by_the_component() {
    let mut req = request(&sub("", &org("acme", false)), Action::ResetOwnMfa);
    let err = engine().decide(&req).expect_err("empty id");
    assert!(
        matches!(&err, Error::InvalidRequest(mfa_reset::RequestError { field, .. }) if field == "actor.id"),
        "{err}"
    );

    req.actor = sub("bob", &org(" ", false));
    let err = engine().decide(&req).expect_err("blank org");
    assert!(
        matches!(&err, Error::InvalidRequest(mfa_reset::RequestError { field, .. }) if field == "actor.organization.id"),
        "{err}"
    );
}

#[test]
fn session_times_out_of_order_are_refused() {
    let mut req = request(&sub("bob", &org("acme", false)), Action::ResetOwnMfa);
    req.session.last_activity_at = req.session.login_at - Duration::SECOND;
    let err = engine().decide(&req).expect_err("activity before login");
    assert!(
        matches!(&err, Error::InvalidRequest(mfa_reset::RequestError { field, .. }) if field == "session.last_activity_at"),
        "{err}"
    );

    let mut req = request(&sub("bob", &org("acme", false)), Action::ResetOwnMfa);
    req.now = req.session.last_activity_at - Duration::SECOND;
    let err = engine().decide(&req).expect_err("request before activity");
    assert!(
        matches!(&err, Error::InvalidRequest(mfa_reset::RequestError { field, .. }) if field == "now"),
        "{err}"
    );
}

#[test]
fn inconsistent_records_are_refused() {
    let acme = org("acme", false);
    // The same organization with two enforcement values.
    let req = request(
        &root("ada", &acme),
        Action::ResetUserMfa(sub("bob", &org("acme", true))),
    );
    let err = engine().decide(&req).expect_err("inconsistent org");
    assert!(
        matches!(&err, Error::InvalidRequest(mfa_reset::RequestError { field, .. }) if field == "action.reset_user_mfa.organization.enforce_mfa"),
        "{err}"
    );
    // The caller listed as a target with another role.
    let req = request(
        &root("ada", &acme),
        Action::ResetUserMfa(user("ada", Role::SubUser, &acme, MfaStatus::Active)),
    );
    assert!(matches!(
        engine().decide(&req),
        Err(Error::InvalidRequest(_))
    ));
    // A listing with another organization's user in it.
    let req = request(
        &root("ada", &acme),
        Action::ListUsers(vec![sub("gina", &org("globex", false))]),
    );
    let err = engine().decide(&req).expect_err("foreign user");
    assert!(
        matches!(&err, Error::InvalidRequest(mfa_reset::RequestError { field, .. }) if field == "action.list_users[0].organization.id"),
        "{err}"
    );
}

#[test]
fn a_time_cedar_cannot_represent_is_refused() {
    let mut req = request(&sub("bob", &org("acme", false)), Action::ResetOwnMfa);
    req.session.login_at = time::macros::datetime!(-0001-01-01 0:00 UTC);
    let err = engine().decide(&req).expect_err("year -1");
    assert!(
        matches!(&err, Error::InvalidRequest(mfa_reset::RequestError { field, .. }) if field == "session.login_at"),
        "{err}"
    );
}

#[test]
fn the_engine_keeps_deciding_after_bad_requests() {
    let _ = field_error("not json");
    let _ = engine().decide(&request(&sub("", &org("acme", false)), Action::ResetOwnMfa));
    let outcome = decide(&request(
        &sub("bob", &org("acme", false)),
        Action::ResetOwnMfa,
    ));
    assert!(outcome.decision.allowed);
}
