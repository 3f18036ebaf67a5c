//! The conformance suite every host runs: `tests/conformance/cases.json`,
//! language-neutral data — typed engine requests in the library's JSON
//! (`mfa_reset::api`) and the outcome or error each must get: `decide`
//! cases, and login steps (`next_login_step`, `verify_login`,
//! `confirm_enrolment`) with TOTP codes at fixed times (RFC 6238's SHA-1
//! vectors, as 6-digit codes), and `start_enrolment`, whose new key comes
//! from each host's randomness: every host compares its answer with the
//! key masked (`secret=<random>` in the URI, `<random N bytes>` for the
//! stored key, the QR code present but not compared). The Rust host
//! (here), the Node host (tests/node) and the Python host (tests/python)
//! must all answer every case identically.
//!
//! The cases are every case of `policies/tests.json` that the engine
//! decides (login steps aside), written as typed requests, plus state
//! transitions and bad requests. Their expected outcomes are the Rust
//! host's, held here to the independent expectations of tests.json (the
//! decision and the deciding policies, as the official Cedar CLI checks
//! them). This test fails when the file is not what the engine answers;
//! after a deliberate change, `MFA_RESET_CONFORMANCE_WRITE=1 cargo test --workspace
//! --test engine conformance::` rewrites it.

use crate::common;

use common::{CONFORMANCE_CASES, repo};

use serde_json::{Value, json};

/// A Cedar datetime extension value as RFC 3339 text.
fn datetime(value: &Value) -> Value {
    value["__extn"]["arg"].clone()
}

fn entity<'a>(entities: &'a [Value], uid: &str) -> &'a Value {
    let (kind, id) = uid.rsplit_once("::").unwrap();
    let id = id.trim_matches('"');
    entities
        .iter()
        .find(|e| e["uid"]["type"] == kind && e["uid"]["id"] == id)
        .unwrap_or_else(|| panic!("no entity {uid}"))
}

fn organization(entities: &[Value], id: &str) -> Value {
    let org = entities
        .iter()
        .find(|e| e["uid"]["type"] == "MfaReset::Organization" && e["uid"]["id"] == id)
        .unwrap_or_else(|| panic!("no organization {id}"));
    json!({"id": id, "enforce_mfa": org["attrs"]["enforce_mfa"]})
}

/// A Cedar `User` (or `SupportAgent`) entity as the engine's typed user.
fn user(entities: &[Value], entity: &Value) -> Value {
    let attrs = &entity["attrs"];
    if entity["uid"]["type"] == "MfaReset::SupportAgent" {
        // Agents belong to the support desk; MFA is always theirs to have.
        return json!({
            "id": entity["uid"]["id"],
            "role": "support_agent",
            "organization": organization(entities, ".support-desk"),
            "mfa": if attrs["mfa_enrolled"] == true { "active" } else { "enrolment_due" },
            "active": attrs["active"],
        });
    }
    let org_id = attrs["organization"]["__entity"]["id"].as_str().unwrap();
    let mfa = match (attrs["mfa_enabled"] == true, attrs["mfa_enrolled"] == true) {
        (true, true) => "active",
        (true, false) => "enrolment_due",
        (false, _) => "off",
    };
    json!({
        "id": entity["uid"]["id"],
        "role": if attrs["is_root"] == true { "root" } else { "sub_user" },
        "organization": organization(entities, org_id),
        "mfa": mfa,
        "active": attrs["active"],
    })
}

