//! R13: SCIM 2.0 provisioning by an organization's identity provider,
//! through the real component and service: a peer's suite (scim2-tester)
//! against /scim/v2, bob created by SCIM getting his invitation as a
//! webhook event, deactivation ending his session at once, one
//! organization's token blind to another's users, tokens that open nothing
//! else, and bad input answered as RFC 7644 says.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common;
use common::inbox::Inbox;
use common::repo;
use common::service::{TestService, call, client, forward, login};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// The demo service, and a SCIM token of acme (and one of globex).
async fn provisioned(
    customize: impl FnOnce(&mut mfa_reset_service::ServiceConfig),
) -> (TestService, String, String) {
    let svc = TestService::start(|config, _| customize(config)).await;
    let accounts = svc.accounts(&svc.base).await;
    let acme = accounts.create_scim_token("acme").await.unwrap().secret;
    let globex = accounts.create_scim_token("globex").await.unwrap().secret;
    (svc, acme, globex)
}

/// `method path` under /scim/v2 with `token`, a JSON body if given.
async fn scim(
    base: &str,
    token: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value, String) {
    let mut request = client()
        .request(method.parse().unwrap(), format!("{base}/scim/v2{path}"))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request
            .header("content-type", "application/scim+json")
            .body(body.to_string());
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
        content_type,
    )
}

/// Asserts a SCIM error answer: status, `scimType`, the Error schema.
fn assert_scim_error(answer: &(StatusCode, Value, String), status: u16, scim_type: Option<&str>) {
    let (got, body, content_type) = answer;
    assert_eq!(got.as_u16(), status, "{body}");
    assert_eq!(body["schemas"], json!([ERROR]), "{body}");
    assert_eq!(body["status"], status.to_string(), "{body}");
    assert_eq!(body["scimType"].as_str(), scim_type, "{body}");
    assert!(
        content_type.starts_with("application/scim+json"),
        "{content_type}"
    );
}

/// The peer's suite: every check scim2-tester makes for what the
/// ServiceProviderConfig declares passes (POST /.search, not supported, is
/// answered 501, which it counts as skipped).
#[tokio::test(flavor = "multi_thread")]
async fn scim2_tester_passes_every_check_the_service_provider_config_declares() {
    let (svc, acme, _) = provisioned(|_| {}).await;
    let python = repo(".tools/venv/bin/python");
    assert!(python.exists(), "run `bash tests/setup` first");
    let base = svc.url("/scim/v2");
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(python)
            .arg(repo("tests/scim/check_server.py"))
            .args([base.as_str(), acme.as_str()])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let printed = String::from_utf8_lossy(&output.stdout);
    println!("{printed}{}", String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "scim2-tester failed");
    let count = |status: &str| printed.lines().filter(|l| l.starts_with(status)).count();
    assert_eq!(count("ERROR"), 0);
    assert!(count("SUCCESS") >= 40, "{printed}");
    // Only the search at the root, which the provider declines (501).
    assert_eq!(count("SKIPPED"), 1, "{printed}");
    assert!(
        printed.contains("SKIPPED  [User] search_with_attributes"),
        "{printed}"
    );
}

