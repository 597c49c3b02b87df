//! FHIR date, dateTime and instant values as half-open UTC millisecond ranges.
//!
//! FHIR dates carry their own precision (`2019` means the whole year), and search prefixes are
//! defined in terms of ranges, so every value is turned into `[start, end)` rather than a point.

use chrono::{FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};

/// `[start, end)` in epoch milliseconds; `i64::MIN` / `i64::MAX` stand for open Period ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateRange {
    pub start: i64,
    pub end: i64,
}

impl DateRange {
    /// Parses `YYYY`, `YYYY-MM`, `YYYY-MM-DD` and `YYYY-MM-DDThh:mm(:ss(.fff…)?)?(Z|±hh:mm)?`.
    /// A value without a zone is taken as UTC (FHIR leaves it to the server; UTC keeps results
    /// independent of the host). The range covers exactly the precision given.
    pub fn parse(s: &str) -> Option<DateRange> {
        let year = digits(s.get(0..4)?)?;
        if s.len() == 4 {
            let start = ymd(year, 1, 1)?;
            return whole_days(start, ymd(year + 1, 1, 1)?);
        }
        expect(s, 4, b'-')?;
        let month = digits(s.get(5..7)?)?;
        if s.len() == 7 {
            let start = ymd(year, month, 1)?;
            let next = if month == 12 { ymd(year + 1, 1, 1)? } else { ymd(year, month + 1, 1)? };
            return whole_days(start, next);
        }
        expect(s, 7, b'-')?;
        let day = digits(s.get(8..10)?)?;
        let date = ymd(year, month, day)?;
        if s.len() == 10 {
            return whole_days(date, date.succ_opt()?);
        }
        expect(s, 10, b'T')?;
        let hour = digits(s.get(11..13)?)?;
        expect(s, 13, b':')?;
        let minute = digits(s.get(14..16)?)?;
        let mut rest = s.get(16..)?;
        let mut second = 0;
        let mut millis = 0i64;
        // Width of the range in milliseconds, narrowed as more precision is given.
        let mut width = 60_000i64;
        if let Some(r) = rest.strip_prefix(':') {
            second = digits(r.get(0..2)?)?;
            width = 1000;
            rest = r.get(2..)?;
            if let Some(r) = rest.strip_prefix('.') {
                let n = r.bytes().take_while(u8::is_ascii_digit).count();
                if n == 0 {
                    return None;
                }
                let frac = r.get(..n)?;
                // Only millisecond resolution is kept; finer digits are truncated.
                let kept = &frac[..n.min(3)];
                let scale = 10i64.pow(3 - kept.len() as u32);
                millis = i64::from(digits(kept)?) * scale;
                width = scale;
                rest = r.get(n..)?;
            }
        }
        let time = NaiveTime::from_hms_opt(hour, minute, second)?;
        let local = NaiveDateTime::new(date, time);
        let offset = match rest {
            "" | "Z" => FixedOffset::east_opt(0)?,
            tz => {
                let sign = match tz.as_bytes().first()? {
                    b'+' => 1,
                    b'-' => -1,
                    _ => return None,
                };
                if tz.len() != 6 || tz.as_bytes().get(3) != Some(&b':') {
                    return None;
                }
                let h = digits(tz.get(1..3)?)?;
                let m = digits(tz.get(4..6)?)?;
                if h > 14 || m > 59 {
                    return None;
                }
                FixedOffset::east_opt(sign * (h * 3600 + m * 60) as i32)?
            }
        };
        let start = offset.from_local_datetime(&local).single()?.timestamp_millis() + millis;
        Some(DateRange { start, end: start + width })
    }

    /// The range of a Period: an absent start or end is open.
    pub fn period(start: Option<&str>, end: Option<&str>) -> Option<DateRange> {
        let start = match start {
            Some(s) => DateRange::parse(s)?.start,
            None => i64::MIN,
        };
        let end = match end {
            Some(s) => DateRange::parse(s)?.end,
            None => i64::MAX,
        };
        Some(DateRange { start, end })
    }

    /// The range of a JSON element holding a date: a date/dateTime/instant string or a Period.
    pub fn of_value(v: &serde_json::Value) -> Option<DateRange> {
        match v {
            serde_json::Value::String(s) => DateRange::parse(s),
            serde_json::Value::Object(o) => {
                let start = o.get("start").and_then(|v| v.as_str());
                let end = o.get("end").and_then(|v| v.as_str());
                if start.is_none() && end.is_none() {
                    return None;
                }
                DateRange::period(start, end)
            }
            _ => None,
        }
    }

