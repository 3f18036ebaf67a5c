//! `mfa-reset policies diff`: what a policy edit changes, proven for every
//! action with Cedar SymCC and cvc5 — identical sets are proven equivalent, a
//! widening is found with a request that pins the old decision in
//! `policies/tests.json`, a tightening grants nothing new.

use crate::common;

use std::path::Path;
use std::process::{Command, Output};

use common::policy_edits::{ORG_CONDITION, cross_organization_roots, policy_copy, without_policy};
use common::repo;

fn cli(dir: &Path, args: &[&str]) -> Output {
    common::mfa_reset_command()
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

/// `policies diff [FLAGS] <the shipped policies> NEW`, run in `dir`.
fn diff_from_shipped(dir: &Path, flags: &[&str], new: &str) -> Output {
    let shipped = repo("policies");
    let mut args = vec!["policies", "diff"];
    args.extend(flags);
    args.extend([shipped.to_str().unwrap(), new]);
    cli(dir, &args)
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The run-tests cases the diff printed (one JSON object per line).
fn printed_cases(out: &str) -> Vec<serde_json::Value> {
    out.lines()
        .map(str::trim)
        .filter(|l| l.starts_with("{\""))
        .map(|l| serde_json::from_str(l).expect("a printed case is JSON"))
        .collect()
}

#[test]
fn an_identical_set_is_proven_equivalent_for_every_action() {
    let dir = tempfile::tempdir().unwrap();
    policy_copy(dir.path(), "same", |t| t);
    let out = diff_from_shipped(dir.path(), &[], "same");
    let said = text(&out);
    assert_eq!(out.status.code(), Some(0), "{said}");
    assert!(said.contains("= 34 actions decide alike"), "{said}");
    assert!(
        said.contains("the two sets decide every request alike"),
        "{said}"
    );
    assert!(printed_cases(&said).is_empty());
}

/// R4, R9, R13: without the organization check, a root reaches users of
/// other organizations. The diff proves it, tells it, and prints a request that,
/// pasted into tests.json, fails `policies test` against the new set and
/// passes against the old one.
#[test]
fn dropping_the_organization_check_is_reported_as_new_cross_organization_access() {
    let dir = tempfile::tempdir().unwrap();
    policy_copy(dir.path(), "old", |t| t);
    policy_copy(dir.path(), "new", cross_organization_roots);
    let out = cli(dir.path(), &["policies", "diff", "old", "new"]);
    let said = text(&out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "new access fails the diff: {said}"
    );
    for action in [
        "reset_user_mfa",
        "enable_user_mfa",
        "disable_user_mfa",
        "deactivate_user",
        "reactivate_user",
        "invite_user",
    ] {
        assert!(
            said.contains(&format!("+ {action}: NEWLY ALLOWED")),
            "{action}: {said}"
        );
    }
    assert!(
        said.contains("a root user may now reset the MFA of a sub-user of another organization"),
        "{said}"
    );
    assert!(
        said.contains("the new set GRANTS NEW ACCESS in 6 action(s)"),
        "{said}"
    );
    assert!(!said.contains("NEWLY DENIED"), "{said}");

    let cases = printed_cases(&said);
    let reset = cases
        .iter()
        .find(|c| c["request"]["action"] == "MfaReset::Action::\"reset_user_mfa\"")
        .expect("a reset case");
    assert_eq!(reset["decision"], "deny", "the case pins the old decision");
    let mut tests: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(repo("policies/tests.json")).unwrap())
            .unwrap();
    tests.push(reset.clone());
    std::fs::write(
        dir.path().join("tests.json"),
        serde_json::to_string(&tests).unwrap(),
    )
    .unwrap();
    let old = cli(
        dir.path(),
        &["policies", "test", "--dir", "old", "--tests", "tests.json"],
    );
    assert!(
        old.status.success(),
        "the old set answers it: {}",
        text(&old)
    );
    let new = cli(
        dir.path(),
        &["policies", "test", "--dir", "new", "--tests", "tests.json"],
    );
    let failed = text(&new);
    assert!(!new.status.success());
    let name = reset["name"].as_str().unwrap();
    assert!(
        failed.contains(&format!("FAIL  {name}")),
        "the pasted case fails: {failed}"
    );
}

/// R14: dropping the two-person rule lets one agent recover a root: the
/// diff reports the ticket's issue and redemption as new access, and
/// `--no-new-access` refuses the edit.
#[test]
fn dropping_the_two_person_rule_is_reported_as_new_access() {
    let dir = tempfile::tempdir().unwrap();
    policy_copy(dir.path(), "new", |t| {
        without_policy(&t, "second-agent-for-roots")
    });
    let out = diff_from_shipped(dir.path(), &["--no-new-access"], "new");
    let said = text(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    for action in ["issue_recovery_ticket", "redeem_recovery_ticket"] {
        assert!(
            said.contains(&format!("+ {action}: NEWLY ALLOWED")),
            "{action}: {said}"
        );
    }
    assert!(said.contains("recovery case for"), "{said}");
    assert!(!said.contains("NEWLY DENIED"), "{said}");
}

/// Defence in depth, proven: dropping only the permit's condition changes
/// nothing, as the forbid still refuses other organizations.
#[test]
fn the_forbid_alone_still_holds_the_organization_boundary() {
    let dir = tempfile::tempdir().unwrap();
    policy_copy(dir.path(), "new", |t| {
        t.replace(ORG_CONDITION, "  !resource.is_root\n")
    });
    let out = diff_from_shipped(dir.path(), &["--no-new-access"], "new");
    let said = text(&out);
    assert_eq!(out.status.code(), Some(0), "{said}");
    assert!(
        said.contains("the new set grants nothing the old one denied"),
        "{said}"
    );
}

/// A set that only tightens grants nothing new: exit 0, with the newly
/// denied requests listed; `--no-new-access` passes it too.
#[test]
fn a_tightening_grants_nothing_new() {
    let dir = tempfile::tempdir().unwrap();
    // Sub-users may no longer turn their own MFA off.
    policy_copy(dir.path(), "new", |t| {
        t + "\n@id(\"roots-only-disable\")\n@code(\"not-root\")\n@message(\"Ask your root user.\")\n\
             forbid (principal, action == MfaReset::Action::\"disable_own_mfa\", resource)\n\
             unless { principal.is_root };\n"
    });
    let shipped = repo("policies");
    let out = diff_from_shipped(dir.path(), &[], "new");
    let said = text(&out);
    assert_eq!(out.status.code(), Some(0), "{said}");
    assert!(said.contains("- disable_own_mfa: NEWLY DENIED"), "{said}");
    assert!(
        said.contains("a sub-user may no longer turn off their own MFA"),
        "{said}"
    );
    assert!(
        said.contains("grants nothing new; it denies more in 1 action(s)"),
        "{said}"
    );
    let case = &printed_cases(&said)[0];
    assert_eq!(case["decision"], "allow", "the case pins the old decision");

    let gate = diff_from_shipped(dir.path(), &["--no-new-access"], "new");
    assert_eq!(gate.status.code(), Some(0), "{}", text(&gate));
    assert!(
        !text(&gate).contains("NEWLY DENIED"),
        "only new access is looked for"
    );
    // The reverse edit widens: the gate fails.
    let gate = cli(
        dir.path(),
        &[
            "policies",
            "diff",
            "--no-new-access",
            "new",
            shipped.to_str().unwrap(),
        ],
    );
    assert_eq!(gate.status.code(), Some(1), "{}", text(&gate));
}

/// Git revisions name sets too: `REV` (its `policies/`) and `REV:DIR`.
#[test]
fn git_revisions_name_policy_sets() {
    let dir = tempfile::tempdir().unwrap();
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .current_dir(dir.path())
            .args([
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "-c",
                "commit.gpgsign=false",
            ])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {}", text(&out));
    };
    git(&["init", "-q"]);
    policy_copy(dir.path(), "policies", |t| t);
    git(&["add", "policies"]);
    git(&["commit", "-q", "-m", "shipped"]);
    policy_copy(dir.path(), "policies", cross_organization_roots);

    let out = cli(dir.path(), &["policies", "diff", "HEAD", "policies"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let out = cli(dir.path(), &["policies", "diff", "HEAD:policies", "HEAD"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("decide every request alike"));

    // Bad input: which argument, and why.
    let out = cli(dir.path(), &["policies", "diff", "no-such-rev", "policies"]);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(
        said.contains("no-such-rev") && said.contains("neither a directory nor a git revision"),
        "{said}"
    );
    policy_copy(dir.path(), "broken", |t| {
        t.replace("principal.is_root", "principal.is_rooot")
    });
    let out = cli(dir.path(), &["policies", "diff", "policies", "broken"]);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(
        said.contains("`broken` is not a valid policy set") && said.contains("is_rooot"),
        "{said}"
    );
}

/// A 1,000-policy set: proven equivalent to itself, and a single widened
/// policy among the thousand is found.
#[test]
fn a_thousand_policies_are_diffed_and_one_widening_found() {
    let dir = tempfile::tempdir().unwrap();
    let generated = |widen: Option<usize>| {
        let shipped = std::fs::read_to_string(repo("policies/mfa.cedar")).unwrap();
        let own = shipped.matches("@id(").count();
        let mut text = shipped;
        for n in 0..1000 - own {
            // Roots of named organizations may open their own console (the
            // shipped set allows it already: these change nothing).
            let organization = if widen == Some(n) {
                String::new()
            } else {
                "principal.organization == resource && ".to_string()
            };
            text.push_str(&format!(
                "\n@id(\"org{n}-console\")\npermit (principal, action == MfaReset::Action::\"access_console\", \
                 resource == MfaReset::Organization::\"org{n}\")\nwhen {{ {organization}principal.is_root }};\n"
            ));
        }
        assert_eq!(text.matches("@id(").count(), 1000);
        text
    };
    policy_copy(dir.path(), "a", |_| generated(None));
    policy_copy(dir.path(), "b", |_| generated(None));
    policy_copy(dir.path(), "c", |_| generated(Some(617)));
    let started = std::time::Instant::now();
    let out = cli(dir.path(), &["policies", "diff", "a", "b"]);
    println!(
        "1,000 policies, identical: {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("decide every request alike"));
    let out = cli(dir.path(), &["policies", "diff", "a", "c"]);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("+ access_console: NEWLY ALLOWED"), "{said}");
    assert!(
        said.contains("a root user may now open the console of another organization"),
        "{said}"
    );
    assert!(said.contains("allowed by [org617-console]"), "{said}");
    assert!(said.contains("GRANTS NEW ACCESS in 1 action(s)"), "{said}");
}

/// A change of the schema alone can widen access: an action leaving a group
/// escapes the forbids that name the group. The proof runs under the new
/// schema and cannot see that, so the diff reports it and fails (fail
/// closed) instead of calling the sets alike.
#[test]
fn a_schema_only_change_of_action_groups_is_not_called_alike() {
    let dir = tempfile::tempdir().unwrap();
    policy_copy(dir.path(), "new", |t| t);
    let schema = dir.path().join("new/mfa.cedarschema");
    let shipped = std::fs::read_to_string(&schema).unwrap();
    let grouped = "action disable_own_mfa in [self_service, mfa_disable]";
    assert!(shipped.contains(grouped), "the shipped schema changed");
    std::fs::write(
        &schema,
        shipped.replace(grouped, "action disable_own_mfa in [self_service]"),
    )
    .unwrap();
    let out = diff_from_shipped(dir.path(), &[], "new");
    let said = text(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(
        said.contains("! schema: action `disable_own_mfa` is no longer in `mfa_disable`"),
        "{said}"
    );
    assert!(said.contains("NOT PROVEN to grant nothing new"), "{said}");
    let gate = diff_from_shipped(dir.path(), &["--no-new-access"], "new");
    assert_eq!(gate.status.code(), Some(1), "{}", text(&gate));
}