/// R13: the identity provider creates bob2; his invitation arrives as a
/// signed `user.invited` event with his e-mail address; he chooses a
/// password and logs in; the identity provider deactivates him and his
/// session ends at once (console API and forward-auth); every change is in
/// acme's audit trail as the token's, and no secret is left at rest.
#[tokio::test(flavor = "multi_thread")]
async fn r13_a_user_created_by_scim_is_invited_by_webhook_logs_in_and_is_deactivated() {
    let inbox = Inbox::start().await;
    let (svc, acme, _) = provisioned(|config| config.webhook = Some(inbox.webhook())).await;
    let base = svc.base.as_str();
    let created = scim(
        base,
        &acme,
        "POST",
        "/Users",
        Some(json!({
            "schemas": [USER],
            "userName": "bob2",
            "externalId": "00u1bob2",
            "name": {"givenName": "Bob", "familyName": "Two"},
            "emails": [{"value": "bob2@acme.test", "type": "work", "primary": true}],
            "active": true,
        })),
    )
    .await;
    assert_eq!(created.0, StatusCode::CREATED, "{}", created.1);
    assert_eq!(created.1["id"], "bob2");
    assert_eq!(created.1["name"]["givenName"], "Bob");
    assert_eq!(
        created.1["meta"]["location"],
        "https://mfa.acme.test/scim/v2/Users/bob2"
    );

    let event = inbox.event("user.invited", "bob2").await;
    assert_eq!(event["data"]["organization"], "acme");
    assert_eq!(event["data"]["emails"], json!(["bob2@acme.test"]));
    let link = event["data"]["invitation_link"].as_str().unwrap();
    let token = link
        .strip_prefix("https://mfa.acme.test/console/invitation#")
        .unwrap();
    let password = "bob two chooses a passphrase";
    let accepted = client()
        .post(svc.url("/api/invitation/accept"))
        .json(&json!({"token": token, "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), StatusCode::OK);
    let session = client()
        .post(svc.url("/api/login"))
        .json(&json!({"user": "bob2", "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(session.status(), StatusCode::OK);
    let session: Value = session.json().await.unwrap();
    let bob2 = session["token"].as_str().unwrap().to_string();
    let app = [
        ("X-Original-Method", "GET"),
        ("X-Original-URI", "/app/home"),
    ];
    assert_eq!(
        forward(base, "/forward-auth", Some(&bob2), &app, None)
            .await
            .0,
        StatusCode::OK
    );

    // Microsoft Entra ID's way of deactivating: a path-less replace.
    let patched = scim(
        base,
        &acme,
        "PATCH",
        "/Users/bob2",
        Some(json!({"schemas": [PATCH], "Operations": [{"op": "Replace", "value": {"active": "False"}}]})),
    )
    .await;
    assert_eq!(patched.0, StatusCode::OK, "{}", patched.1);
    assert_eq!(patched.1["active"], false);
    assert_eq!(
        call(base, &bob2, "GET", "/api/session", None).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        forward(base, "/forward-auth", Some(&bob2), &app, None)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    let again = client()
        .post(svc.url("/api/login"))
        .json(&json!({"user": "bob2", "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::UNAUTHORIZED);

    // DELETE: gone for SCIM, the account and its trail stay.
    let deleted = scim(base, &acme, "DELETE", "/Users/bob2", None).await;
    assert_eq!(deleted.0, StatusCode::NO_CONTENT);
    assert_scim_error(
        &scim(base, &acme, "GET", "/Users/bob2", None).await,
        404,
        None,
    );

    let ada = login(base, "ada").await;
    let (_, audit) = call(base, &ada, "GET", "/api/audit", None).await;
    let records = audit["records"].as_array().unwrap();
    for action in [
        "provision_create_user",
        "provision_deactivate_user",
        "accept_invitation",
    ] {
        assert!(
            records
                .iter()
                .any(|r| r["action"] == action && r["target"] == "bob2"),
            "{action} in {audit}"
        );
    }
    let by_token = records
        .iter()
        .find(|r| r["action"] == "provision_create_user")
        .unwrap();
    assert!(by_token["actor"].as_str().unwrap().starts_with("scim-"));

    // No invitation token, SCIM token or password in the database.
    let mut db = Vec::new();
    for file in ["state.db", "state.db-wal"] {
        db.extend(std::fs::read(svc.dir.path().join(file)).unwrap_or_default());
    }
    let db = String::from_utf8_lossy(&db);
    for secret in [token, acme.as_str(), password] {
        assert!(!db.contains(secret), "a secret at rest");
    }
}

/// R13: acme's token can neither read nor write globex's users, and its
/// answers cannot tell them from users that do not exist.
#[tokio::test(flavor = "multi_thread")]
async fn r13_one_organizations_token_cannot_tell_whether_anothers_users_exist() {
    let (svc, acme, globex) = provisioned(|_| {}).await;
    let base = svc.base.as_str();
    let deactivate = json!({"schemas": [PATCH], "Operations": [{"op": "replace", "path": "active", "value": false}]});
    let replace = |id: &str| json!({"schemas": [USER], "userName": id, "active": false});
    for (method, body) in [
        ("GET", None),
        ("PATCH", Some(deactivate.clone())),
        ("PUT", Some(replace("gina"))),
        ("DELETE", None),
    ] {
        let other = scim(base, &acme, method, "/Users/gina", body.clone()).await;
        let body = body.map(|b| {
            if method == "PUT" {
                replace("nobody")
            } else {
                b
            }
        });
        let missing = scim(base, &acme, method, "/Users/nobody", body).await;
        assert_scim_error(&other, 404, None);
        assert_eq!(
            other.1["detail"].as_str().unwrap().replace("gina", "X"),
            missing.1["detail"].as_str().unwrap().replace("nobody", "X"),
            "{method}: the same answer"
        );
    }
    let (status, list, _) = scim(
        base,
        &acme,
        "GET",
        "/Users?filter=userName%20eq%20%22gina%22",
        None,
    )
    .await;
    assert_eq!(
        (status, list["totalResults"].as_i64()),
        (StatusCode::OK, Some(0))
    );
    let (_, all, _) = scim(base, &acme, "GET", "/Users", None).await;
    let ids: Vec<&str> = all["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&"bob") && ids.contains(&"ada") && !ids.contains(&"gina"),
        "{ids:?}"
    );
    // gina is untouched: globex still sees her active.
    let (_, gina, _) = scim(base, &globex, "GET", "/Users/gina", None).await;
    assert_eq!(gina["active"], true);
    // The root is read, never written (the policy provisioning-leaves-roots-alone).
    let root = scim(base, &acme, "PATCH", "/Users/ada", Some(deactivate)).await;
    assert_eq!(root.0, StatusCode::FORBIDDEN, "{}", root.1);
    assert!(
        root.1["detail"]
            .as_str()
            .unwrap()
            .contains("root-not-provisioned")
    );
    let ada = login(base, "ada").await;
    assert_eq!(
        call(base, &ada, "GET", "/api/session", None).await.0,
        StatusCode::OK
    );
}

/// A SCIM token opens neither the console API nor forward-auth; a session
/// token, a revoked token, no token and another scheme open no SCIM.
#[tokio::test(flavor = "multi_thread")]
async fn tokens_open_only_their_own_doors() {
    let (svc, acme, _) = provisioned(|_| {}).await;
    let base = svc.base.as_str();
    assert_eq!(
        call(base, &acme, "GET", "/api/session", None).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        call(base, &acme, "GET", "/api/org/users", None).await.0,
        StatusCode::UNAUTHORIZED
    );
    let app = [
        ("X-Original-Method", "GET"),
        ("X-Original-URI", "/app/home"),
    ];
    assert_eq!(
        forward(base, "/forward-auth", Some(&acme), &app, None)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    let bob = login(base, "bob").await;
    assert_scim_error(&scim(base, &bob, "GET", "/Users", None).await, 401, None);
    assert_scim_error(
        &scim(base, "", "GET", "/ServiceProviderConfig", None).await,
        401,
        None,
    );
    let basic = client()
        .get(svc.url("/scim/v2/Users"))
        .header("authorization", format!("Basic {acme}"))
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), StatusCode::UNAUTHORIZED);
    assert!(
        basic.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );

    let accounts = svc.accounts(&svc.base).await;
    let listed = accounts.scim_tokens("acme").await.unwrap();
    accounts
        .revoke_scim_token("acme", &listed[0].id)
        .await
        .unwrap();
    assert_scim_error(&scim(base, &acme, "GET", "/Users", None).await, 401, None);
}

/// Bad input gets RFC 7644's error answers (status, scimType, the Error
/// schema), never a 5xx, and changes nothing.
#[tokio::test(flavor = "multi_thread")]
async fn bad_scim_input_gets_the_rfcs_error_answers() {
    let (svc, acme, _) = provisioned(|config| config.max_body_bytes = 16 * 1024).await;
    let base = svc.base.as_str();
    let user = |extra: Value| {
        let mut body = json!({"schemas": [USER], "userName": "carol2"});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    let cases: Vec<(&str, &str, Value, u16, Option<&str>)> = vec![
        (
            "POST",
            "/Users",
            user(json!({"title": "CEO"})),
            400,
            Some("invalidSyntax"),
        ),
        (
            "POST",
            "/Users",
            json!({"schemas": ["urn:example:Other"], "userName": "x"}),
            400,
            Some("invalidSyntax"),
        ),
        (
            "POST",
            "/Users",
            json!({"schemas": [USER]}),
            400,
            Some("invalidValue"),
        ),
        (
            "POST",
            "/Users",
            user(json!({"password": "hunter2hunter2"})),
            400,
            Some("invalidValue"),
        ),
        (
            "POST",
            "/Users",
            json!({"schemas": [USER], "userName": "bo b"}),
            400,
            Some("invalidValue"),
        ),
        (
            "POST",
            "/Users",
            json!({"schemas": [USER], "userName": "BOB"}),
            409,
            Some("uniqueness"),
        ),
        (
            "POST",
            "/Users",
            user(json!({"active": "maybe"})),
            400,
            Some("invalidValue"),
        ),
        (
            "POST",
            "/Users",
            user(json!({"emails": [{"type": "work"}]})),
            400,
            Some("invalidValue"),
        ),
        (
            "POST",
            "/Users",
            user(json!({"name": {"nickName": "c"}})),
            400,
            Some("invalidSyntax"),
        ),
        ("POST", "/Users", json!([1, 2]), 400, Some("invalidSyntax")),
        (
            "PATCH",
            "/Users/bob",
            json!({"schemas": [PATCH], "Operations": [{"op": "replace", "path": "userName", "value": "eve"}]}),
            400,
            Some("mutability"),
        ),
        (
            "PATCH",
            "/Users/bob",
            json!({"schemas": [PATCH], "Operations": [{"op": "remove"}]}),
            400,
            Some("noTarget"),
        ),
        (
            "PATCH",
            "/Users/bob",
            json!({"schemas": [PATCH], "Operations": [{"op": "add", "path": "roles", "value": "root"}]}),
            400,
            Some("invalidPath"),
        ),
        (
            "PATCH",
            "/Users/bob",
            json!({"Operations": [{"op": "replace", "path": "active", "value": false}]}),
            400,
            Some("invalidSyntax"),
        ),
        (
            "PUT",
            "/Users/bob",
            json!({"schemas": [USER], "userName": "eve"}),
            400,
            Some("mutability"),
        ),
        (
            "POST",
            "/Users",
            user(json!({"displayName": "x".repeat(40_000)})),
            413,
            None,
        ),
    ];
    for (method, path, body, status, scim_type) in cases {
        let answer = scim(base, &acme, method, path, Some(body.clone())).await;
        assert_scim_error(&answer, status, scim_type);
    }
    for filter in [
        "userName%20co%20%22b%22",
        "title%20eq%20%22x%22",
        "userName%20eq%20bob",
        "userName%20eq%20%22a%22%20or%20userName%20eq%20%22b%22",
    ] {
        let answer = scim(base, &acme, "GET", &format!("/Users?filter={filter}"), None).await;
        assert_scim_error(&answer, 400, Some("invalidFilter"));
    }
    let paging = scim(base, &acme, "GET", "/Users?count=ten", None).await;
    assert_scim_error(&paging, 400, Some("invalidValue"));
    // Not JSON, and not JSON's media type.
    for (content_type, body, status) in [
        ("application/scim+json", "{not json", 400),
        ("text/plain", "{}", 415),
    ] {
        let response = client()
            .post(svc.url("/scim/v2/Users"))
            .bearer_auth(&acme)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), status);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["schemas"], json!([ERROR]));
    }
    assert_scim_error(&scim(base, &acme, "GET", "/Groups", None).await, 404, None);
    assert_scim_error(
        &scim(base, &acme, "POST", "/.search", Some(json!({}))).await,
        501,
        None,
    );
    // Nothing was created or changed by any of it.
    let (_, listing, _) = scim(
        base,
        &acme,
        "GET",
        "/Users?filter=userName%20eq%20%22carol2%22",
        None,
    )
    .await;
    assert_eq!(listing["totalResults"], 0);
    let (_, bob, _) = scim(base, &acme, "GET", "/Users/bob", None).await;
    assert_eq!(
        (bob["userName"].as_str(), bob["active"].as_bool()),
        (Some("bob"), Some(true))
    );
    // Paging: startIndex and count as RFC 7644 3.4.2.4 has them.
    let (_, page, _) = scim(base, &acme, "GET", "/Users?startIndex=2&count=1", None).await;
    assert_eq!(
        (page["startIndex"].as_i64(), page["itemsPerPage"].as_i64()),
        (Some(2), Some(1))
    );
    assert!(page["totalResults"].as_i64().unwrap() >= 3);
}
