//! The current UTC date and time from the system clock, in the forms the
//! project writes (`YYYY-MM-DD`, FHIR instants). One civil-date computation.

fn now_secs() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// (year, month, day) of `days` since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// The UTC date of `secs` since the Unix epoch, as `YYYY-MM-DD`.
pub fn date_of(secs: i64) -> String {
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    format!("{y:04}-{m:02}-{d:02}")
}

/// Today as `YYYY-MM-DD` (UTC), or the date in `HARMONIE_TODAY` when it
/// holds one: a service rehearses the NAF 2025 switch (or a test pins its
/// date) by running as if it were that day.
///
/// `HARMONIE_TODAY` is read once, when first needed.
pub fn today() -> String {
    static PINNED: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    let pinned = PINNED
        .get_or_init(|| std::env::var("HARMONIE_TODAY").ok().map(|d| d.trim().to_string()).filter(|d| is_date(d)));
    match pinned {
        Some(d) => d.clone(),
        None => {
            // The date is written once a day per thread, not at each call
            // (every cached FHIR answer and family name asks for it).
            thread_local! {
                static WRITTEN: std::cell::RefCell<(i64, String)> = const { std::cell::RefCell::new((i64::MIN, String::new())) };
            }
            let day = now_secs().div_euclid(86_400);
            WRITTEN.with_borrow_mut(|(written_day, date)| {
                if *written_day != day {
                    *date = date_of(day * 86_400);
                    *written_day = day;
                }
                date.clone()
            })
        }
    }
}

/// Whether `text` is a calendar date `YYYY-MM-DD` (dates so written compare
/// as strings).
pub fn is_date(text: &str) -> bool {
    let b = text.as_bytes();
    let num = |r: std::ops::Range<usize>| text.get(r).and_then(|s| s.parse::<u32>().ok());
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter().enumerate().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
        && num(5..7).is_some_and(|m| (1..=12).contains(&m))
        && num(8..10).is_some_and(|d| (1..=31).contains(&d))
}

/// Now as a FHIR instant (`YYYY-MM-DDThh:mm:ssZ`).
pub fn instant() -> String {
    let secs = now_secs();
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_checked_before_they_are_compared() {
        assert!(is_date("2027-01-01") && is_date("2026-12-31"));
        for bad in ["2027-13-01", "2027-1-01", "27-01-01", "2027/01/01", "2027-01-001", "2027-00-10", ""] {
            assert!(!is_date(bad), "{bad}");
        }
    }

    #[test]
    fn civil_dates() {
        assert_eq!(super::civil_from_days(0), (1970, 1, 1));
        assert_eq!(super::civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(super::civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(super::instant().len(), 20);
    }

    #[test]
    fn today_is_a_date() {
        let t = super::today();
        assert_eq!(t.len(), 10);
        assert!(t.as_str() > "2024-01-01", "{t}");
    }
}
