//! The component's time: milliseconds since the Unix epoch, UTC (Cedar
//! datetimes hold milliseconds, so session limits are exact to them).

use time::OffsetDateTime;

/// `t` in milliseconds since the epoch; finer digits are dropped, towards
/// the past.
pub fn to_millis(t: OffsetDateTime) -> i64 {
    let ms = t.unix_timestamp_nanos().div_euclid(1_000_000);
    i64::try_from(ms).unwrap_or(if ms < 0 { i64::MIN } else { i64::MAX })
}

/// Milliseconds since the epoch as a time (the epoch itself if out of range).
pub fn from_millis(millis: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// Why a time finer than a millisecond is refused; every host says the same.
pub const FINER_THAN_MILLIS: &str =
    "more precise than a millisecond: times are counted in whole milliseconds";

/// Refuses a time finer than a millisecond, naming `field`: the component
/// counts whole milliseconds, and dropping finer digits would move a time
/// by up to a millisecond in whichever direction the digits fall (a
/// session 1 µs short of its limit would count as past it).
pub(crate) fn whole_millis(field: &str, t: OffsetDateTime) -> Result<(), crate::Error> {
    if t.nanosecond().is_multiple_of(1_000_000) {
        return Ok(());
    }
    Err(crate::Error::invalid_request(field, FINER_THAN_MILLIS))
}

/// [`whole_millis`] for `now` and the session's times.
pub(crate) fn whole_millis_session(
    now: OffsetDateTime,
    session: &crate::api::Session,
) -> Result<(), crate::Error> {
    whole_millis("now", now)?;
    whole_millis("session.login_at", session.login_at)?;
    whole_millis("session.last_activity_at", session.last_activity_at)
}

/// [`whole_millis`] for the times of a login step: `now`, the session's,
/// and the authenticator's lock.
pub(crate) fn whole_millis_login(
    now: OffsetDateTime,
    session: &crate::api::Session,
    authenticator: &crate::api::Authenticator,
) -> Result<(), crate::Error> {
    whole_millis_session(now, session)?;
    match authenticator.locked_until {
        Some(until) => whole_millis("authenticator.locked_until", until),
        None => Ok(()),
    }
}
