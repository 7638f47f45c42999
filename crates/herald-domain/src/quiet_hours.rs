//! Quiet hours: a daily window of local time in which a user gets no notifications that
//! can wait. The window may cross midnight (`22:00`–`07:00`); a message that falls inside
//! it waits until the window ends, in the user's time zone, daylight saving time included.

use std::fmt;

use chrono::{DateTime, Duration, LocalResult, NaiveDateTime, NaiveTime, TimeZone as _, Utc};
use chrono_tz::Tz;

/// A daily window `[start, end)` of local time; `start > end` crosses midnight, and
/// `start == end` is empty (it holds nothing back).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    start: NaiveTime,
    end: NaiveTime,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuietHoursError {
    #[error("must be a local time written HH:MM, from 00:00 to 23:59")]
    Time,
}

/// `HH:MM` (24-hour clock) to a time of day.
pub fn parse_clock(text: &str) -> Result<NaiveTime, QuietHoursError> {
    let bytes = text.as_bytes();
    if bytes.len() != 5 || bytes[2] != b':' {
        return Err(QuietHoursError::Time);
    }
    NaiveTime::parse_from_str(text, "%H:%M").map_err(|_| QuietHoursError::Time)
}

impl QuietHours {
    pub fn new(start: NaiveTime, end: NaiveTime) -> Self {
        Self { start, end }
    }

    pub fn start(&self) -> NaiveTime {
        self.start
    }

    pub fn end(&self) -> NaiveTime {
        self.end
    }

    /// When the window that holds `at` ends, if `at` falls inside one in time zone `tz`.
    pub fn ends_after(&self, at: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        let local = at.with_timezone(&tz);
        let (date, time) = (local.date_naive(), local.time());
        let end_date = if self.start == self.end {
            return None;
        } else if self.start < self.end {
            (self.start <= time && time < self.end).then_some(date)?
        } else if time >= self.start {
            date.succ_opt()?
        } else if time < self.end {
            date
        } else {
            return None;
        };
        let end = resolve_local(tz, end_date.and_time(self.end));
        // A window shortened to nothing by a clock change holds nothing back.
        (end > at).then_some(end)
    }
}

/// A local time as an instant: the earlier one when the clocks go back and it happens
/// twice, and the first instant after the gap when the clocks go forward over it.
fn resolve_local(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    let mut probe = local;
    for _ in 0..4 {
        match tz.from_local_datetime(&probe) {
            LocalResult::Single(at) | LocalResult::Ambiguous(at, _) => return at.with_timezone(&Utc),
            LocalResult::None => probe += Duration::minutes(30),
        }
    }
    tz.from_utc_datetime(&local).with_timezone(&Utc)
}

impl fmt::Display for QuietHours {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}–{}", self.start.format("%H:%M"), self.end.format("%H:%M"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hours(start: &str, end: &str) -> QuietHours {
        QuietHours::new(parse_clock(start).unwrap(), parse_clock(end).unwrap())
    }

    fn utc(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn a_window_that_crosses_midnight_holds_the_night_on_both_sides() {
        let night = hours("22:00", "07:00");
        let paris: Tz = "Europe/Paris".parse().unwrap();
        // 23:30 in Paris (UTC+1 in January): ends 07:00 the next morning, 06:00 UTC.
        assert_eq!(night.ends_after(utc("2026-01-10T22:30:00Z"), paris), Some(utc("2026-01-11T06:00:00Z")));
        // 03:00 in Paris: the same night, ends that morning.
        assert_eq!(night.ends_after(utc("2026-01-11T02:00:00Z"), paris), Some(utc("2026-01-11T06:00:00Z")));
        // 12:00 and 21:59 in Paris: outside.
        assert_eq!(night.ends_after(utc("2026-01-11T11:00:00Z"), paris), None);
        assert_eq!(night.ends_after(utc("2026-01-11T20:59:00Z"), paris), None);
        // The start is inside, the end is not.
        assert!(night.ends_after(utc("2026-01-11T21:00:00Z"), paris).is_some());
        assert_eq!(night.ends_after(utc("2026-01-11T06:00:00Z"), paris), None);
    }

    #[test]
    fn the_same_instant_is_quiet_in_one_zone_and_not_in_another() {
        let night = hours("22:00", "07:00");
        let at = utc("2026-03-02T05:00:00Z");
        let nairobi: Tz = "Africa/Nairobi".parse().unwrap(); // 08:00 there
        let new_york: Tz = "America/New_York".parse().unwrap(); // 00:00 there
        assert_eq!(night.ends_after(at, nairobi), None);
        assert_eq!(night.ends_after(at, new_york), Some(utc("2026-03-02T12:00:00Z")));
    }

    #[test]
    fn a_daytime_window_holds_only_its_hours() {
        let lunch = hours("12:00", "13:30");
        let tz: Tz = "UTC".parse().unwrap();
        assert_eq!(lunch.ends_after(utc("2026-05-01T12:10:00Z"), tz), Some(utc("2026-05-01T13:30:00Z")));
        assert_eq!(lunch.ends_after(utc("2026-05-01T13:30:00Z"), tz), None);
        assert_eq!(lunch.ends_after(utc("2026-05-01T11:59:59Z"), tz), None);
    }

    #[test]
    fn an_end_inside_the_spring_forward_gap_moves_past_it() {
        // New York skips 02:00–03:00 on 2026-03-08; a window ending 02:30 ends at 03:00 EDT.
        let night = hours("01:00", "02:30");
        let new_york: Tz = "America/New_York".parse().unwrap();
        let at = utc("2026-03-08T06:30:00Z"); // 01:30 EST
        assert_eq!(night.ends_after(at, new_york), Some(utc("2026-03-08T07:00:00Z")));
    }

    #[test]
    fn clocks_are_checked_and_an_empty_window_holds_nothing() {
        assert_eq!(parse_clock("7:00"), Err(QuietHoursError::Time));
        assert_eq!(parse_clock("24:00"), Err(QuietHoursError::Time));
        assert_eq!(parse_clock("07:60"), Err(QuietHoursError::Time));
        assert!(parse_clock("23:59").is_ok());
        let seven = parse_clock("07:00").unwrap();
        let tz: Tz = "UTC".parse().unwrap();
        assert_eq!(QuietHours::new(seven, seven).ends_after(utc("2026-05-01T07:00:00Z"), tz), None);
        assert_eq!(hours("22:00", "07:00").to_string(), "22:00–07:00");
    }
}