/// A tests.json case as a typed request; `None` for the login steps, which
/// the engine decides inside its enrolment and code calls, and for an
/// organization function aimed at another organization, which a typed
/// request cannot express (they always act on the caller's organization;
/// the Cedar CLI checks those cases), and for an identity provider's
/// requests (`decide_provisioning`; the Cedar CLI and tests/service's
/// SCIM suite check those), and for the steps of recovery cases
/// (`decide_recovery`, below).
fn typed_request(case: &Value) -> Option<Value> {
    let request = &case["request"];
    let principal = request["principal"].as_str().unwrap();
    if principal.starts_with("MfaReset::Provisioner::")
        || request["resource"]
            .as_str()
            .unwrap()
            .starts_with("MfaReset::RecoveryCase::")
    {
        return None;
    }
    let entities = case["entities"].as_array().unwrap();
    let action_name = request["action"]
        .as_str()
        .unwrap()
        .rsplit_once("::")
        .unwrap()
        .1
        .trim_matches('"');
    let actor = user(
        entities,
        entity(entities, request["principal"].as_str().unwrap()),
    );
    let resource = request["resource"].as_str().unwrap();
    if resource.starts_with("MfaReset::Organization::")
        && entity(entities, resource)["uid"]["id"] != actor["organization"]["id"]
    {
        return None;
    }
    let action = match action_name {
        "reset_own_mfa" | "enable_own_mfa" | "disable_own_mfa" | "change_own_password" => {
            json!(action_name)
        }
        "view_session" => json!("view_own_session"),
        "reset_user_mfa" | "enable_user_mfa" | "disable_user_mfa" | "deactivate_user"
        | "reactivate_user" | "invite_user" => {
            json!({ action_name: user(entities, entity(entities, resource)) })
        }
        "set_enforcement" => {
            let org = entity(entities, resource);
            json!({"set_enforcement": org["attrs"]["enforce_mfa"] != true})
        }
        "list_users" => {
            let org_id = entity(entities, resource)["uid"]["id"].clone();
            let users: Vec<Value> = entities
                .iter()
                .filter(|e| {
                    e["uid"]["type"] == "MfaReset::User"
                        && e["attrs"]["organization"]["__entity"]["id"] == org_id
                })
                .map(|e| user(entities, e))
                .collect();
            json!({ "list_users": users })
        }
        // Login steps and recovery codes have calls of their own.
        "start_enrolment"
        | "confirm_enrolment"
        | "verify_code"
        | "use_recovery_code"
        | "regenerate_recovery_codes" => return None,
        route => json!({ "access_route": route }),
    };
    let context = &request["context"];
    Some(json!({
        "actor": actor,
        "session": {
            "login_at": datetime(&context["session"]["login_at"]),
            "last_activity_at": datetime(&context["session"]["last_activity_at"]),
            "mfa_satisfied": context["session"]["mfa_satisfied"],
            "recovery_code_login": context["session"]["recovery_code_login"],
        },
        "now": datetime(&context["now"]),
        "action": action,
    }))
}

/// Requests beyond tests.json: state transitions of every kind and bad
/// input the component refuses (with the field, as the caller wrote it).
fn more_requests() -> Vec<(String, Value)> {
    let acme = json!({"id": "acme", "enforce_mfa": false});
    let enforcing = json!({"id": "acme", "enforce_mfa": true});
    let ada = json!({"id": "ada", "role": "root", "organization": acme, "mfa": "active"});
    let bob =
        |mfa: &str| json!({"id": "bob", "role": "sub_user", "organization": acme, "mfa": mfa});
    let session = json!({
        "login_at": "2026-11-20T09:00:00Z",
        "last_activity_at": "2026-11-22T09:59:59.999Z",
        "mfa_satisfied": true,
    });
    let request = |actor: &Value, action: Value| json!({"actor": actor, "session": session, "now": "2026-11-22T10:00:00Z", "action": action});
    let mut cases = vec![
        ("R9 transition: a root resets an active sub-user", request(&ada, json!({"reset_user_mfa": bob("active")}))),
        ("R4 transition: a root turns a sub-user's MFA on", request(&ada, json!({"enable_user_mfa": bob("off")}))),
        ("R4 transition: a root turns a sub-user's MFA off", request(&ada, json!({"disable_user_mfa": bob("active")}))),
        ("R6 transition: a self-reset", request(&bob("active"), json!("reset_own_mfa"))),
        ("R13 transition: changing one's own password ends the other sessions", request(&bob("active"), json!("change_own_password"))),
        ("R13 transition: a root deactivates a sub-user, whose sessions end", request(&ada, json!({"deactivate_user": bob("active")}))),
        ("R13 transition: a root invites a sub-user", request(&ada, json!({"invite_user": bob("off")}))),
        ("R2 transition: turning one's own MFA on", request(&bob("off"), json!("enable_own_mfa"))),
        ("R2 transition: turning one's own MFA off", request(&bob("active"), json!("disable_own_mfa"))),
        ("R5 transition: enforcement on", request(&ada, json!({"set_enforcement": true}))),
        ("R11 transition: listing users with enforcement taken into account", {
            let ada = json!({"id": "ada", "role": "root", "organization": enforcing, "mfa": "active"});
            let bob = json!({"id": "bob", "role": "sub_user", "organization": enforcing, "mfa": "off"});
            request(&ada, json!({"list_users": [ada, bob]}))
        }),
        ("R6 deny: a reset of an account without MFA is an error, not a success", request(&bob("off"), json!("reset_own_mfa"))),
        ("R14 deny: a support agent never administers an organization's users", {
            let provider = json!({"id": "provider", "enforce_mfa": false});
            let sam = json!({"id": "sam", "role": "support_agent", "organization": provider, "mfa": "active"});
            let carol = json!({"id": "carol", "role": "sub_user", "organization": provider, "mfa": "active"});
            request(&sam, json!({"reset_user_mfa": carol}))
        }),
    ]
    .into_iter()
    .map(|(name, request)| (name.to_string(), request))
    .collect::<Vec<_>>();
    let mut bad = |name: &str, edit: &dyn Fn(&mut Value)| {
        let mut r = request(&ada, json!({"reset_user_mfa": bob("active")}));
        edit(&mut r);
        cases.push((format!("bad input: {name}"), r));
    };
    bad("an empty actor id", &|r| r["actor"]["id"] = json!(""));
    bad("a control character in an organization id", &|r| {
        r["action"]["reset_user_mfa"]["organization"]["id"] = json!("ac\u{7}me")
    });
    bad(
        "a target whose organization disagrees with the actor's",
        &|r| r["action"]["reset_user_mfa"]["organization"]["enforce_mfa"] = json!(true),
    );
    bad("a listed user of another organization", &|r| {
        let globex = json!({"id": "globex", "enforce_mfa": false});
        let gina = json!({"id": "gina", "role": "sub_user", "organization": globex, "mfa": "off"});
        r["action"] = json!({ "list_users": [gina] });
    });
    // R7: a session 0.5 ms short of its limit would count as past it if
    // the digits were dropped; every host refuses such a time instead.
    bad("a time more precise than a millisecond", &|r| {
        r["session"]["last_activity_at"] = json!("2026-11-22T09:59:59.9995Z")
    });
    let mut deactivated = request(&bob("active"), json!("reset_own_mfa"));
    deactivated["actor"]["active"] = json!(false);
    cases.push((
        "R13 deny: a deactivated user is denied even a self-reset from an active session".into(),
        deactivated,
    ));
    let mut before_1970 = request(&ada, json!("reset_own_mfa"));
    before_1970["session"]["login_at"] = json!("1969-12-31T23:59:59Z");
    cases.push((
        "R7 deny: a session that began before 1970 counts as expired".into(),
        before_1970,
    ));
    cases
}

