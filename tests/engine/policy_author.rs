//! The policy author's tools as an author runs them: the real `mfa-reset`
//! binary on a copy of the shipped policies. The Cedar CLI's flags name
//! the same files for every subcommand (and `cedar` takes them too),
//! `policies fmt` writes what `cedar format` prints, an error shows its
//! line under a caret with what was expected, accepting a test case
//! changes that case only, and a request becomes a test case.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::mfa_reset_command;

const POLICY_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../policies");

/// A copy of the shipped policy file, schema and tests in a temp dir.
fn copy_of_policies() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for name in ["mfa.cedar", "mfa.cedarschema", "tests.json"] {
        std::fs::copy(Path::new(POLICY_DIR).join(name), dir.path().join(name)).unwrap();
    }
    dir
}

/// Runs `command`: exit code and everything it printed.
fn output(command: &mut Command) -> (i32, String) {
    let out = command.output().unwrap();
    let said =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), said)
}

fn policies(args: &[&str]) -> (i32, String) {
    output(mfa_reset_command().arg("policies").args(args))
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

struct Files {
    _dir: tempfile::TempDir,
    dir: PathBuf,
    policies: PathBuf,
    schema: PathBuf,
    tests: PathBuf,
}

fn files() -> Files {
    let dir = copy_of_policies();
    let root = dir.path().to_path_buf();
    Files {
        policies: root.join("mfa.cedar"),
        schema: root.join("mfa.cedarschema"),
        tests: root.join("tests.json"),
        dir: root,
        _dir: dir,
    }
}

/// Every subcommand takes `--policies`, `--schema` and `--tests` as the
/// Cedar CLI does, and `cedar validate` / `cedar run-tests` accept the
/// very same arguments; `--dir` still names all three (tests included).
#[test]
fn every_subcommand_takes_the_cedar_cli_flags_and_cedar_takes_the_same() {
    let f = files();
    let named = ["--policies", path(&f.policies), "--schema", path(&f.schema)];
    let with_tests = [&named[..], &["--tests", path(&f.tests)]].concat();

    let (code, said) = policies(&[&["validate"], &named[..]].concat());
    assert_eq!(code, 0, "{said}");
    let (code, said) = policies(&[&["test"], &with_tests[..]].concat());
    assert_eq!(code, 0, "{said}");
    assert!(said.contains(" 0 failed"), "{said}");
    let (code, by_flags) = policies(&[&["revision"], &named[..]].concat());
    assert_eq!(code, 0, "{by_flags}");
    let (code, by_dir) = policies(&["revision", "--dir", path(&f.dir)]);
    assert_eq!((code, by_dir.trim()), (0, by_flags.trim()));
    // `--dir` alone: the tests beside the policies, not `policies/tests.json`.
    let (code, said) = policies(&["test", "--dir", path(&f.dir)]);
    assert_eq!(code, 0, "{said}");
    // diff and replay keep their positional sets and take the flags for the new one.
    let (code, said) = policies(&[&["diff", POLICY_DIR], &named[..]].concat());
    assert_eq!(code, 0, "{said}");
    assert!(
        said.contains(&format!("→ {}", f.policies.display())),
        "{said}"
    );

    for cedar_args in [
        vec![
            "validate",
            "--policies",
            path(&f.policies),
            "--schema",
            path(&f.schema),
        ],
        [&["run-tests"], &with_tests[..]].concat(),
    ] {
        let (code, said) = output(Command::new("cedar").args(&cedar_args));
        assert_eq!(code, 0, "cedar {cedar_args:?}: {said}");
    }

    // A bare file name, as an author in the directory types it.
    let (code, said) = output(mfa_reset_command().current_dir(&f.dir).args([
        "policies",
        "validate",
        "--policies",
        "mfa.cedar",
    ]));
    assert_eq!(code, 0, "{said}");
    // The new set named twice: which one was meant is not guessed.
    let (code, said) = policies(&[&["diff", POLICY_DIR, POLICY_DIR], &named[..]].concat());
    assert_eq!(code, 2, "{said}");
    assert!(said.contains("named twice"), "{said}");

    // A file that is not there: which one, and why.
    let missing = f.dir.join("nothing.cedarschema");
    let (code, said) = policies(&[
        "validate",
        "--policies",
        path(&f.policies),
        "--schema",
        path(&missing),
    ]);
    assert_eq!(code, 2, "{said}");
    assert!(said.contains("nothing.cedarschema"), "{said}");
}

/// `fmt --check` fails on a file Cedar's formatter would change, with the
/// diff, and changes nothing; `fmt` then writes exactly what `cedar
/// format` prints (keeping the file's permissions, leaving no temporary
/// file), and `--check` passes; formatting changes no decision; a file
/// that does not parse is refused and left alone.
#[test]
fn fmt_writes_what_cedar_format_prints_and_check_fails_until_then() {
    use std::os::unix::fs::PermissionsExt;

    let f = files();
    let messy = f.dir.join("messy.cedar");
    let text = "@id(\"roots-read-audit\")\npermit(principal is MfaReset::User,action==MfaReset::Action::\"read_organization_audit\",resource)when{principal.is_root&&principal.active};\n";
    std::fs::write(&messy, text).unwrap();
    std::fs::set_permissions(&messy, std::fs::Permissions::from_mode(0o640)).unwrap();
    let cedar_format = |file: &Path| {
        let out = Command::new("cedar")
            .args(["format", "-p", path(file)])
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    };
    let expected = cedar_format(&messy);
    assert_ne!(expected, text);

    let (code, said) = policies(&["fmt", "--check", "--policies", path(&messy)]);
    assert_eq!(code, 1, "{said}");
    assert!(
        said.contains("@@") && said.contains("(formatted)"),
        "{said}"
    );
    assert_eq!(std::fs::read_to_string(&messy).unwrap(), text);

    let (code, said) = policies(&["fmt", "--policies", path(&messy)]);
    assert_eq!(code, 0, "{said}");
    assert_eq!(std::fs::read_to_string(&messy).unwrap(), expected);
    let mode = std::fs::metadata(&messy).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o640, "permissions kept");
    let (code, said) = policies(&["fmt", "--check", "--policies", path(&messy)]);
    assert_eq!(code, 0, "{said}");

    let mut left: Vec<String> = std::fs::read_dir(&f.dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(
        left,
        ["messy.cedar", "mfa.cedar", "mfa.cedarschema", "tests.json"],
        "no temporary file left"
    );
    std::fs::remove_file(&messy).unwrap();

    let broken = f.dir.join("broken.cedar");
    std::fs::write(&broken, "permit (principal, action, resource").unwrap();
    let (code, said) = policies(&["fmt", "--policies", path(&broken)]);
    assert_eq!(code, 2, "{said}");
    assert!(
        said.contains("broken.cedar") && said.contains("does not parse"),
        "{said}"
    );
    assert_eq!(
        std::fs::read_to_string(&broken).unwrap(),
        "permit (principal, action, resource"
    );
}

/// The shipped policies (the set, its guardrails, the optional step-up
/// set) are as `cedar format` prints them, and `policies fmt --check`
/// says so: the check a policy repository runs in CI.
#[test]
fn the_shipped_policies_are_formatted_as_cedar_format_prints_them() {
    let root = Path::new(POLICY_DIR);
    for dir in ["", "guardrails", "optional", "optional/guardrails"] {
        let dir = root.join(dir);
        let (code, said) = policies(&["fmt", "--check", "--policies", path(&dir)]);
        assert_eq!(code, 0, "{}: {said}", dir.display());
        for entry in std::fs::read_dir(&dir).unwrap() {
            let file = entry.unwrap().path();
            if file.extension().is_some_and(|e| e == "cedar") {
                let out = Command::new("cedar")
                    .args(["format", "-p", path(&file)])
                    .output()
                    .unwrap();
                assert!(out.status.success(), "{}", file.display());
                let text = std::fs::read_to_string(&file).unwrap();
                assert_eq!(
                    String::from_utf8(out.stdout).unwrap(),
                    text,
                    "{}",
                    file.display()
                );
            }
        }
    }
}

/// A missing `;` is shown as the Cedar CLI shows it: the file, line and
/// column, the source lines, a caret, and what was expected there; a
/// tests file that is not JSON is shown the same way.
#[test]
fn a_missing_semicolon_is_shown_under_a_caret_with_what_was_expected() {
    let f = files();
    let text = std::fs::read_to_string(&f.policies).unwrap();
    let cut = text.trim_end().strip_suffix(';').unwrap().to_string() + "\n";
    std::fs::write(&f.policies, &cut).unwrap();
    let last_line = cut.trim_end().lines().count();

    let (code, said) = policies(&["validate", "--dir", path(&f.dir)]);
    assert_eq!(code, 1, "{said}");
    assert!(
        said.contains(&format!(
            "mfa.cedar:{last_line}:2: error: unexpected end of input"
        )),
        "{said}"
    );
    assert!(
        said.contains(&format!("{last_line} | }}")),
        "the line itself: {said}"
    );
    assert!(
        said.contains("^ expected `;`"),
        "a caret and the expected token: {said}"
    );
    // Every command that reads the set shows it the same way.
    for command in ["test", "revision", "fmt"] {
        let (code, said) = policies(&[command, "--dir", path(&f.dir)]);
        assert_eq!(code, 2, "{command}: {said}");
        assert!(
            said.contains(&format!("{last_line} | }}")) && said.contains("^ expected `;`"),
            "{command}: {said}"
        );
    }

    let f = files();
    let tests = std::fs::read_to_string(&f.tests).unwrap();
    std::fs::write(
        &f.tests,
        tests.replacen("\"decision\": \"allow\",", "\"decision\": \"allow\"", 1),
    )
    .unwrap();
    let (code, said) = policies(&["test", "--dir", path(&f.dir)]);
    assert_eq!(code, 2, "{said}");
    assert!(
        said.contains("tests.json:") && said.contains("| ") && said.contains('^'),
        "{said}"
    );
}

/// `test --accept CASE` makes the decision the policies give that case
/// its expectation and changes no other byte of the tests file; a case
/// not named keeps failing; a name that is no case changes nothing.
#[test]
fn accepting_a_case_rewrites_that_case_only() {
    let f = files();
    let shipped = std::fs::read_to_string(&f.tests).unwrap();
    let first = "R2 allow: a sub-user turns their own MFA on";
    let second = "R2 allow: a sub-user turns their own MFA off";
    // Two expectations made wrong, as an intended change would leave them.
    let wrong = shipped.replacen(
        "\"decision\": \"allow\",\n    \"reason\": [\n      \"self-service\"\n    ],",
        "\"decision\": \"deny\",\n    \"reason\": [],",
        2,
    );
    assert_ne!(wrong, shipped);
    std::fs::write(&f.tests, &wrong).unwrap();

    let (code, said) = policies(&[
        "test",
        "--dir",
        path(&f.dir),
        "--accept",
        first,
        "no such case",
    ]);
    assert_eq!(code, 2, "{said}");
    assert!(
        said.contains("no such case") && !said.contains("ACCEPTED"),
        "{said}"
    );
    assert_eq!(std::fs::read_to_string(&f.tests).unwrap(), wrong);

    let (code, said) = policies(&["test", "--dir", path(&f.dir), "--accept", first]);
    assert_eq!(code, 1, "the second still fails: {said}");
    assert!(said.contains(&format!("ACCEPTED {first}")), "{said}");
    assert!(said.contains(&format!("FAIL  {second}")), "{said}");
    let once = shipped.replacen(
        "\"decision\": \"allow\",\n    \"reason\": [\n      \"self-service\"\n    ],",
        "\"decision\": \"deny\",\n    \"reason\": [],",
        2,
    );
    // Only the first case's expectation is back as shipped.
    let expected = {
        let at = once
            .find("\"decision\": \"deny\",\n    \"reason\": [],")
            .unwrap();
        let mut s = once.clone();
        s.replace_range(
            at..at + "\"decision\": \"deny\",\n    \"reason\": [],".len(),
            "\"decision\": \"allow\",\n    \"reason\": [\n      \"self-service\"\n    ],",
        );
        s
    };
    assert_eq!(std::fs::read_to_string(&f.tests).unwrap(), expected);

    let (code, said) = policies(&["test", "--dir", path(&f.dir), "--accept-all"]);
    assert_eq!(code, 0, "{said}");
    assert_eq!(
        std::fs::read_to_string(&f.tests).unwrap(),
        shipped,
        "byte for byte"
    );
}

/// A root of initech resetting a sub-user's MFA (R5, R9), as `decide`
/// takes it.
const RESET_REQUEST: &str = r#"{"actor": {"id": "ivy", "role": "root", "organization": {"id": "initech", "enforce_mfa": true}, "mfa": "active", "active": true}, "session": {"login_at": "2026-11-20T09:00:00Z", "last_activity_at": "2026-11-22T09:00:00Z", "mfa_satisfied": true, "recovery_code_login": false}, "now": "2026-11-22T10:00:00Z", "action": {"reset_user_mfa": {"id": "iris", "role": "sub_user", "organization": {"id": "initech", "enforce_mfa": true}, "mfa": "off", "active": true}}}"#;

/// `policies case` makes a run-tests case of a request as `decide` asks
/// it: printed, or added after the last case with every other byte of the
/// tests file kept, and both `cedar run-tests` and `policies test` run it.
/// `--expect` another decision makes a case that fails until the policies
/// change; a taken name, a bad request and a request no policy is asked
/// (a support agent's reset, R14) change nothing.
#[test]
fn r9_a_request_becomes_a_case_that_cedar_and_policies_test_both_run() {
    let f = files();
    let request = f.dir.join("request.json");
    std::fs::write(&request, RESET_REQUEST).unwrap();
    let shipped = std::fs::read_to_string(&f.tests).unwrap();
    let run_tests = |tests: &Path| {
        output(Command::new("cedar").args([
            "run-tests",
            "--policies",
            path(&f.policies),
            "--schema",
            path(&f.schema),
            "--tests",
            path(tests),
        ]))
    };

    let (code, printed) = output(
        mfa_reset_command()
            .args(["policies", "case", path(&request), "--dir", path(&f.dir)])
            .stderr(std::process::Stdio::null()),
    );
    assert_eq!(code, 0, "{printed}");
    let printed: serde_json::Value = serde_json::from_str(&printed).unwrap();
    assert_eq!(printed["decision"], "allow");
    assert_eq!(
        printed["reason"],
        serde_json::json!(["root-manages-sub-users"])
    );
    assert_eq!(printed["request"]["principal"], "MfaReset::User::\"ivy\"");
    assert_eq!(printed["request"]["resource"], "MfaReset::User::\"iris\"");
    assert_eq!(
        std::fs::read_to_string(&f.tests).unwrap(),
        shipped,
        "printing writes nothing"
    );

    let (code, said) = policies(&[
        "case",
        path(&request),
        "--dir",
        path(&f.dir),
        "--add",
        "--name",
        "ivy resets iris",
    ]);
    assert_eq!(code, 0, "{said}");
    assert!(
        said.contains("expects allow [root-manages-sub-users]"),
        "{said}"
    );
    let added = std::fs::read_to_string(&f.tests).unwrap();
    let kept = shipped.trim_end().strip_suffix(']').unwrap().trim_end();
    assert!(added.starts_with(kept), "every earlier byte kept");
    let cases: Vec<serde_json::Value> = serde_json::from_str(&added).unwrap();
    let last = cases.last().unwrap();
    assert_eq!(last["name"], "ivy resets iris");
    assert_eq!(last["request"], printed["request"]);
    assert_eq!(last["entities"], printed["entities"]);
    let (code, said) = run_tests(&f.tests);
    assert_eq!(code, 0, "cedar run-tests takes the case: {said}");
    assert!(said.contains("ivy resets iris ... ok"), "{said}");
    let (code, said) = policies(&["test", "--dir", path(&f.dir)]);
    assert_eq!(code, 0, "{said}");
    assert!(said.contains("ok    ivy resets iris"), "{said}");

    // The test first: a case expecting a denial fails until a policy
    // denies (the files named with the Cedar CLI's flags this time).
    let (code, said) = policies(&[
        "case",
        path(&request),
        "--policies",
        path(&f.policies),
        "--schema",
        path(&f.schema),
        "--tests",
        path(&f.tests),
        "--add",
        "--name",
        "no resets",
        "--expect",
        "deny",
    ]);
    assert_eq!(code, 0, "{said}");
    assert!(said.contains("fails until they change"), "{said}");
    let (code, said) = policies(&["test", "--dir", path(&f.dir)]);
    assert_eq!(code, 1, "{said}");
    assert!(
        said.contains("FAIL  no resets: expected Deny, got Allow"),
        "{said}"
    );
    let (code, said) = run_tests(&f.tests);
    assert_ne!(code, 0, "{said}");
    assert!(said.contains("no resets ... fail"), "{said}");

    let before = std::fs::read_to_string(&f.tests).unwrap();
    let (code, said) = policies(&[
        "case",
        path(&request),
        "--dir",
        path(&f.dir),
        "--add",
        "--name",
        "ivy resets iris",
    ]);
    assert_eq!(code, 2, "{said}");
    assert!(
        said.contains("already has a case named `ivy resets iris`"),
        "{said}"
    );

    std::fs::write(
        &request,
        RESET_REQUEST.replace("2026-11-22T10:00:00Z", "tomorrow"),
    )
    .unwrap();
    let (code, said) = policies(&["case", path(&request), "--dir", path(&f.dir), "--add"]);
    assert_eq!(code, 2, "{said}");
    assert!(said.contains("`now`: "), "names the field: {said}");

    let agent = RESET_REQUEST.replacen(
        r#""id": "ivy", "role": "root", "organization": {"id": "initech", "enforce_mfa": true}"#,
        r#""id": "sam", "role": "support_agent", "organization": {"id": "provider", "enforce_mfa": true}"#,
        1,
    );
    assert_ne!(agent, RESET_REQUEST);
    std::fs::write(&request, agent).unwrap();
    let (code, said) = policies(&["case", path(&request), "--dir", path(&f.dir), "--add"]);
    assert_eq!(code, 2, "{said}");
    assert!(
        said.contains("does not apply to this kind of account"),
        "{said}"
    );
    assert_eq!(
        std::fs::read_to_string(&f.tests).unwrap(),
        before,
        "refusals write nothing"
    );
}

/// A natural edit ("sub-users may reset their own MFA only within 7 days
/// of login") can err on far-apart datetimes, and an erring forbid is
/// skipped: `verify` catches it and says what errs, why, and the guard the
/// shipped session policies use; with that guard the edit is proven.
#[test]
fn a_seven_day_edit_is_caught_with_the_overflow_and_its_guard_named() {
    let f = files();
    let shipped = std::fs::read_to_string(&f.policies).unwrap();
    let edit = |condition: &str| {
        format!(
            "{shipped}\n@id(\"reset-own-within-7-days\")\n@code(\"too-late\")\n\
             forbid (principal is MfaReset::User, action == MfaReset::Action::\"reset_own_mfa\", resource)\n\
             when {{ !principal.is_root && {condition} }};\n"
        )
    };
    let guardrails = format!("{POLICY_DIR}/guardrails");
    let naive = "context.now.durationSince(context.session.login_at) > duration(\"7d\")";
    std::fs::write(&f.policies, edit(naive)).unwrap();
    let (code, said) = policies(&["verify", "--dir", path(&f.dir), "--guardrails", &guardrails]);
    assert_eq!(code, 1, "{said}");
    assert!(
        said.contains("never-errors reset-own-within-7-days"),
        "{said}"
    );
    assert!(
        said.contains("policy `reset-own-within-7-days` errs on this request")
            && said.contains("overflow"),
        "what errs, and why: {said}"
    );
    assert!(
        said.contains("fix: `durationSince`") && said.contains("datetime(\"1970-01-01\")"),
        "the guard: {said}"
    );

    let guarded = "context.now >= datetime(\"1970-01-01\") && \
                   context.session.login_at >= datetime(\"1970-01-01\") && \
                   context.now.durationSince(context.session.login_at) > duration(\"7d\")";
    std::fs::write(&f.policies, edit(guarded)).unwrap();
    let (code, said) = policies(&["verify", "--dir", path(&f.dir), "--guardrails", &guardrails]);
    assert_eq!(code, 0, "{said}");
}
