//! The console's story in a real browser: tests/browser/story.mjs, with
//! Playwright driving Debian's chromium, against a sidecar reached directly
//! or through a gateway. The script asks this side, one line on its
//! standard output each, for what only the test knows, and reads the answer
//! on its standard input:
//! - `clock SECONDS`: move the service's clock → `ok`;
//! - `code BASE32`: move the clock to the next 30 s step (a code is good
//!   once) and give the TOTP code at the service's time;
//! - `qr BASE64-PNG`: the otpauth URI in a picture of the page's QR code;
//! - `invite ORGANIZATION USER`, `agent USER`: an operator creates a user or
//!   a support agent → the invitation link;
//! - `event KIND USER FIELD`: the field of the first notification of `KIND`
//!   about `USER` the webhook received (a recovery ticket, a cancel link).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use mfa_reset_service::Clock;

use super::inbox::Inbox;
use super::repo;
use super::service::{SUPPORT_URL, TestService, totp_code};

pub const CHROMIUM: &str = "/usr/bin/chromium";

/// Where a run keeps its screenshots: `MFA_RESET_SCREENSHOTS` if set (the
/// pictures of docs/console.md: `MFA_RESET_SCREENSHOTS=docs/console`), else a temp dir.
pub fn screenshot_dir(default: &Path) -> PathBuf {
    match std::env::var_os("MFA_RESET_SCREENSHOTS") {
        Some(dir) => repo("").join(dir),
        None => default.to_path_buf(),
    }
}

/// Killed when dropped, also when the test panics (chromium ends with it:
/// Playwright's pipe closes).
struct Script(Child);

impl Drop for Script {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs the whole story against `base` (the console at `{base}/console/`);
/// panics with the script's own message when a step fails.
pub fn run_story(base: &str, clock: &Clock, database: &str, inbox: &Inbox, screenshots: &Path) {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is not installed: run `bash tests/setup`"
    );
    std::fs::create_dir_all(screenshots).unwrap();
    let child = Command::new("node")
        .arg(repo("tests/browser/story.mjs"))
        .env("CONSOLE_BASE", base)
        .env("CHROMIUM", CHROMIUM)
        .env("SUPPORT_URL", SUPPORT_URL)
        .env("SCREENSHOTS", screenshots)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node runs (bash tests/setup installs it)");
    let mut script = Script(child);
    let mut answers = script.0.stdin.take().unwrap();
    let questions = BufReader::new(script.0.stdout.take().unwrap());
    for line in questions.lines() {
        let line = line.unwrap();
        let (question, argument) = line.split_once(' ').unwrap_or((&line, ""));
        let answer = match question {
            "clock" => {
                clock.advance(time::Duration::seconds(argument.parse().unwrap()));
                "ok".to_string()
            }
            "code" => {
                let step = clock.now().unix_timestamp() % 30;
                clock.advance(time::Duration::seconds(30 - step));
                totp_code(argument, clock.now().unix_timestamp())
            }
            "qr" => qr_content(argument),
            // An operator invites a new user: `invite ORGANIZATION USER`.
            "invite" => {
                let (organization, user) = argument.split_once(' ').unwrap();
                tokio::runtime::Handle::current().block_on(async {
                    let accounts = super::service::accounts(database, base).await;
                    match accounts.add_user(organization, user).await {
                        Ok(invitation) => invitation.link,
                        Err(e) => panic!("inviting {user}: {e:?}"),
                    }
                })
            }
            "agent" => tokio::runtime::Handle::current().block_on(async {
                // On the service's clock: the invitation is used after it moved.
                let accounts = super::service::accounts(database, base)
                    .await
                    .with_clock(clock.clone());
                match accounts.create_agent(argument).await {
                    Ok(invitation) => invitation.link,
                    Err(e) => panic!("creating agent {argument}: {e:?}"),
                }
            }),
            "event" => {
                let mut words = argument.split(' ');
                let (kind, user, field) = (
                    words.next().unwrap(),
                    words.next().unwrap(),
                    words.next().unwrap(),
                );
                let event = tokio::runtime::Handle::current().block_on(inbox.event(kind, user));
                event["data"][field]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            }
            _ => {
                println!("story: {line}");
                continue;
            }
        };
        writeln!(answers, "{answer}").unwrap();
    }
    let status = script.0.wait().unwrap();
    assert!(
        status.success(),
        "the browser story failed ({status}): see its output above"
    );
}

/// The service the story runs against: the demo organizations, and a
/// webhook (the support desk's notifications carry its ticket and links).
pub async fn story_service() -> (TestService, Inbox) {
    let inbox = Inbox::start().await;
    let webhook = inbox.webhook();
    let svc = TestService::start(|config, _| config.webhook = Some(webhook)).await;
    (svc, inbox)
}

/// What the QR code in a PNG (base64) holds.
fn qr_content(png_base64: &str) -> String {
    let png = data_encoding::BASE64
        .decode(png_base64.as_bytes())
        .expect("the script sends base64");
    let image = image::load_from_memory(&png).expect("a PNG").to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(image);
    let grids = prepared.detect_grids();
    match grids.first().map(|g| g.decode()) {
        Some(Ok((_, content))) => content,
        _ => "(no QR code found)".to_string(),
    }
}
