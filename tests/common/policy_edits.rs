//! Edited copies of the shipped policies, for the tests of what an edit
//! changes (policy_diff.rs, policy_replay.rs) and of the packages' custom
//! sets (python_host.rs, node_host.rs).

use std::path::Path;

use super::repo;

/// A copy of the shipped policies at `dir/name`, with `edit` applied to mfa.cedar.
pub fn policy_copy(dir: &Path, name: &str, edit: impl Fn(String) -> String) {
    let to = dir.join(name);
    std::fs::create_dir_all(&to).unwrap();
    for file in ["mfa.cedar", "mfa.cedarschema"] {
        let shipped = std::fs::read_to_string(repo("policies").join(file)).unwrap();
        let text = if file == "mfa.cedar" {
            edit(shipped)
        } else {
            shipped
        };
        std::fs::write(to.join(file), text).unwrap();
    }
}

/// `text` without the policy whose `@id` is `id` (up to the next `@id`).
pub fn without_policy(text: &str, id: &str) -> String {
    let start = text
        .find(&format!("@id(\"{id}\")"))
        .unwrap_or_else(|| panic!("{id}"));
    let end = text[start + 1..]
        .find("@id(")
        .map_or(text.len(), |i| start + 1 + i);
    format!("{}{}", &text[..start], &text[end..])
}

pub const ORG_CONDITION: &str =
    "  !resource.is_root &&\n  resource.organization == principal.organization\n";

/// The root rule without its organization check: the permit's condition
/// and its forbid twin both dropped.
pub fn cross_organization_roots(text: String) -> String {
    assert!(
        text.contains(ORG_CONDITION),
        "the shipped root rule changed"
    );
    let text = text.replace(ORG_CONDITION, "  !resource.is_root\n");
    without_policy(&text, "users-of-own-organization-only")
}

/// Sub-users may no longer turn their own MFA on: a tightening.
pub fn roots_only_enable(text: String) -> String {
    text + "\n@id(\"roots-only-enable\")\n@code(\"ask-your-root\")\n@message(\"Ask your root user.\")\n\
            forbid (principal, action == MfaReset::Action::\"enable_own_mfa\", resource)\n\
            unless { principal.is_root };\n"
}

/// The shipped policies at `dir/name` with one more file, `no-bob.cedar`,
/// that forbids bob's self-reset (its message names the support URL): the
/// custom set every language's package is tried with. The file is a
/// symlink, as a Kubernetes ConfigMap mounts files: skipping it would
/// decide under a more permissive set.
pub fn bob_may_not_reset(dir: &Path, name: &str) -> std::path::PathBuf {
    policy_copy(dir, name, |t| t);
    let set = dir.join(name);
    let target = dir.join(format!("{name}-no-bob.cedar"));
    std::os::unix::fs::symlink(&target, set.join("no-bob.cedar")).unwrap();
    std::fs::write(
        &target,
        "@id(\"bob-may-not-reset\")\n@code(\"ask-support\")\n\
         @message(\"Bob asks support: {support_url}\")\n\
         forbid (\n  principal == MfaReset::User::\"bob\",\n  \
         action == MfaReset::Action::\"reset_own_mfa\",\n  resource\n);\n",
    )
    .unwrap();
    set
}
