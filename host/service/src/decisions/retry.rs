//! Deciding again after a concurrent change: every decision is made on a
//! read and committed only if that read still holds; when it does not, the
//! decision is made again on fresh state, a few times, with a growing
//! random pause so that contenders spread out.

use crate::error::ApiError;

/// How many times one request decides before giving up with 409.
const ATTEMPTS: usize = 8;

/// Runs `attempt` (given its number, from 0: any later one must read
/// afresh) until it ends otherwise than with [`ApiError::Concurrent`].
/// (A plain closure returning a future, not an async closure: axum needs
/// the handlers' futures to be `Send`, which async closures cannot yet
/// promise.)
pub(crate) async fn on_conflict<T, Attempt>(
    mut attempt: impl FnMut(usize) -> Attempt,
) -> Result<T, ApiError>
where
    Attempt: Future<Output = Result<T, ApiError>>,
{
    for n in 0..ATTEMPTS {
        if n > 0 {
            backoff(n - 1).await;
        }
        match attempt(n).await {
            Err(ApiError::Concurrent) => continue,
            done => return done,
        }
    }
    Err(ApiError::Conflict(
        "the state kept changing; try again".into(),
    ))
}

/// A short random pause before deciding again, growing with each
/// conflict, so that contenders spread out instead of colliding again.
async fn backoff(attempt: usize) {
    use rand::Rng;
    let max_ms = 2u64 << attempt.min(6);
    let pause = std::time::Duration::from_millis(rand::rng().random_range(0..=max_ms));
    tokio::time::sleep(pause).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_conflicting_attempt_is_decided_again_until_it_holds() {
        let mut seen = Vec::new();
        let done = on_conflict(|n| {
            seen.push(n);
            async move {
                if n < 2 {
                    Err(ApiError::Concurrent)
                } else {
                    Ok(n)
                }
            }
        })
        .await;
        assert_eq!(done.unwrap(), 2);
        assert_eq!(seen, [0, 1, 2]);
    }

    #[tokio::test]
    async fn a_state_that_keeps_changing_ends_in_409_after_eight_attempts() {
        let mut tries = 0;
        let done: Result<(), _> = on_conflict(|_| {
            tries += 1;
            async { Err(ApiError::Concurrent) }
        })
        .await;
        assert_eq!(tries, ATTEMPTS);
        assert!(matches!(done, Err(ApiError::Conflict(m)) if m.contains("kept changing")));
    }

    #[tokio::test]
    async fn other_errors_and_a_conflict_with_the_state_are_not_retried() {
        let mut tries = 0;
        let done: Result<(), _> = on_conflict(|_| {
            tries += 1;
            async { Err(ApiError::Conflict("no enrolment is due".into())) }
        })
        .await;
        assert_eq!(tries, 1);
        assert!(matches!(done, Err(ApiError::Conflict(m)) if m == "no enrolment is due"));
    }
}