    /// True when `self` lies entirely within `outer`.
    pub fn within(&self, outer: &DateRange) -> bool {
        outer.start <= self.start && self.end <= outer.end
    }
}

fn digits(s: &str) -> Option<u32> {
    if s.bytes().all(|b| b.is_ascii_digit()) && !s.is_empty() {
        s.parse().ok()
    } else {
        None
    }
}

fn expect(s: &str, at: usize, byte: u8) -> Option<()> {
    (s.as_bytes().get(at) == Some(&byte)).then_some(())
}

fn ymd(year: u32, month: u32, day: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)
}

fn whole_days(start: NaiveDate, end: NaiveDate) -> Option<DateRange> {
    let millis = |d: NaiveDate| Utc.from_utc_datetime(&d.and_time(NaiveTime::MIN)).timestamp_millis();
    Some(DateRange { start: millis(start), end: millis(end) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(s: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(s).map(|d| d.timestamp_millis()).unwrap_or(i64::MIN)
    }

    fn check(input: &str, expected: Option<(&str, &str)>) {
        let got = DateRange::parse(input);
        let want = expected.map(|(a, b)| DateRange { start: ms(a), end: ms(b) });
        assert_eq!(got, want, "parse({input:?})");
    }

    #[test]
    fn parse_table() {
        check("2019", Some(("2019-01-01T00:00:00Z", "2020-01-01T00:00:00Z")));
        check("2019-05", Some(("2019-05-01T00:00:00Z", "2019-06-01T00:00:00Z")));
        check("2019-12", Some(("2019-12-01T00:00:00Z", "2020-01-01T00:00:00Z")));
        check("2020-02-29", Some(("2020-02-29T00:00:00Z", "2020-03-01T00:00:00Z")));
        check("2019-05-15T10:30", Some(("2019-05-15T10:30:00Z", "2019-05-15T10:31:00Z")));
        check("2019-05-15T10:30:15", Some(("2019-05-15T10:30:15Z", "2019-05-15T10:30:16Z")));
        check("2019-05-15T10:30:15Z", Some(("2019-05-15T10:30:15Z", "2019-05-15T10:30:16Z")));
        check("2019-05-15T10:30:15.250Z", Some(("2019-05-15T10:30:15.250Z", "2019-05-15T10:30:15.251Z")));
        check("2019-05-15T10:30:15.2Z", Some(("2019-05-15T10:30:15.200Z", "2019-05-15T10:30:15.300Z")));
        check("2019-05-15T10:30:15.123456Z", Some(("2019-05-15T10:30:15.123Z", "2019-05-15T10:30:15.124Z")));
        check("2019-05-15T10:30:15-05:00", Some(("2019-05-15T15:30:15Z", "2019-05-15T15:30:16Z")));
        check("2019-05-15T00:30+01:00", Some(("2019-05-14T23:30:00Z", "2019-05-14T23:31:00Z")));
        check("2019-05-15T00:30:00+01:00", Some(("2019-05-14T23:30:00Z", "2019-05-14T23:30:01Z")));
        check("1922-03-04", Some(("1922-03-04T00:00:00Z", "1922-03-05T00:00:00Z")));
        for bad in [
            "",
            "19",
            "2019-",
            "2019-13",
            "2019-00",
            "2019-02-30",
            "2019-5-1",
            "2019/05/01",
            "2019-05-15T",
            "2019-05-15T25:00",
            "2019-05-15T10:61",
            "2019-05-15T10:30:15.",
            "2019-05-15T10:30:15+5",
            "2019-05-15T10:30:15X",
            "abcd",
            "2019-05-15 10:30",
            "+2019",
            "2019-05-15T10:30:15+05:00junk",
        ] {
            check(bad, None);
        }
    }

    #[test]
    fn values_and_periods() {
        let v = serde_json::json!({"start": "2019-05-01"});
        let r = DateRange::of_value(&v);
        assert_eq!(r, Some(DateRange { start: ms("2019-05-01T00:00:00Z"), end: i64::MAX }));
        let v = serde_json::json!({"end": "2019-05-01"});
        assert_eq!(DateRange::of_value(&v), Some(DateRange { start: i64::MIN, end: ms("2019-05-02T00:00:00Z") }));
        assert_eq!(DateRange::of_value(&serde_json::json!({})), None);
        assert_eq!(DateRange::of_value(&serde_json::json!(12)), None);
    }
}
