//! Notifications of MFA changes leaving the service: the worker that
//! delivers the outbox's events to the webhook, signed as the Standard
//! Webhooks specification says (`credentials/webhook_key.rs`). The events
//! themselves are written by the store with each change (`store/event.rs`).

pub(crate) mod worker;
