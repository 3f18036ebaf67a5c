//! R14, the support desk, through the real component and the sidecar: the
//! story (gina locked out, a case, the waiting period, a ticket only she
//! receives, enrolment again) and the abuse cases — a talked-into agent, a
//! lone agent on a root, an opener approving, an agent on their own
//! account, tickets reused, expired, cancelled, someone else's or guessed,
//! and agents reaching customer administration or routes.

use reqwest::StatusCode;
use serde_json::{Value, json};
use time::Duration;

use crate::common::inbox::Inbox;
use crate::common::service::{TestService, call, client, enrol, forward, login, read, totp_code};

/// The support desk of the demo organizations, with a webhook and two
/// agents, `sam` and `tom`, who have chosen passwords and enrolled.
struct Desk {
    svc: TestService,
    inbox: Inbox,
    /// Each agent's TOTP secret, to log in again after the clock moved.
    secrets: Vec<(String, String)>,
}

const AGENT_PASSWORD: &str = "a long support desk passphrase";

impl Desk {
    async fn start() -> Self {
        let inbox = Inbox::start().await;
        let webhook = inbox.webhook();
        let svc = TestService::start(|config, _| config.webhook = Some(webhook)).await;
        let mut secrets = Vec::new();
        for agent in ["sam", "tom"] {
            let (_, secret) = enrolled_agent(&svc, agent).await;
            secrets.push((agent.to_string(), secret));
        }
        Self {
            svc,
            inbox,
            secrets,
        }
    }

