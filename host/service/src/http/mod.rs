//! The HTTP side: the router, and one file per group of endpoints (the
//! console's JSON API, the login steps, gateway forward-auth, the console's
//! pages, health and metrics), with the guards every JSON request passes
//! and the server that accepts connections. Handlers read the caller once
//! (the `Caller` extractor), call a use case, and answer.

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{MethodRouter, any, get, post, put};

use crate::app::AppState;

pub(crate) mod browser_guard;
pub(crate) mod caller;
pub(crate) mod console_api;
pub(crate) mod forward_auth;
pub(crate) mod invitation;
pub(crate) mod json_body;
pub(crate) mod login;
pub(crate) mod login_attempt;
pub(crate) mod ops;
pub(crate) mod pages;
pub(crate) mod recovery;
pub(crate) mod recovery_codes;
pub(crate) mod scim;
pub(crate) mod server;
pub(crate) mod ticket_login;

/// Every endpoint of the service.
pub(crate) fn router(state: AppState) -> Router {
    let limit = state.config.max_body_bytes;
    // The browser rules (CSRF, no caching) on the routed methods only: the
    // router answers any other method 405 before them.
    let guarded = |route: MethodRouter<AppState>| {
        route.route_layer(axum::middleware::from_fn(browser_guard::guard))
    };
    let api = Router::new()
        .route("/login", guarded(post(login::login)))
        .route("/invitation", guarded(post(invitation::peek)))
        .route("/invitation/accept", guarded(post(invitation::accept)))
        .route("/login/code", guarded(post(login::code)))
        .route("/login/recovery-code", guarded(post(recovery_codes::login)))
        .route("/logout", guarded(post(login::logout)))
        .route("/enrolment/start", guarded(post(login::start)))
        .route("/enrolment/confirm", guarded(post(login::confirm)))
        .route("/session", guarded(get(console_api::session_info)))
        .route("/me/password", guarded(post(console_api::change_password)))
        .route(
            "/me/recovery-codes",
            guarded(post(recovery_codes::regenerate)),
        )
        .route("/me/mfa/reset", guarded(post(console_api::reset_own)))
        .route("/me/mfa/enable", guarded(post(console_api::enable_own)))
        .route("/me/mfa/disable", guarded(post(console_api::disable_own)))
        .route("/org/users", guarded(get(console_api::list_users)))
        .route(
            "/org/users/{id}/mfa/reset",
            guarded(post(console_api::reset_user)),
        )
        .route(
            "/org/users/{id}/mfa/enable",
            guarded(post(console_api::enable_user)),
        )
        .route(
            "/org/users/{id}/mfa/disable",
            guarded(post(console_api::disable_user)),
        )
        .route(
            "/org/users/{id}/deactivate",
            guarded(post(console_api::deactivate_user)),
        )
        .route(
            "/org/users/{id}/reactivate",
            guarded(post(console_api::reactivate_user)),
        )
        .route(
            "/org/users/{id}/invite",
            guarded(post(console_api::invite_user)),
        )
        .route(
            "/org/enforcement",
            guarded(put(console_api::set_enforcement)),
        )
        .route("/audit", guarded(get(console_api::audit)))
        .route(
            "/recovery-cases",
            guarded(get(recovery::list).post(recovery::open)),
        )
        .route(
            "/recovery-cases/{id}/approve",
            guarded(post(recovery::approve)),
        )
        .route(
            "/recovery-cases/{id}/issue-ticket",
            guarded(post(recovery::issue_ticket)),
        )
        .route(
            "/recovery-cases/{id}/cancel",
            guarded(post(recovery::cancel)),
        )
        .route(
            "/recovery-cases/cancel-link",
            guarded(post(recovery::cancel_by_link)),
        )
        .route("/login/ticket", guarded(post(ticket_login::redeem)));
    Router::new()
        .nest("/api", api)
        .merge(pages::routes())
        .merge(scim::routes())
        .route(forward_auth::PREFIX, any(forward_auth::check))
        .route(
            &format!("{}/{{*path}}", forward_auth::PREFIX),
            any(forward_auth::check),
        )
        .route("/health", get(ops::health))
        .route("/livez", get(ops::livez))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/openapi.json", get(ops::openapi))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}
