//! The benchmark's request (ada, root of acme, resets bob) in the guest's
//! own WIT types, shared by the decision bench and the profiling example.

use mfa_reset_guest::types;

/// The same request in the guest's own (WIT) types.
pub fn native_request() -> types::Request {
    let acme = types::Organization {
        id: "acme".into(),
        enforce_mfa: false,
    };
    let user = |id: &str, role| types::User {
        id: id.into(),
        role,
        organization: acme.clone(),
        mfa: types::MfaStatus::Active,
        active: true,
    };
    let now = 1_795_000_000_000;
    types::Request {
        actor: user("ada", types::Role::Root),
        session: types::Session {
            login_at: now - 2 * 86_400_000,
            last_activity_at: now - 3_600_000,
            mfa_satisfied: true,
            recovery_code_login: false,
        },
        now,
        action: types::Action::ResetUserMfa(user("bob", types::Role::SubUser)),
    }
}