/// RFC 6238 appendix B's SHA-1 seed, and its test vectors (time in
/// seconds, 8-digit code); a 6-digit code is the last six digits.
const RFC6238_SEED: &[u8] = b"12345678901234567890";
const RFC6238_SHA1: [(i64, &str); 6] = [
    (59, "94287082"),
    (1111111109, "07081804"),
    (1111111111, "14050471"),
    (1234567890, "89005924"),
    (2000000000, "69279037"),
    (20000000000, "65353130"),
];

fn rfc3339(seconds: i64) -> Value {
    let t = time::OffsetDateTime::from_unix_timestamp(seconds).unwrap();
    json!(
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    )
}

/// A code request in the library's JSON: `user` logging in at `at`
/// seconds (the login a minute old — or at 1970, the earliest a session
/// may begin —, MFA not yet satisfied).
fn code_request(user: &Value, authenticator: Value, code: &str, at: i64) -> Value {
    let login = rfc3339((at - 60).max(0));
    json!({
        "user": user,
        "session": {"login_at": login, "last_activity_at": login, "mfa_satisfied": false},
        "authenticator": authenticator,
        "code": code,
        "now": rfc3339(at),
        "lockout": {"max_failures": 5, "base_delay_seconds": 30, "max_delay_seconds": 3600},
    })
}

