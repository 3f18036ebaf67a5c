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
