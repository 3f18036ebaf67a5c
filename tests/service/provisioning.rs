//! R13: real organizations. An operator creates an organization and its
//! users with the `mfa-reset` command against the database `serve` uses;
//! nobody gets a known password: each account gets a single-use,
//! expiring invitation whose user chooses a password under NIST SP
//! 800-63B-4's rules. A deactivated user's sessions end at once and every
//! request of theirs is refused.

use std::path::Path;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common;
use common::served::Served;
use common::service::{TestService, call, client, forward, read};

/// Runs an operator's command on the data dir `dir`; its status and what
/// it printed (stdout, stderr).
fn operator(dir: &Path, args: &[&str]) -> (bool, String, String) {
    let output = common::mfa_reset_command()
        .args(args)
        .args(["--data-dir", &dir.display().to_string(), "--public-url"])
        .arg("https://mfa.acme.test")
        .output()
        .expect("mfa-reset runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The user and token of an invitation printed by `--json` (any address).
fn invitation_token(printed: &str) -> (String, String) {
    let value: Value = serde_json::from_str(printed).expect("an invitation as JSON");
    let link = value["link"].as_str().unwrap();
    let (_, token) = link.split_once('#').expect("the token is in the fragment");
    (
        value["user"].as_str().unwrap().to_string(),
        token.to_string(),
    )
}

/// The token of an invitation printed by `--json` with the test's public
/// address, and its user.
fn invitation(printed: &str) -> (String, String) {
    let value: Value = serde_json::from_str(printed).expect("an invitation as JSON");
    let page = value["link"].as_str().unwrap().split('#').next().unwrap();
    assert_eq!(page, "https://mfa.acme.test/console/invitation");
    let (user, token) = invitation_token(printed);
    assert!(token.len() >= 43, "at least 256 bits: {token}");
    (user, token)
}

async fn post(base: &str, path: &str, body: Value) -> (StatusCode, Value) {
    read(
        client()
            .post(format!("{base}{path}"))
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn login(base: &str, user: &str, password: &str) -> (StatusCode, Value) {
    post(
        base,
        "/api/login",
        json!({"user": user, "password": password}),
    )
    .await
}

/// The field and message of a 422.
fn refusal(answer: &(StatusCode, Value)) -> (String, String) {
    assert_eq!(answer.0, StatusCode::UNPROCESSABLE_ENTITY, "{}", answer.1);
    let error = &answer.1["error"];
    (
        error["field"].as_str().unwrap_or_default().to_string(),
        error["message"].as_str().unwrap_or_default().to_string(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn r13_an_organization_created_by_the_operator_gets_in_only_through_single_use_invitations() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (ok, printed, _) = operator(
        &data,
        &[
            "orgs",
            "create",
            "acme",
            "--root",
            "ada",
            "--enforce-mfa",
            "--json",
        ],
    );
    assert!(ok, "{printed}");
    let (ada, ada_token) = invitation(&printed);
    assert_eq!(ada, "ada");
    let (ok, printed, _) = operator(&data, &["users", "add", "--org", "acme", "bob", "--json"]);
    assert!(ok, "{printed}");
    let (_, bob_token) = invitation(&printed);

    // Bad operator input: which id, as typed, and why; nothing created.
    for (args, expected) in [
        (
            vec!["users", "add", "--org", "acme", "BOB"],
            "user `BOB`: is taken",
        ),
        (
            vec!["users", "add", "--org", "acme", "bo b"],
            "user `bo b`: holds ` `",
        ),
        (
            vec!["users", "add", "--org", "globex", "carol"],
            "no organization `globex`",
        ),
        (
            vec!["orgs", "create", "ACME", "--root", "x"],
            "organization `ACME`: is taken",
        ),
        (vec!["users", "invite", "nobody"], "no user `nobody`"),
    ] {
        let (ok, _, stderr) = operator(&data, &args);
        assert!(!ok && stderr.contains(expected), "{args:?}: {stderr}");
    }

    let served =
        Served::start_without_demo(&["--data-dir".to_string(), data.display().to_string()], &[])
            .await;
    let base = served.base.as_str();

    // Before its invitation is used, an account has no password at all.
    for password in ["", "bob-demo-password", "decoy password"] {
        assert_eq!(
            login(base, "bob", password).await.0,
            StatusCode::UNAUTHORIZED
        );
    }

    // The invitation says whose it is and what the password needs: MFA is
    // enforced in acme, so 8 characters (NIST SP 800-63B-4).
    let (status, peek) = post(base, "/api/invitation", json!({"token": ada_token})).await;
    assert_eq!(status, StatusCode::OK, "{peek}");
    assert_eq!(peek["user"], "ada");
    assert_eq!(peek["min_password_chars"], 8);
    assert_eq!(peek["mfa_required"], true);

    // The password rules, each refusal naming the field and why.
    let accept = |token: &str, password: &str| {
        post(
            base,
            "/api/invitation/accept",
            json!({"token": token, "password": password}),
        )
    };
    for (password, why) in [
        ("short", "is 5 characters long; it needs at least 8"),
        ("BaseBall", "commonly used or breached"),
        ("ada", "is 3 characters long"),
        ("zzzzzzzzzz", "one character repeated"),
        ("12345678", "commonly used or breached"),
        (&"x y".repeat(100), "at most 256"),
    ] {
        let (field, message) = refusal(&accept(&ada_token, password).await);
        assert_eq!(field, "password");
        assert!(message.contains(why), "{password}: {message}");
    }
    let ada_password = "correct horse battery staple";
    let (status, body) = accept(&ada_token, ada_password).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Single use: the same token again, an unknown one, and a malformed
    // one all get the same refusal.
    let refused = refusal(&accept(&ada_token, "another fine passphrase").await);
    assert_eq!(refused.0, "token");
    assert!(refused.1.contains("cannot be used"), "{}", refused.1);
    for token in ["0".repeat(43), String::new()] {
        assert_eq!(refusal(&accept(&token, ada_password).await), refused);
        let peek = post(base, "/api/invitation", json!({"token": token})).await;
        assert_eq!(refusal(&peek), refused);
    }
    // Bad bodies: unknown fields and huge tokens are refused, never a 5xx.
    let (status, _) = post(base, "/api/invitation/accept", json!({"token": bob_token})).await;
    assert!(status.is_client_error(), "{status}");
    let (status, _) = post(
        base,
        "/api/invitation",
        json!({"token": bob_token, "user": "ada"}),
    )
    .await;
    assert!(status.is_client_error(), "{status}");
    let (field, _) =
        refusal(&post(base, "/api/invitation", json!({"token": "t".repeat(5000)})).await);
    assert_eq!(field, "token");

    // ada logs in with her password, and must enrol at once (enforced).
    let (status, body) = login(base, "ada", ada_password).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["next_step"], "enrol");

    // An operator cannot invite someone who has a password: that would be
    // an account takeover by whoever reads the link.
    let (ok, _, stderr) = operator(&data, &["users", "invite", "ada"]);
    assert!(
        !ok && stderr.contains("has chosen a password already"),
        "{stderr}"
    );

    // A newer invitation voids the older one.
    let (ok, printed, _) = operator(&data, &["users", "invite", "bob", "--json"]);
    assert!(ok);
    let (_, newer) = invitation(&printed);
    assert_eq!(
        refusal(&accept(&bob_token, "a perfectly good passphrase").await),
        refused
    );
    let (status, _) = accept(&newer, "a perfectly good passphrase").await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = login(base, "bob", "a perfectly good passphrase").await;
    assert_eq!(
        (status, body["next_step"].as_str()),
        (StatusCode::OK, Some("enrol"))
    );

    // The audit trail has the operator's changes and the invitations used;
    // no token or password anywhere in the log.
    let log = served.log();
    for secret in [
        ada_token.as_str(),
        bob_token.as_str(),
        newer.as_str(),
        ada_password,
    ] {
        assert!(!log.contains(secret), "a secret in the log");
    }
}

/// An account without MFA needs 15 characters; one password is not the
/// next user's.
#[tokio::test(flavor = "multi_thread")]
async fn r13_a_password_only_account_needs_fifteen_characters_and_an_invitation_expires() {
    let svc = TestService::start(|config, _| config.seed = None).await;
    let database = format!(
        "sqlite://{}?mode=rwc",
        svc.dir.path().join("state.db").display()
    );
    // The operator's use cases, on the service's database.
    let key = mfa_reset_service::SecretBox::generate_base64();
    let accounts = mfa_reset_service::Accounts::open(&database, &key, &svc.base)
        .await
        .unwrap();
    let carol = accounts
        .create_organization("initech", "carol", false)
        .await
        .unwrap();
    let dave = accounts.add_user("initech", "dave").await.unwrap();
    let token = |i: &mfa_reset_service::Invitation| i.link.split_once('#').unwrap().1.to_string();
    let (carol_token, dave_token) = (token(&carol), token(&dave));
    assert!(
        carol
            .link
            .starts_with(&format!("{}/console/invitation#", svc.base))
    );

    let accept = |token: String, password: &'static str| {
        let base = svc.base.clone();
        async move {
            post(
                &base,
                "/api/invitation/accept",
                json!({"token": token, "password": password}),
            )
            .await
        }
    };
    let (field, message) = refusal(&accept(carol_token.clone(), "fourteen chars").await);
    assert_eq!(field, "password");
    assert!(message.contains("needs at least 15"), "{message}");
    let (status, _) = accept(carol_token, "fifteen chars!!").await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = login(&svc.base, "carol", "fifteen chars!!").await;
    assert_eq!(
        (status, body["next_step"].as_str()),
        (StatusCode::OK, Some("none"))
    );

    // Seven days later dave's invitation no longer works.
    svc.clock
        .advance(time::Duration::days(7) + time::Duration::minutes(1));
    let (field, message) = refusal(&accept(dave_token, "a long enough passphrase").await);
    assert_eq!(field, "token");
    assert!(message.contains("expired"), "{message}");
    assert_eq!(
        login(&svc.base, "dave", "a long enough passphrase").await.0,
        StatusCode::UNAUTHORIZED
    );
}

/// Deactivation ends every session of the user at once (console API and
/// forward-auth), and a right password no longer logs in; reactivation
/// lets the user in again.
#[tokio::test(flavor = "multi_thread")]
async fn r13_deactivation_ends_the_users_sessions_at_once_and_refuses_its_logins() {
    let svc = TestService::start(|_, _| {}).await;
    let accounts = svc.accounts(&svc.base).await;
    let base = svc.base.as_str();
    let bob = common::service::login(base, "bob").await;
    let app = [
        ("X-Original-Method", "GET"),
        ("X-Original-URI", "/app/home"),
    ];
    assert_eq!(
        forward(base, "/forward-auth", Some(&bob), &app, None)
            .await
            .0,
        StatusCode::OK
    );

    accounts.set_active("bob", false).await.unwrap();

    let (status, _) = call(base, &bob, "GET", "/api/session", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = call(base, &bob, "POST", "/api/me/mfa/enable", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = forward(base, "/forward-auth", Some(&bob), &app, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = login(base, "bob", "bob-demo-password").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    // The same answer as a wrong password: the login does not tell who left.
    assert_eq!(body, login(base, "bob", "wrong").await.1);

    // ada (root) sees bob deactivated in the listing.
    let ada = common::service::login(base, "ada").await;
    let (_, listing) = call(base, &ada, "GET", "/api/org/users", None).await;
    let bob_row = listing["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == "bob")
        .cloned()
        .unwrap();
    assert_eq!(bob_row["active"], false, "{listing}");

    accounts.set_active("bob", true).await.unwrap();
    assert_eq!(
        login(base, "bob", "bob-demo-password").await.0,
        StatusCode::OK
    );

    // Both changes are in acme's audit trail, by the operator.
    let (_, audit) = call(base, &ada, "GET", "/api/audit", None).await;
    let actions: Vec<(String, String)> = audit["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["action"].as_str().unwrap().to_string(),
                r["actor"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for action in ["deactivate_user", "reactivate_user"] {
        assert!(
            actions.contains(&(action.to_string(), "operator".to_string())),
            "{audit}"
        );
    }
}

/// R13: a password change needs an active session that finished MFA
/// (decided by the policies) and the current password; the new one passes
/// the rules; every other session of the user ends; it is audited and
/// notified through the webhook.
#[tokio::test(flavor = "multi_thread")]
async fn r13_a_password_change_needs_the_current_password_and_ends_the_other_sessions() {
    let inbox = common::inbox::Inbox::start().await;
    let svc = TestService::start(|config, _| config.webhook = Some(inbox.webhook())).await;
    let base = svc.base.as_str();
    let this = common::service::login(base, "bob").await;
    let other = common::service::login(base, "bob").await;
    let change = |current: &str, new: &str| {
        call(
            base,
            &this,
            "POST",
            "/api/me/password",
            Some(json!({"current_password": current, "new_password": new})),
        )
    };
    let new_password = "bob has a brand new passphrase";

    let (status, body) = change("not my password", new_password).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["denial_code"], "wrong-password");
    let refused = [
        (
            "bob-demo-password",
            "too short",
            "new_password",
            "needs at least 15",
        ),
        (
            "bob-demo-password",
            "bob-demo-password",
            "new_password",
            "is the current password",
        ),
        (
            "bob-demo-password",
            "passwordpassword",
            "new_password",
            "commonly used",
        ),
    ];
    for (current, new, field, why) in refused {
        let answer = change(current, new).await;
        let (got_field, message) = refusal(&answer);
        assert_eq!(got_field, field);
        assert!(message.contains(why), "{new}: {message}");
    }
    // Nothing changed so far: both sessions live, the old password works.
    assert_eq!(
        call(base, &other, "GET", "/api/session", None).await.0,
        StatusCode::OK
    );

    let (status, body) = change("bob-demo-password", new_password).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["policy_ids"], json!(["self-service"]));
    assert_eq!(
        call(base, &this, "GET", "/api/session", None).await.0,
        StatusCode::OK
    );
    assert_eq!(
        call(base, &other, "GET", "/api/session", None).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login(base, "bob", "bob-demo-password").await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(login(base, "bob", new_password).await.0, StatusCode::OK);
    let event = inbox.event("user.password_changed", "bob").await;
    assert_eq!(event["data"]["action"], "change_own_password");
    assert!(!event.to_string().contains(new_password));

    // A login that has not finished MFA cannot change the password (R3).
    let (status, _) = call(base, &this, "POST", "/api/me/mfa/enable", None).await;
    assert_eq!(status, StatusCode::OK);
    let (_, pending) = login(base, "bob", new_password).await;
    assert_eq!(pending["next_step"], "enrol");
    let pending = pending["token"].as_str().unwrap();
    let (status, body) = call(
        base,
        pending,
        "POST",
        "/api/me/password",
        Some(json!({"current_password": new_password, "new_password": "yet another long passphrase"})),
    )
    .await;
    assert_eq!(
        (status, body["denial_code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("mfa-required"))
    );

    // Both attempts that reached the policies are in acme's audit trail.
    let ada = common::service::login(base, "ada").await;
    let (_, audit) = call(base, &ada, "GET", "/api/audit", None).await;
    let changes: Vec<(bool, Option<&str>)> = audit["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] == "change_own_password")
        .map(|r| (r["allowed"].as_bool().unwrap(), r["denial_code"].as_str()))
        .collect();
    for expected in [
        (true, None),
        (false, Some("wrong-password")),
        (false, Some("mfa-required")),
    ] {
        assert!(changes.contains(&expected), "{expected:?} in {changes:?}");
    }
}

/// R13 from the console: a root deactivates, reactivates and invites the
/// sub-users of its organization, each decided by the policies (root only,
/// own organization, sub-users only, when it makes sense); an invitation
/// is never made for an account with a password.
#[tokio::test(flavor = "multi_thread")]
async fn r13_a_root_deactivates_reactivates_and_invites_its_sub_users() {
    let svc = TestService::start(|_, _| {}).await;
    let base = svc.base.as_str();
    let ada = common::service::login(base, "ada").await;
    let bob = common::service::login(base, "bob").await;
    let act = |token: &str, id: &str, what: &str| {
        let (token, path) = (token.to_string(), format!("/api/org/users/{id}/{what}"));
        async move { call(base, &token, "POST", &path, None).await }
    };

    let (status, body) = act(&ada, "bob", "deactivate").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        call(base, &bob, "GET", "/api/session", None).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (_, listing) = call(base, &ada, "GET", "/api/org/users", None).await;
    let offered = listing["actions"]["bob"].as_array().unwrap();
    assert!(
        offered.contains(&json!("reactivate_user")) && !offered.contains(&json!("deactivate_user"))
    );

    let carol = common::service::login(base, "carol").await;
    let gus = common::service::login(base, "gus").await;
    for (token, id, what, code) in [
        (&ada, "bob", "deactivate", "already-deactivated"),
        (&ada, "carol", "reactivate", "not-deactivated"),
        (&carol, "bob", "reactivate", "not-root"),
        (&gus, "carol", "deactivate", "other-organization"),
        (&gus, "nobody", "deactivate", "other-organization"),
        (&ada, "ada", "deactivate", "not-sub-user"),
        (&ada, "carol", "invite", "has-password"),
    ] {
        let (status, body) = act(token, id, what).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{what} {id}: {body}");
        assert_eq!(body["denial_code"], code, "{what} {id}: {body}");
    }
    let (status, _) = act(&ada, "bob", "reactivate").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        login(base, "bob", "bob-demo-password").await.0,
        StatusCode::OK
    );

    // dan, added by the operator, has no password: ada may invite him,
    // and the link in her answer is the one that works.
    let first = svc
        .accounts(base)
        .await
        .add_user("acme", "dan")
        .await
        .unwrap();
    let (_, listing) = call(base, &ada, "GET", "/api/org/users", None).await;
    assert!(
        listing["actions"]["dan"]
            .as_array()
            .unwrap()
            .contains(&json!("invite_user"))
    );
    assert!(
        !listing["actions"]["bob"]
            .as_array()
            .unwrap()
            .contains(&json!("invite_user"))
    );
    let (status, invited) = act(&ada, "dan", "invite").await;
    assert_eq!(status, StatusCode::OK, "{invited}");
    let link = invited["invitation"]["link"].as_str().unwrap();
    let token = |link: &str| link.split_once('#').unwrap().1.to_string();
    let accept = |token: String| {
        post(
            base,
            "/api/invitation/accept",
            json!({"token": token, "password": "dan's first passphrase"}),
        )
    };
    assert_eq!(
        accept(token(&first.link)).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(accept(token(link)).await.0, StatusCode::OK);

    let (_, audit) = call(base, &ada, "GET", "/api/audit?limit=100", None).await;
    let records = audit["records"].as_array().unwrap();
    for (action, allowed) in [
        ("deactivate_user", true),
        ("reactivate_user", true),
        ("invite_user", true),
        ("invite_user", false),
    ] {
        assert!(
            records
                .iter()
                .any(|r| r["action"] == action && r["allowed"] == allowed && r["actor"] == "ada"),
            "{action} {allowed} in {audit}"
        );
    }
    // The invitation's token is in no audit record.
    assert!(!audit.to_string().contains(&token(link)));
}

/// R13 on PostgreSQL: the operator's commands and `serve` share the
/// database (and its key), as on SQLite; the root's invitation works once.
#[tokio::test(flavor = "multi_thread")]
async fn r13_the_operators_commands_work_on_the_postgresql_serve_uses() {
    use common::postgres::{Postgres, wait_ready};

    let pg = Postgres::start();
    wait_ready(&pg.url()).await;
    let dir = tempfile::tempdir().unwrap();
    let key = mfa_reset_service::SecretBox::generate_base64();
    let run = |args: &[&str]| {
        let output = common::mfa_reset_command()
            .args(args)
            .args(["--database", &pg.url(), "--data-dir"])
            .arg(dir.path().join("data"))
            .env("MFA_RESET_SECRET_KEY", &key)
            .output()
            .unwrap();
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (ok, printed, stderr) = run(&["orgs", "create", "initech", "--root", "peter", "--json"]);
    assert!(ok, "{stderr}");
    let (_, token) = invitation_token(&printed);
    let (ok, _, stderr) = run(&["orgs", "create", "Initech", "--root", "bill"]);
    assert!(!ok && stderr.contains("is taken"), "{stderr}");

    let served = Served::start_without_demo(
        &[
            "--database".to_string(),
            pg.url(),
            "--data-dir".to_string(),
            dir.path().join("serve").display().to_string(),
        ],
        &[("MFA_RESET_SECRET_KEY", key.clone())],
    )
    .await;
    let base = served.base.as_str();
    let accept = |password: &'static str| {
        let token = token.clone();
        async move {
            post(
                base,
                "/api/invitation/accept",
                json!({"token": token, "password": password}),
            )
            .await
        }
    };
    assert_eq!(accept("peter's long passphrase").await.0, StatusCode::OK);
    assert_eq!(
        accept("another long passphrase").await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        login(base, "peter", "peter's long passphrase").await.0,
        StatusCode::OK
    );
    // Two creations racing for ids that differ in letter case cannot both
    // land: the database itself refuses the second.
    let db = sqlx::PgPool::connect(&pg.url()).await.unwrap();
    let raced = sqlx::query(
        "INSERT INTO users (id, organization_id, role, password_hash) VALUES ('PETER', 'initech', 'sub_user', '')",
    )
    .execute(&db)
    .await;
    assert!(raced.is_err(), "a case variant of an id was stored");
    let (ok, listed, _) = run(&["users", "list", "--org", "initech", "--json"]);
    assert!(ok);
    let listed: Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(listed[0]["id"], "peter");
    assert_eq!(listed[0]["has_password"], true);
}