/// Login-step cases: (name, call, input).
fn login_cases() -> Vec<(String, &'static str, Value)> {
    let acme = json!({"id": "acme", "enforce_mfa": false});
    let bob =
        |mfa: &str| json!({"id": "bob", "role": "sub_user", "organization": acme, "mfa": mfa});
    let key = json!({
        "secret": data_encoding::BASE32_NOPAD.encode(RFC6238_SEED),
        "digits": 6,
        "period": 30,
    });
    let active = |step: Option<i64>, failures: u32, locked: Option<Value>| json!({"pending": null, "active": key, "last_accepted_step": step, "failures": failures, "locked_until": locked});
    let mut cases = Vec::new();
    for mfa in ["off", "enrolment_due", "active"] {
        cases.push((
            format!("R2/R3 next login step of a user whose MFA is {mfa}"),
            "next_login_step",
            bob(mfa),
        ));
    }
    for (at, code) in RFC6238_SHA1 {
        cases.push((
            format!("R3 verify: RFC 6238 vector at {at} s accepted"),
            "verify_login",
            code_request(&bob("active"), active(None, 0, None), &code[2..], at),
        ));
    }
    let (at, code) = RFC6238_SHA1[3];
    let step = at / 30;
    let six = &code[2..];
    cases.extend(
        [
            (
                "R3 verify: a wrong code counts a failure",
                code_request(&bob("active"), active(None, 2, None), "000000", at),
            ),
            (
                "R3 verify: a code already used is refused (replay)",
                code_request(&bob("active"), active(Some(step), 0, None), six, at),
            ),
            (
                "R3 verify: one step of clock skew is tolerated",
                code_request(&bob("active"), active(None, 0, None), six, at + 30),
            ),
            (
                "R3 verify: two steps late is too late",
                code_request(&bob("active"), active(None, 0, None), six, at + 61),
            ),
            (
                "R3 verify: the fifth wrong code locks verification",
                code_request(&bob("active"), active(None, 4, None), "000000", at),
            ),
            (
                "R3 verify: a locked authenticator refuses even the right code",
                code_request(
                    &bob("active"),
                    active(None, 5, Some(rfc3339(at + 10))),
                    six,
                    at,
                ),
            ),
            ("R7 verify: an expired login cannot send a code", {
                let mut r = code_request(&bob("active"), active(None, 0, None), six, at);
                r["session"]["login_at"] = rfc3339(at - 31 * 86400);
                r
            }),
            (
                "R3 verify: a code that is not six digits is a wrong code",
                code_request(&bob("active"), active(None, 0, None), "12a456", at),
            ),
        ]
        .map(|(name, r)| (name.to_string(), "verify_login", r)),
    );
    let pending = json!({"pending": key, "active": null, "last_accepted_step": null, "failures": 0, "locked_until": null});
    let enrolment = |user: Value, session_age: i64| {
        let login = rfc3339(at - session_age);
        json!({
            "user": user,
            "session": {"login_at": login, "last_activity_at": login, "mfa_satisfied": false},
            "authenticator": {"pending": null, "active": null, "last_accepted_step": null, "failures": 0, "locked_until": null},
            "now": rfc3339(at),
            "issuer": "Acme Cloud",
        })
    };
    cases.push((
        "R2 enrolment starts with a new key for a user whose MFA is due".into(),
        "start_enrolment",
        enrolment(bob("enrolment_due"), 60),
    ));
    cases.push((
        "R7 enrolment does not start from an expired login".into(),
        "start_enrolment",
        enrolment(bob("enrolment_due"), 31 * 86400),
    ));
    cases.push((
        "R2 enrolment confirmed by a valid first code".into(),
        "confirm_enrolment",
        code_request(&bob("enrolment_due"), pending.clone(), six, at),
    ));
    cases.push((
        "R2 enrolment not confirmed by a wrong code".into(),
        "confirm_enrolment",
        code_request(&bob("enrolment_due"), pending, "000000", at),
    ));
    cases.extend(recovery_code_cases(&bob("active"), &key, at));
    cases
}

/// R15: three saved recovery codes (HMAC-SHA-256 under a key of 32 bytes
/// of 0x42, computed outside the engine) and the cases that use them.
fn recovery_code_cases(bob: &Value, key: &Value, at: i64) -> Vec<(String, &'static str, Value)> {
    let saved = json!({
        "key": "IJBEEQSCIJBEEQSCIJBEEQSCIJBEEQSCIJBEEQSCIJBEEQSCIJBA",
        "hashes": [
            "343U73LLN4JVF2III3UAA5MBFK3P5GWA7HFY73NCHZPNJWWYIJYA", // 7KQ2-M9XD-4TRB-H0ZC
            "TLXNLETY6A5HZHXUNJ4UGSO5OHDWEXPIPMTHZRNDW4YXMCEPLDRA", // P3WN-AE6V-J1SG-FYT8
            "T5CEC4BI4TJ52C4M2Y2GDLYKAOLR5Z6MJWQQROS5AAY6SDZXYVUA", // QXZ5-C0RD-M2KB-9HJ4
        ],
    });
    let authenticator = |failures: u32, locked: Option<Value>| json!({"pending": null, "active": key, "last_accepted_step": null, "failures": failures, "locked_until": locked, "recovery_codes": saved});
    let ask = |a: Value, code: &str| code_request(bob, a, code, at);
    let mut expired = ask(authenticator(0, None), "P3WN-AE6V-J1SG-FYT8");
    expired["session"]["login_at"] = rfc3339(at - 31 * 86400);
    let mut agent = ask(authenticator(0, None), "P3WN-AE6V-J1SG-FYT8");
    agent["user"]["role"] = json!("support_agent");
    let mut off = ask(authenticator(0, None), "P3WN-AE6V-J1SG-FYT8");
    off["user"]["mfa"] = json!("off");
    let regenerate = |recovery_code_login: bool| {
        let login = rfc3339(at - 60);
        json!({
            "user": bob,
            "session": {"login_at": login, "last_activity_at": login, "mfa_satisfied": true, "recovery_code_login": recovery_code_login},
            "authenticator": authenticator(0, None),
            "now": rfc3339(at),
        })
    };
    vec![
        (
            "R15 recovery code: a saved code, typed loosely, logs in once and is used up",
            "use_recovery_code",
            ask(authenticator(2, None), "p3wn ae6v j1sg fyt8"),
        ),
        (
            "R15 recovery code: a wrong one is a failed code, the fifth locks",
            "use_recovery_code",
            ask(authenticator(4, None), "AAAA-AAAA-AAAA-AAAA"),
        ),
        (
            "R15 recovery code: a locked authenticator refuses even a saved code",
            "use_recovery_code",
            ask(
                authenticator(5, Some(rfc3339(at + 10))),
                "P3WN-AE6V-J1SG-FYT8",
            ),
        ),
        (
            "R15 recovery code: an expired login cannot use one",
            "use_recovery_code",
            expired,
        ),
        (
            "R15 recovery code: a support agent has none to use",
            "use_recovery_code",
            agent,
        ),
        (
            "bad input: a recovery code for a user whose MFA is off",
            "use_recovery_code",
            off,
        ),
        (
            "R15 new recovery codes replace the saved ones",
            "regenerate_recovery_codes",
            regenerate(false),
        ),
        (
            "R15 a recovery-code login makes no new recovery codes",
            "regenerate_recovery_codes",
            regenerate(true),
        ),
    ]
    .into_iter()
    .map(|(name, call, request)| (name.to_string(), call, request))
    .collect()
}