    /// A fresh, MFA-verified session of `agent` (support sessions are short).
    async fn agent(&self, agent: &str) -> String {
        let (status, body) = password_login(&self.svc.base, agent, AGENT_PASSWORD).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["next_step"], "code");
        let token = body["token"].as_str().unwrap().to_string();
        let secret = &self.secrets.iter().find(|(a, _)| a == agent).unwrap().1;
        // A code of the next step: the enrolment used the current one.
        self.svc.clock.advance(Duration::seconds(30));
        let code = totp_code(secret, self.svc.clock.now().unix_timestamp());
        let (status, body) = self
            .call(
                &token,
                "POST",
                "/api/login/code",
                Some(json!({"code": code})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        token
    }

    async fn call(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        call(&self.svc.base, token, method, path, body).await
    }

    async fn open(&self, token: &str, account: &str, checks: &[&str]) -> (StatusCode, Value) {
        let form = json!({"account": account, "ticket_reference": "HD-1001", "checks": checks});
        self.call(token, "POST", "/api/recovery-cases", Some(form))
            .await
    }

    async fn step(&self, token: &str, case: &str, step: &str) -> (StatusCode, Value) {
        self.call(
            token,
            "POST",
            &format!("/api/recovery-cases/{case}/{step}"),
            None,
        )
        .await
    }

    fn advance(&self, by: Duration) {
        self.svc.clock.advance(by);
    }

    /// The ticket the notification brought the account holder.
    async fn ticket(&self, user: &str) -> String {
        let event = self.inbox.event("recovery.ticket_issued", user).await;
        event["data"]["ticket"].as_str().unwrap().to_string()
    }

    async fn redeem(&self, user: &str, password: &str, ticket: &str) -> (StatusCode, Value) {
        read(
            client()
                .post(self.svc.url("/api/login/ticket"))
                .json(&json!({"user": user, "password": password, "ticket": ticket}))
                .send()
                .await
                .unwrap(),
        )
        .await
    }
}

/// A support agent created by the operator, who chose a password and
/// enrolled: their session (MFA done) and TOTP secret.
async fn enrolled_agent(svc: &TestService, agent: &str) -> (String, String) {
    let accounts = svc.accounts(&svc.base).await.with_clock(svc.clock.clone());
    let invitation = accounts.create_agent(agent).await.unwrap();
    let token = invitation.link.split('#').nth(1).unwrap().to_string();
    let (status, body) = read(
        client()
            .post(svc.url("/api/invitation/accept"))
            .json(&json!({"token": token, "password": AGENT_PASSWORD}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = password_login(&svc.base, agent, AGENT_PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["next_step"], "enrol",
        "R14: MFA is always required of agents"
    );
    let token = body["token"].as_str().unwrap().to_string();
    let secret = enrol(&svc.base, &token, &svc.clock).await;
    (token, secret)
}

async fn password_login(base: &str, user: &str, password: &str) -> (StatusCode, Value) {
    read(
        client()
            .post(format!("{base}/api/login"))
            .json(&json!({"user": user, "password": password}))
            .send()
            .await
            .unwrap(),
    )
    .await
}

fn demo_password(user: &str) -> String {
    format!("{user}-demo-password")
}

const SUB_USER_CHECKS: &[&str] = &["code_to_email_on_file", "callback_to_phone_on_file"];
const ROOT_CHECKS: &[&str] = &[
    "code_to_email_on_file",
    "callback_to_phone_on_file",
    "document_check",
];

/// gina with an enrolled authenticator, then no session (she lost the phone
/// and her session expired after 30 days without use).
async fn gina_locked_out(desk: &Desk) -> String {
    let base = &desk.svc.base;
    let token = login(base, "gina").await;
    let (status, body) = desk.call(&token, "POST", "/api/me/mfa/enable", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let secret = enrol(base, &token, &desk.svc.clock).await;
    desk.advance(Duration::days(31));
    secret
}

fn case_id(body: &Value) -> String {
    body["case"]["id"].as_str().unwrap().to_string()
}

async fn audit_actions(desk: &Desk, token: &str, target: &str) -> Vec<String> {
    let (status, body) = desk.call(token, "GET", "/api/audit?limit=200", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut actions: Vec<String> = body["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["target"] == target && r["allowed"] == true)
        .map(|r| r["action"].as_str().unwrap().to_string())
        .collect();
    actions.reverse();
    actions
}

/// R14, the story: gina's session expired and she lost her phone; sam
/// opens a case with the checks a sub-user needs; gina and gus hear of it
/// (signed webhook); 24 hours later the ticket goes to gina only; she
/// redeems it with her password, enrols a new authenticator and logs in;
/// every step is in globex's audit trail and in the support desk's.
#[tokio::test]
async fn r14_a_locked_out_user_recovers_through_the_support_desk() {
    crate::common::logs::capture();
    let desk = Desk::start().await;
    gina_locked_out(&desk).await;
    let sam = desk.agent("sam").await;
    let mut agent_answers = Vec::new();

    let (status, opened) = desk.open(&sam, "gina", SUB_USER_CHECKS).await;
    assert_eq!(status, StatusCode::OK, "{opened}");
    assert_eq!(opened["case"]["state"], "open");
    let case = case_id(&opened);
    agent_answers.push(opened.to_string());
    let notice = desk.inbox.event("recovery.case_opened", "gina").await;
    assert_eq!(notice["data"]["notify"], json!(["gina", "gus"]));
    assert_eq!(notice["data"]["opened_by"], "sam");
    let link = notice["data"]["cancel_link"].as_str().unwrap();
    assert!(
        link.starts_with("https://mfa.acme.test/console/cancel-case#"),
        "{link}"
    );

    // Within the waiting period nothing is issued.
    let (status, early) = desk.step(&sam, &case, "issue-ticket").await;
    assert_eq!(
        (status, early["denial_code"].as_str()),
        (StatusCode::FORBIDDEN, Some("waiting-period")),
        "{early}"
    );
    let (_, listed) = desk.call(&sam, "GET", "/api/recovery-cases", None).await;
    let ready = listed["cases"][0]["ticket_ready_at"]
        .as_str()
        .unwrap()
        .to_string();
    agent_answers.push(listed.to_string());

    desk.advance(Duration::hours(24) + Duration::minutes(2));
    let sam = desk.agent("sam").await;
    let (status, issued) = desk.step(&sam, &case, "issue-ticket").await;
    assert_eq!(status, StatusCode::OK, "{issued}");
    assert_eq!(issued["case"]["state"], "ticket_issued");
    agent_answers.push(issued.to_string());
    let (_, listed) = desk.call(&sam, "GET", "/api/recovery-cases", None).await;
    agent_answers.push(listed.to_string());
    let ticket = desk.ticket("gina").await;
    assert!(ticket.len() >= 43, "at least 256 bits, base64url: {ticket}");
    for answer in &agent_answers {
        assert!(
            !answer.contains(&ticket),
            "the agent never sees the ticket: {answer}"
        );
        assert!(
            !answer.contains(link.split('#').nth(1).unwrap()),
            "nor the cancel link"
        );
    }
    let opened_at = time::OffsetDateTime::parse(
        opened["case"]["opened_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let ready_at =
        time::OffsetDateTime::parse(&ready, &time::format_description::well_known::Rfc3339)
            .unwrap();
    let wait = ready_at - opened_at;
    assert!(
        wait >= Duration::hours(24) && wait <= Duration::hours(24) + Duration::minutes(2),
        "the desk shows when the policies' 24 h end: {wait}"
    );

    // gina: password and ticket, then a new authenticator, then a login.
    let (status, redeemed) = desk.redeem("gina", &demo_password("gina"), &ticket).await;
    assert_eq!(status, StatusCode::OK, "{redeemed}");
    assert_eq!(
        redeemed["next_step"], "enrol",
        "R6's end state: enrolment due"
    );
    let token = redeemed["token"].as_str().unwrap();
    let secret = enrol(&desk.svc.base, token, &desk.svc.clock).await;
    desk.advance(Duration::seconds(30));
    let (status, body) = password_login(&desk.svc.base, "gina", &demo_password("gina")).await;
    assert_eq!(
        (status, body["next_step"].as_str()),
        (StatusCode::OK, Some("code"))
    );
    let code = totp_code(&secret, desk.svc.clock.now().unix_timestamp());
    let (status, body) = desk
        .call(
            body["token"].as_str().unwrap(),
            "POST",
            "/api/login/code",
            Some(json!({"code": code})),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "gina logs in with her new authenticator: {body}"
    );
    desk.inbox.event("recovery.ticket_redeemed", "gina").await;

    // The ticket works once.
    let (status, again) = desk.redeem("gina", &demo_password("gina"), &ticket).await;
    assert_eq!(
        (status, again["denial_code"].as_str()),
        (StatusCode::FORBIDDEN, Some("case-closed")),
        "{again}"
    );

    // Both trails: globex's (gus reads it) and the support desk's (sam).
    let steps = [
        "open_recovery_case",
        "issue_recovery_ticket",
        "redeem_recovery_ticket",
    ];
    let gus = login(&desk.svc.base, "gus").await;
    let globex = audit_actions(&desk, &gus, "gina").await;
    let sam = desk.agent("sam").await;
    let support = audit_actions(&desk, &sam, "gina").await;
    for trail in [&globex, &support] {
        let recovery: Vec<&str> = trail
            .iter()
            .map(String::as_str)
            .filter(|a| steps.contains(a))
            .collect();
        assert_eq!(recovery, steps, "{trail:?}");
    }
    let (_, raw) = desk.call(&gus, "GET", "/api/audit?limit=200", None).await;
    let opened_row = raw["records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["action"] == "open_recovery_case" && r["allowed"] == true)
        .unwrap();
    assert_eq!(opened_row["actor"], "sam");
    assert_eq!(opened_row["detail"]["checks"], json!(SUB_USER_CHECKS));
    assert_eq!(opened_row["detail"]["case"], case.as_str());
    assert_eq!(opened_row["policy_ids"], json!(["support-opens-cases"]));

    // Every notification is what the OpenAPI document's `RecoveryEvent` says.
    let document: Value =
        serde_json::from_str(include_str!("../../host/service/openapi.json")).unwrap();
    let schema = &document["components"]["schemas"]["RecoveryEvent"];
    let data = &schema["properties"]["data"];
    let mut seen = 0;
    for kind in schema["properties"]["type"]["enum"].as_array().unwrap() {
        for event in desk.inbox.all(kind.as_str().unwrap(), "gina") {
            seen += 1;
            for key in data["required"].as_array().unwrap() {
                assert!(
                    event["data"].get(key.as_str().unwrap()).is_some(),
                    "{key} in {event}"
                );
            }
            for key in event["data"].as_object().unwrap().keys() {
                assert!(
                    data["properties"].get(key).is_some(),
                    "undocumented {key}: {event}"
                );
            }
        }
    }
    assert_eq!(seen, 3, "opened, ticket issued, redeemed");

    // Nothing secret in the decision log, the metrics or any stored row.
    let metrics = crate::common::service::metrics(&desk.svc.base).await;
    assert!(!metrics.contains(&ticket));
    let logs = crate::common::logs::captured();
    assert!(logs.contains("open_recovery_case"), "the steps are logged");
    let link_token = link.split('#').nth(1).unwrap();
    assert!(
        !logs.contains(&ticket) && !logs.contains(link_token),
        "no log line holds a token"
    );
    let database = std::fs::read(desk.svc.dir.path().join("state.db")).unwrap();
    let wal = std::fs::read(desk.svc.dir.path().join("state.db-wal")).unwrap_or_default();
    for bytes in [&database, &wal] {
        assert!(
            !bytes.windows(ticket.len()).any(|w| w == ticket.as_bytes()),
            "the ticket is stored as a hash only (the outbox keeps it sealed)"
        );
    }
}

/// R14: an attacker talked sam into a case for ada, a root. The real ada
/// cancels it from her session ("this wasn't me"), and nothing can carry
/// it out after that: not an approval, not a ticket, not after 72 hours.
#[tokio::test]
async fn r14_a_root_vetoes_a_case_she_did_not_ask_for_and_it_never_executes() {
    let desk = Desk::start().await;
    desk.advance(Duration::days(31));
    let sam = desk.agent("sam").await;
    let (status, opened) = desk.open(&sam, "ada", ROOT_CHECKS).await;
    assert_eq!(status, StatusCode::OK, "{opened}");
    let case = case_id(&opened);
    desk.inbox.event("recovery.case_opened", "ada").await;

    let ada = login(&desk.svc.base, "ada").await;
    let (status, pending) = desk.call(&ada, "GET", "/api/recovery-cases", None).await;
    assert_eq!(status, StatusCode::OK, "{pending}");
    assert_eq!(
        pending["cases"][0]["id"],
        case.as_str(),
        "the banner shows it"
    );
    // bob, a sub-user of acme, may not cancel his root's case.
    let bob = login(&desk.svc.base, "bob").await;
    let (status, _) = desk.step(&bob, &case, "cancel").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = desk.step(&ada, &case, "cancel").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["case"]["state"], "cancelled");
    desk.inbox.event("recovery.case_cancelled", "ada").await;

    let tom = desk.agent("tom").await;
    let (status, body) = desk.step(&tom, &case, "approve").await;
    assert_eq!(
        (status, body["denial_code"].as_str()),
        (StatusCode::FORBIDDEN, Some("case-closed"))
    );
    desk.advance(Duration::hours(73));
    let tom = desk.agent("tom").await;
    let (status, body) = desk.step(&tom, &case, "issue-ticket").await;
    assert_eq!(
        (status, body["denial_code"].as_str()),
        (StatusCode::FORBIDDEN, Some("case-closed"))
    );
    // The notification's link, used after the veto, changes nothing either.
    let link = desk.inbox.event("recovery.case_opened", "ada").await["data"]["cancel_link"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, body) = cancel_link(&desk, link.split('#').nth(1).unwrap()).await;
    assert_eq!(
        (status, body["denial_code"].as_str()),
        (StatusCode::FORBIDDEN, Some("case-closed"))
    );
}

async fn cancel_link(desk: &Desk, token: &str) -> (StatusCode, Value) {
    read(
        client()
            .post(desk.svc.url("/api/recovery-cases/cancel-link"))
            .json(&json!({ "token": token }))
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// R14: a root's case needs a second agent: one agent alone never gets it
/// to a ticket, and the opener never approves their own case; an agent
/// never opens a case on their own account.
#[tokio::test]
async fn r14_one_agent_alone_never_recovers_a_root_nor_their_own_account() {
    let desk = Desk::start().await;
    desk.advance(Duration::days(31));
    let sam = desk.agent("sam").await;
    let (status, body) = desk
        .open(
            &sam,
            "sam",
            &["callback_to_phone_on_file", "document_check"],
        )
        .await;
    assert_eq!(
        (status, body["denial_code"].as_str()),
        (StatusCode::FORBIDDEN, Some("own-account")),
        "{body}"
    );
    let (status, opened) = desk.open(&sam, "ada", ROOT_CHECKS).await;
    assert_eq!(status, StatusCode::OK, "{opened}");
    let case = case_id(&opened);
    let (status, body) = desk.step(&sam, &case, "approve").await;
    assert_eq!(
        (status, body["denial_code"].as_str()),
        (StatusCode::FORBIDDEN, Some("opened-by-you"))
    );
    desk.advance(Duration::hours(73));
    let sam = desk.agent("sam").await;
    let (status, body) = desk.step(&sam, &case, "issue-ticket").await;
    assert_eq!(
        (status, body["denial_code"].as_str()),
        (StatusCode::FORBIDDEN, Some("approval-required")),
        "{body}"
    );
    // With tom's approval the same case goes on.
    let tom = desk.agent("tom").await;
    let (status, body) = desk.step(&tom, &case, "approve").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["case"]["approved_by"], "tom");
    let (status, body) = desk.step(&sam, &case, "issue-ticket").await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// R14: tickets are single-use and bound: after cancel, after expiry, or
/// someone else's, none redeems; guessed ones are throttled and none works.
#[tokio::test]
async fn r14_a_ticket_redeems_once_for_its_holder_within_its_hour() {
    let desk = Desk::start().await;
    let secret = gina_locked_out(&desk).await;
    // A case opened while gina still has a session from which she can
    // reset her MFA herself is refused (R6); a login that stopped at the
    // code (she has no phone) is no such session.
    let sam = desk.agent("sam").await;
    let (_, half) = password_login(&desk.svc.base, "gina", &demo_password("gina")).await;
    let half = half["token"].as_str().unwrap().to_string();
    let code = totp_code(&secret, desk.svc.clock.now().unix_timestamp());
    let (status, body) = desk
        .call(
            &half,
            "POST",
            "/api/login/code",
            Some(json!({"code": code})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let gina_session = half;
    let (status, body) = desk.open(&sam, "gina", SUB_USER_CHECKS).await;
    assert_eq!(
        (status, body["denial_code"].as_str()),
        (StatusCode::FORBIDDEN, Some("holder-has-session")),
        "{body}"
    );
    desk.call(&gina_session, "POST", "/api/logout", None).await;

    // Checks that do not suffice, and bad input, name the field.
    let (status, body) = desk.open(&sam, "gina", &["document_check"]).await;
    assert_eq!(
        (status, body["denial_code"].as_str()),
        (StatusCode::FORBIDDEN, Some("checks-insufficient"))
    );
    let (status, body) = desk.open(&sam, "gina", &["asked_nicely"]).await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("checks[0]")),
        "{body}"
    );
    let form =
        json!({"account": "gina", "ticket_reference": "HD 1\n<script>", "checks": SUB_USER_CHECKS});
    let (status, body) = desk
        .call(&sam, "POST", "/api/recovery-cases", Some(form))
        .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("ticket_reference"))
    );

    // Expired: issued, then more than an hour passes.
    let (_, opened) = desk.open(&sam, "gina", SUB_USER_CHECKS).await;
    let first = case_id(&opened);
    desk.advance(Duration::hours(25));
    let sam = desk.agent("sam").await;
    let (status, _) = desk.step(&sam, &first, "issue-ticket").await;
    assert_eq!(status, StatusCode::OK);
    let expired = desk.ticket("gina").await;
    desk.advance(Duration::minutes(61));
    let (status, body) = desk.redeem("gina", &demo_password("gina"), &expired).await;
    assert_eq!(
        (status, body["denial_code"].as_str()),
        (StatusCode::FORBIDDEN, Some("ticket-expired")),
        "{body}"
    );

    // Cancelled by its link after the ticket went out.
    let sam = desk.agent("sam").await;
    let (_, opened) = desk.open(&sam, "gina", SUB_USER_CHECKS).await;
    let second = case_id(&opened);
    desk.advance(Duration::hours(25));
    let sam = desk.agent("sam").await;
    let (status, _) = desk.step(&sam, &second, "issue-ticket").await;
    assert_eq!(status, StatusCode::OK);
    let issued: Vec<String> = {
        let mut found = Vec::new();
        for _ in 0..100 {
            found = desk.inbox.all("recovery.ticket_issued", "gina");
            if found.len() == 2 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        found
            .iter()
            .map(|e| e["data"]["ticket"].as_str().unwrap().to_string())
            .collect()
    };
    let cancelled = issued.iter().find(|t| **t != expired).unwrap().clone();
    let links: Vec<String> = desk
        .inbox
        .all("recovery.case_opened", "gina")
        .iter()
        .filter(|e| e["data"]["case"] == second.as_str())
        .map(|e| {
            e["data"]["cancel_link"]
                .as_str()
                .unwrap()
                .split('#')
                .nth(1)
                .unwrap()
                .to_string()
        })
        .collect();
    let (status, body) = cancel_link(&desk, &links[0]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = desk
        .redeem("gina", &demo_password("gina"), &cancelled)
        .await;
    assert_eq!(
        (status, body["denial_code"].as_str()),
        (StatusCode::FORBIDDEN, Some("case-closed"))
    );
    let (status, body) = cancel_link(&desk, "not-a-link").await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("token"))
    );

    // Someone else's: carol with her own password and gina's ticket.
    let (status, _) = desk
        .redeem("carol", &demo_password("carol"), &cancelled)
        .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a ticket is bound to its account"
    );

    // 1,000 guesses with the right password: throttled, none works.
    let mut answered = std::collections::BTreeMap::<u16, usize>::new();
    for i in 0..1000 {
        let guess = format!("{:043}", i);
        let (status, _) = desk.redeem("gina", &demo_password("gina"), &guess).await;
        *answered.entry(status.as_u16()).or_default() += 1;
    }
    assert_eq!(answered.get(&200), None, "{answered:?}");
    assert!(
        answered.get(&429).copied().unwrap_or(0) >= 990,
        "guessing is throttled: {answered:?}"
    );
}

/// R14: support agents never reach customer administration, self-service
/// or a customer organization's gateway routes; the desk needs a webhook.
#[tokio::test]
async fn r14_support_agents_never_reach_customer_administration_or_routes() {
    let desk = Desk::start().await;
    let sam = desk.agent("sam").await;
    for path in [
        "/api/org/users/gina/mfa/reset",
        "/api/org/users/gina/mfa/disable",
        "/api/me/mfa/reset",
    ] {
        let (status, body) = desk.call(&sam, "POST", path, None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {body}");
        assert_eq!(body["denial_code"], "not-permitted", "{path}: {body}");
    }
    let (status, _) = desk.call(&sam, "GET", "/api/org/users", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    for route in ["/app/home", "/app/admin/users", "/app/audit/"] {
        let headers = [("x-original-method", "GET"), ("x-original-uri", route)];
        let (status, _) =
            forward(&desk.svc.base, "/forward-auth", Some(&sam), &headers, None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{route}");
    }
    // A customer user never reaches the support desk's listing of all
    // cases, and cannot tell from opening one whether an account exists:
    // an account of another organization and no account are answered alike,
    // and nothing lands in that organization's audit trail.
    let bob = login(&desk.svc.base, "bob").await;
    let (status, body) = desk.call(&bob, "GET", "/api/recovery-cases", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["cases"], json!([]));
    let (status, existing) = desk.open(&bob, "gina", SUB_USER_CHECKS).await;
    let (_, missing) = desk.open(&bob, "nobody-at-all", SUB_USER_CHECKS).await;
    assert_eq!(
        (status, existing["denial_code"].as_str()),
        (StatusCode::FORBIDDEN, Some("not-permitted")),
        "{existing}"
    );
    assert_eq!(
        (&existing["denial_code"], &existing["message"]),
        (&missing["denial_code"], &missing["message"])
    );
    let gus = login(&desk.svc.base, "gus").await;
    let (_, trail) = desk.call(&gus, "GET", "/api/audit?limit=200", None).await;
    assert!(!trail.to_string().contains("open_recovery_case"), "{trail}");

    // An agent whose session expired is told so, not shown an empty desk.
    desk.advance(Duration::minutes(61));
    let (status, body) = desk.call(&sam, "GET", "/api/recovery-cases", None).await;
    assert_eq!(
        (status, body["denial_code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("session-expired")),
        "{body}"
    );

    // Without a webhook nobody would hear of a case: none opens.
    let quiet = TestService::start(|_, _| {}).await;
    let (sam, _) = enrolled_agent(&quiet, "sam").await;
    let (status, body) = call(
        &quiet.base,
        &sam,
        "POST",
        "/api/recovery-cases",
        Some(json!({"account": "gina", "ticket_reference": "HD-1", "checks": SUB_USER_CHECKS})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
}
