//! The HTTP API fuzzed from its own OpenAPI document with schemathesis
//! (pinned in tests/requirements.txt, installed into .tools/venv
//! by `bash tests/setup`): valid and invalid bodies, paths, queries and
//! headers for every operation, undeclared methods, missing credentials.
//! It must find no 5xx, no answer that breaks the document (status, content
//! type, schema), no invalid input accepted, no undeclared method served,
//! no operation serving without credentials, and every refusal of bad input
//! (400, 413, 415, 422) must name the field (tests/api-fuzz/hooks.py).
//! `MFA_RESET_API_FUZZ_EXAMPLES` sets the cases per operation (30 in the
//! suite, seed 1); the long run is
//! `MFA_RESET_API_FUZZ_EXAMPLES=1000 MFA_RESET_API_FUZZ_SEED=random cargo test --workspace --test service api_fuzz::`.

use crate::common;

use std::path::PathBuf;
use std::process::Command;

use common::repo;
use common::service::TestService;

fn schemathesis() -> PathBuf {
    let st = std::env::var_os("MFA_RESET_SCHEMATHESIS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo(".tools/venv/bin/st"));
    assert!(
        st.exists(),
        "schemathesis is not installed at {}: run `bash tests/setup` first",
        st.display()
    );
    st
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_answers_every_fuzzed_request_as_its_document_says() {
    let st = schemathesis();
    let service = TestService::start(|_, _| {}).await;
    let base = service.base.clone();
    let examples = std::env::var("MFA_RESET_API_FUZZ_EXAMPLES").unwrap_or_else(|_| "30".into());
    let seed = std::env::var("MFA_RESET_API_FUZZ_SEED").unwrap_or_else(|_| "1".into());
    let work = tempfile::tempdir().unwrap();
    let mut command = Command::new(st);
    command
        .arg("run")
        .arg(format!("{base}/openapi.json"))
        .args(["--checks", "all"])
        // Schema-valid requests may still be refused by the state (a code
        // without an enrolment, a denial): not a fault of the input.
        .args(["--exclude-checks", "positive_data_acceptance"])
        .args(["--max-examples", &examples])
        .args(["--request-timeout", "30"])
        .arg("--no-color")
        .current_dir(work.path())
        .env("SCHEMATHESIS_HOOKS", repo("tests/api-fuzz/hooks.py"))
        .env("MFA_RESET_FUZZ_BASE", &base);
    if seed != "random" {
        command.args(["--seed", &seed]);
    }
    let out = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("schemathesis runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let summary: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains("generated") || l.contains("Tested:") || l.contains("Seed:"))
        .collect();
    println!("{}", summary.join("\n"));
    assert!(
        out.status.success(),
        "schemathesis found faults:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // It really ran: every operation it found selected and tested, and
    // hundreds of cases.
    let count = |label: &str| {
        stdout
            .lines()
            .find_map(|l| l.trim().strip_prefix(label))
            .map(|v| v.trim().to_string())
            .unwrap_or_else(|| panic!("no `{label}` in {stdout}"))
    };
    let selected = count("Selected:");
    let (chosen, all) = selected.split_once('/').expect("Selected: N/M");
    assert_eq!(chosen, all, "every operation selected: {selected}");
    assert!(all.parse::<usize>().unwrap() >= 19, "{selected}");
    assert_eq!(count("Tested:"), all, "every operation tested");
    let generated: usize = summary
        .iter()
        .find_map(|l| l.split_whitespace().next()?.parse().ok())
        .expect("a count of generated cases");
    assert!(generated >= 300, "only {generated} cases: {stdout}");
    service.service.stop().await;
}