/// Recovery codes are random: each code shown as its shape, the stored
/// key and hashes as their sizes (as every host masks them).
fn masked_codes(mut answer: Value) -> Value {
    for field in ["recovery_codes", "codes"] {
        if let Some(codes) = answer.get_mut(field).and_then(Value::as_array_mut) {
            for code in codes {
                let shape: String = code
                    .as_str()
                    .unwrap()
                    .chars()
                    .map(|c| if c == '-' { '-' } else { 'X' })
                    .collect();
                *code = json!(shape);
            }
        }
    }
    if let Some(saved) = answer["authenticator"]
        .get_mut("recovery_codes")
        .filter(|c| c.is_object())
    {
        let size = |text: &Value| {
            data_encoding::BASE32_NOPAD
                .decode(text.as_str().unwrap().as_bytes())
                .unwrap()
                .len()
        };
        saved["key"] = json!(format!("<random {} bytes>", size(&saved["key"])));
        let hashes: Vec<Value> = saved["hashes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| json!(format!("<{} bytes>", size(h))))
            .collect();
        saved["hashes"] = json!(hashes);
    }
    answer
}

/// An enrolment answer with its random parts masked, as every host masks
/// it: the key's secret in the URI and in the stored authenticator; the QR
/// code (which encodes it) only checked to be there.
fn masked(mut enrolment: Value) -> Value {
    if let Some(key) = enrolment.get_mut("key").filter(|k| k.is_object()) {
        for qr in ["qr_png_base64", "qr_text"] {
            assert!(!key[qr].as_str().unwrap().is_empty(), "{qr} is empty");
            key.as_object_mut().unwrap().remove(qr);
        }
        let uri = key["uri"].as_str().unwrap();
        let start = uri.find("secret=").unwrap() + "secret=".len();
        let end = uri[start..].find('&').map_or(uri.len(), |i| start + i);
        key["uri"] = json!(format!("{}<random>{}", &uri[..start], &uri[end..]));
    }
    if let Some(pending) = enrolment["authenticator"]
        .get_mut("pending")
        .filter(|p| p.is_object())
    {
        let bytes = data_encoding::BASE32_NOPAD
            .decode(pending["secret"].as_str().unwrap().as_bytes())
            .unwrap()
            .len();
        pending["secret"] = json!(format!("<random {bytes} bytes>"));
    }
    enrolment
}

fn parse<T: serde::de::DeserializeOwned>(value: &Value) -> T {
    serde_json::from_value(value.clone()).unwrap_or_else(|e| panic!("{e}: {value}"))
}

fn time_of(value: &Value) -> time::OffsetDateTime {
    time::OffsetDateTime::parse(
        value.as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap()
}

fn error_json(e: mfa_reset::Error) -> Value {
    match e {
        mfa_reset::Error::InvalidRequest(mfa_reset::RequestError { field, message }) => {
            json!({"error": {"field": field, "message": message}})
        }
        other => panic!("{other}"),
    }
}

/// The answer to a login-step case, in the JSON every host produces.
fn login_answer(call: &str, input: &Value) -> Value {
    let engine = common::engine();
    if call == "next_login_step" {
        return match engine.login_step(&parse(input)) {
            Ok(step) => json!({ "step": step }),
            Err(e) => error_json(e),
        };
    }
    if call == "start_enrolment" {
        let request = mfa_reset::EnrolmentRequest {
            user: parse(&input["user"]),
            session: parse(&input["session"]),
            authenticator: parse(&input["authenticator"]),
            now: time_of(&input["now"]),
            issuer: input["issuer"].as_str().unwrap().to_string(),
        };
        return match engine.start_enrolment(&request) {
            Ok(e) => json!({"enrolment": masked(json!({
                "decision": e.decision,
                "key": e.key.map(|k| json!({
                    "uri": k.uri,
                    "qr_png_base64": data_encoding::BASE64.encode(&k.qr_png),
                    "qr_text": k.qr_text,
                })),
                "authenticator": e.authenticator,
                "audit": e.audit,
            }))}),
            Err(e) => error_json(e),
        };
    }
    if call == "regenerate_recovery_codes" {
        let request = mfa_reset::RecoveryCodesRequest {
            user: parse(&input["user"]),
            session: parse(&input["session"]),
            authenticator: parse(&input["authenticator"]),
            now: time_of(&input["now"]),
        };
        return match engine.regenerate_recovery_codes(&request) {
            Ok(n) => json!({"new_codes": masked_codes(json!({
                "decision": n.decision,
                "codes": n.codes.0,
                "authenticator": n.authenticator,
                "sessions": n.sessions,
                "audit": n.audit,
            }))}),
            Err(e) => error_json(e),
        };
    }
    let request = mfa_reset::CodeRequest {
        user: parse(&input["user"]),
        session: parse(&input["session"]),
        authenticator: parse(&input["authenticator"]),
        code: input["code"].as_str().unwrap().to_string(),
        now: time_of(&input["now"]),
        lockout: parse(&input["lockout"]),
    };
    let answered = match call {
        "verify_login" => engine.verify_login(&request),
        "use_recovery_code" => engine.use_recovery_code(&request),
        _ => engine.confirm_enrolment(&request),
    };
    match answered {
        Ok(v) => {
            let verification = json!({
                "decision": v.decision,
                "result": v.result,
                "message": v.message,
                "user": v.user,
                "authenticator": v.authenticator,
                "audit": v.audit,
                "recovery_codes": v.recovery_codes.0,
                "recovery_codes_left": v.recovery_codes_left,
            });
            // A confirmed enrolment's new codes are random.
            let random = call == "confirm_enrolment";
            json!({"verification": if random { masked_codes(verification) } else { verification }})
        }
        Err(e) => error_json(e),
    }
}

/// R13: an identity provider's requests (its SCIM token as principal):
/// creation, deactivation, reads across organizations, a root, bad input.
fn provisioning_requests() -> Vec<(String, Value)> {
    let acme = json!({"id": "acme", "enforce_mfa": false});
    let globex = json!({"id": "globex", "enforce_mfa": false});
    let user = |id: &str, role: &str, org: &Value| json!({"id": id, "role": role, "organization": org, "mfa": "active", "active": true});
    let ask = |action: Value| {
        json!({
            "provisioner": {"id": "scim-acme", "organization": acme},
            "now": "2026-11-22T10:00:00Z",
            "action": action,
        })
    };
    let mut empty_id = ask(json!({"create_user": "dave"}));
    empty_id["provisioner"]["id"] = json!("");
    [
        (
            "R13 provisioning: an identity provider lists its organization's users",
            ask(json!("read_users")),
        ),
        (
            "R13 provisioning: creating a user makes an active sub-user with MFA off",
            ask(json!({"create_user": "dave"})),
        ),
        (
            "R13 provisioning: deactivating a sub-user ends their sessions",
            ask(json!({"deactivate_user": user("bob", "sub_user", &acme)})),
        ),
        (
            "R13 provisioning: reactivating a sub-user",
            ask(json!({"reactivate_user": user("bob", "sub_user", &acme)})),
        ),
        (
            "R13 provisioning deny: another organization's user is out of reach",
            ask(json!({"read_user": user("gina", "sub_user", &globex)})),
        ),
        (
            "R13 provisioning deny: the root is never deactivated by provisioning",
            ask(json!({"deactivate_user": user("ada", "root", &acme)})),
        ),
        ("bad input: a provisioner without an id", empty_id),
    ]
    .into_iter()
    .map(|(name, request)| (name.to_string(), request))
    .collect()
}

/// R14: the steps of a support desk's recovery case, with the agent, the
/// account holder, their root and the cancel link as callers; an agent
/// asking an organization's action; bad input.
fn recovery_requests() -> Vec<(String, Value)> {
    let globex = json!({"id": "globex", "enforce_mfa": false});
    let provider = json!({"id": "provider", "enforce_mfa": false});
    let account = |id: &str, role: &str, org: &Value| json!({"id": id, "role": role, "organization": org, "mfa": "active", "active": true});
    let sam = account("sam", "support_agent", &provider);
    let tess = account("tess", "support_agent", &provider);
    let gina = account("gina", "sub_user", &globex);
    let gus = account("gus", "root", &globex);
    let case = |state: &str, opened_at: &str, issued: Option<&str>| {
        json!({
            "id": "case-1",
            "account": gina,
            "opened_by": "sam",
            "opened_at": opened_at,
            "checks": ["code_to_email_on_file", "callback_to_phone_on_file"],
            "approved_by": null,
            "state": state,
            "ticket_issued_at": issued,
        })
    };
    let now = "2026-11-22T10:00:00Z";
    let session = json!({"login_at": "2026-11-22T09:30:00Z", "last_activity_at": "2026-11-22T09:59:00Z", "mfa_satisfied": true});
    let ask = |caller: Option<&Value>, action: &str, case: Value| json!({"caller": caller, "session": session, "now": now, "account_has_active_session": false, "action": action, "case": case});
    let mut redeem = ask(
        Some(&gina),
        "redeem_ticket",
        case(
            "ticket_issued",
            "2026-11-21T09:00:00Z",
            Some("2026-11-22T09:30:00Z"),
        ),
    );
    redeem["session"] = json!({"login_at": now, "last_activity_at": now, "mfa_satisfied": false});
    let mut weak = case("open", now, None);
    weak["checks"] = json!(["code_to_email_on_file"]);
    let open_case = case("open", "2026-11-21T09:00:00Z", None);
    [
        (
            "R14 recovery: an agent opens a sub-user's case",
            ask(Some(&sam), "open_case", case("open", now, None)),
        ),
        (
            "R14 recovery deny: too few identity checks",
            ask(Some(&sam), "open_case", weak),
        ),
        (
            "R14 recovery deny: the opener approves their own case",
            ask(Some(&sam), "approve_case", open_case.clone()),
        ),
        (
            "R14 recovery: a second agent approves",
            ask(Some(&tess), "approve_case", open_case.clone()),
        ),
        (
            "R14 recovery: the ticket is issued after 24 hours",
            ask(Some(&sam), "issue_ticket", open_case.clone()),
        ),
        (
            "R14 recovery deny: the ticket before 24 hours",
            ask(
                Some(&sam),
                "issue_ticket",
                case("open", "2026-11-21T11:00:00Z", None),
            ),
        ),
        (
            "R14 recovery: the root cancels",
            ask(Some(&gus), "cancel_case", open_case.clone()),
        ),
        (
            "R14 recovery: the cancel link cancels",
            ask(None, "cancel_by_link", open_case.clone()),
        ),
        (
            "R14 recovery: the holder redeems the ticket, enrolment is due, sessions end",
            redeem,
        ),
        (
            "bad input: a cancel link with a caller",
            ask(Some(&gina), "cancel_by_link", open_case),
        ),
    ]
    .into_iter()
    .map(|(name, request)| (name.to_string(), request))
    .collect()
}

fn recovery_answer(request: &Value) -> Value {
    let parsed = mfa_reset::api::from_json::<mfa_reset::RecoveryRequest>(&request.to_string())
        .expect("the case's request is well-formed JSON of the library");
    outcome_json(common::engine().decide_recovery(&parsed))
}

fn provisioning_answer(request: &Value) -> Value {
    let parsed = mfa_reset::api::from_json::<mfa_reset::ProvisioningRequest>(&request.to_string())
        .expect("the case's request is well-formed JSON of the library");
    outcome_json(common::engine().decide_provisioning(&parsed))
}

/// An engine's outcome or refusal as the conformance file holds it.
fn outcome_json<T: serde::Serialize>(answer: Result<T, mfa_reset::Error>) -> Value {
    match answer {
        Ok(outcome) => {
            let mut outcome = serde_json::to_value(outcome).unwrap();
            // Added by the Rust host's engine, not part of the component's answer.
            outcome.as_object_mut().unwrap().remove("policy_revision");
            json!({ "outcome": outcome })
        }
        Err(mfa_reset::Error::InvalidRequest(mfa_reset::RequestError { field, message })) => {
            json!({"error": {"field": field, "message": message}})
        }
        Err(other) => panic!("{other}"),
    }
}

fn answer(request: &Value) -> Value {
    let parsed = mfa_reset::api::from_json::<mfa_reset::Request>(&request.to_string())
        .expect("the case's request is well-formed JSON of the library");
    outcome_json(common::engine().decide(&parsed))
}

#[test]
fn every_host_answers_the_conformance_cases_as_the_rust_host_does() {
    let cedar_cases: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(repo("policies/tests.json")).unwrap())
            .unwrap();
    let mut cases = Vec::new();
    for case in &cedar_cases {
        let Some(request) = typed_request(case) else {
            continue;
        };
        let expected = answer(&request);
        // The component's decision is the one the official Cedar CLI expects.
        let outcome = &expected["outcome"];
        assert_eq!(
            outcome["decision"]["allowed"],
            case["decision"] == "allow",
            "{}: {expected}",
            case["name"]
        );
        if case["decision"] == "allow" {
            assert_eq!(
                outcome["decision"]["policy_ids"], case["reason"],
                "{}",
                case["name"]
            );
        } else {
            for id in case["reason"].as_array().unwrap() {
                assert!(
                    outcome["decision"]["policy_ids"]
                        .as_array()
                        .unwrap()
                        .contains(id),
                    "{}: {id} did not decide",
                    case["name"]
                );
            }
        }
        cases.push(
            json!({"name": case["name"], "call": "decide", "request": request, "expect": expected}),
        );
    }
    for (name, request) in more_requests() {
        let expected = answer(&request);
        cases.push(json!({"name": name, "call": "decide", "request": request, "expect": expected}));
    }
    for (name, request) in provisioning_requests() {
        let expected = provisioning_answer(&request);
        cases.push(json!({"name": name, "call": "decide_provisioning", "request": request, "expect": expected}));
    }
    for (name, request) in recovery_requests() {
        let expected = recovery_answer(&request);
        cases.push(json!({"name": name, "call": "decide_recovery", "request": request, "expect": expected}));
    }
    for (name, call, request) in login_cases() {
        let expected = login_answer(call, &request);
        cases.push(json!({"name": name, "call": call, "request": request, "expect": expected}));
    }
    // The RFC 6238 vectors are accepted, and the skew and lock cases do
    // what their names say.
    let verdict = |prefix: &str| -> Vec<Value> {
        cases
            .iter()
            .filter(|c| c["name"].as_str().unwrap().starts_with(prefix))
            .map(|c| c["expect"]["verification"]["result"].clone())
            .collect()
    };
    assert_eq!(verdict("R3 verify: RFC 6238"), vec![json!("accepted"); 6]);
    assert_eq!(verdict("R3 verify: one step"), [json!("accepted")]);
    assert_eq!(verdict("R3 verify: two steps"), [json!("invalid_code")]);
    assert_eq!(verdict("R3 verify: a code already"), [json!("replayed")]);
    assert_eq!(verdict("R3 verify: a locked"), [json!("locked")]);
    let text = serde_json::to_string_pretty(&json!({
        "about": "Conformance cases for every mfa-reset host (tests/engine/conformance.rs makes them; do not edit by hand). `call`: the engine function; `request`: its input in the library's JSON (a typed request for `decide`, an identity provider's request for `decide_provisioning`, a recovery case step for `decide_recovery`, a user for `next_login_step`, a code request for `verify_login`, `confirm_enrolment` and `use_recovery_code`, a recovery-codes request for `regenerate_recovery_codes`); `expect`: the `outcome` (authenticators aside), the `step`, the `verification`, the `enrolment` (its random key masked: `secret=<random>` in the URI, `<random N bytes>` for the stored secret, the QR code present but not compared), the `new_codes`, or the `error` (`field` as the caller wrote it). New recovery codes (of `confirm_enrolment` and `regenerate_recovery_codes`) are random: each code is masked to its shape (`XXXX-XXXX-XXXX-XXXX`), the stored key to `<random N bytes>` and each hash to `<N bytes>`.",
        "cases": cases,
    }))
    .unwrap()
        + "\n";
    let path = repo(CONFORMANCE_CASES);
    if std::env::var_os("MFA_RESET_CONFORMANCE_WRITE").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &text).unwrap();
    }
    let errors = cases
        .iter()
        .filter(|c| c["expect"]["error"].is_object())
        .count();
    assert!(errors >= 4, "bad requests are refused: {errors}");
    assert!(cases.len() >= 50, "{} cases", cases.len());

    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == text,
        "{} is not what the engine answers: run `MFA_RESET_CONFORMANCE_WRITE=1 cargo test --workspace --test engine conformance::` after a deliberate change",
        path.display()
    );
}
