//! The support desk (R14): recovering an account whose holder lost the
//! authenticator and has no session left. Support agents open cases with
//! the identity checks they performed; the account holder and their root
//! hear of it at once and can cancel it (from a session, or with the
//! notification's link); after the waiting period, and a second agent's
//! approval where the policies ask for one, an agent issues a single-use
//! ticket that goes to the account holder only; redeeming it with the
//! password removes the authenticator and leads to enrolment. Every step
//! is a Cedar decision (`policies/mfa.cedar`, "Support desk"), audited in
//! the account's organization and the support desk's.
//!
//! | file | what it holds |
//! |---|---|
//! | `cases` | steps from a session (open, approve, issue, cancel) and the listings |
//! | `redeem` | the ticket's redemption at login |
//! | `cancel_link` | the notification's cancel link |
//! | `step` | deciding a step and committing its outcome |
//! | `probe` | questions asked of the policies without acting |
//! | `events` | the notifications |

mod cancel_link;
mod cases;
mod events;
mod probe;
mod redeem;
mod step;

pub use cancel_link::cancel_by_link;
pub use cases::{OpenCase, case_step, list_cases, open_case};
pub use redeem::redeem_ticket;
