//! Durations as written in flow files: `500ms`, `90s`, `10m`, `1h30m`, `1.5d`.

use std::time::Duration;

/// Units from largest to smallest, with their length in nanoseconds.
const UNITS: [(&str, u128); 5] = [
    ("d", 86_400 * NANOS_PER_SEC),
    ("h", 3_600 * NANOS_PER_SEC),
    ("m", 60 * NANOS_PER_SEC),
    ("s", NANOS_PER_SEC),
    ("ms", 1_000_000),
];

const NANOS_PER_SEC: u128 = 1_000_000_000;

/// Fraction digits kept per part; finer than a nanosecond for every unit, and
/// small enough that `fraction * unit` cannot overflow a `u128`.
const MAX_FRACTION_DIGITS: usize = 18;

/// Parses a duration such as `"90s"`, `"1h30m"`, `"500ms"` or `"1.5s"`.
///
/// The text is one or more `NUMBER UNIT` parts with no spaces, where the
/// number may have a decimal fraction and the units (`d`, `h`, `m`, `s`,
/// `ms`) each appear at most once, largest first. Zero is accepted; callers
/// that need a positive duration check for it. The error is a lowercase
/// fragment that quotes the text, such as
/// `unknown unit 'x' in '5x' (use ms, s, m, h or d)`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let not_a_duration = || format!("'{text}' is not a duration");
    if text.is_empty() {
        return Err(not_a_duration());
    }
    let mut rest = text;
    let mut total: u128 = 0;
    // Index into UNITS of the last unit seen: later parts must use a smaller one.
    let mut last_unit: Option<usize> = None;
    while !rest.is_empty() {
        let (number, after_number) = split_number(rest).ok_or_else(not_a_duration)?;
        let unit_len =
            after_number.find(|c: char| !c.is_alphabetic()).unwrap_or(after_number.len());
        let (unit, after_unit) = after_number.split_at(unit_len);
        if unit.is_empty() {
            return Err(if after_number.is_empty() {
                format!("missing unit in '{text}' (use ms, s, m, h or d)")
            } else {
                not_a_duration()
            });
        }
        let Some(index) = UNITS.iter().position(|(name, _)| *name == unit) else {
            return Err(format!("unknown unit '{unit}' in '{text}' (use ms, s, m, h or d)"));
        };
        match last_unit {
            Some(last) if last == index => {
                return Err(format!("unit '{unit}' appears twice in '{text}'"));
            }
            Some(last) if last > index => {
                return Err(format!("units out of order in '{text}' (write larger units first)"));
            }
            _ => {}
        }
        last_unit = Some(index);
        let nanos = number.nanos(UNITS[index].1).ok_or_else(|| format!("'{text}' is too long"))?;
        total = total.checked_add(nanos).ok_or_else(|| format!("'{text}' is too long"))?;
        rest = after_unit;
    }
    to_duration(total).ok_or_else(|| format!("'{text}' is too long"))
}

/// A decimal number as written: digits before and after the point.
struct Number<'a> {
    whole: &'a str,
    fraction: &'a str,
}

impl Number<'_> {
    /// This many units, in nanoseconds (the fraction truncated to whole
    /// nanoseconds), or `None` on overflow.
    fn nanos(&self, unit: u128) -> Option<u128> {
        let whole: u128 = self.whole.parse().ok()?;
        let digits = &self.fraction[..self.fraction.len().min(MAX_FRACTION_DIGITS)];
        let fraction = if digits.is_empty() {
            0
        } else {
            let scale = 10u128.pow(digits.len() as u32);
            digits.parse::<u128>().ok()? * unit / scale
        };
        whole.checked_mul(unit)?.checked_add(fraction)
    }
}

/// Splits `DIGITS[.DIGITS]` off the front of `text`.
fn split_number(text: &str) -> Option<(Number<'_>, &str)> {
    let digits_end = |s: &str| s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let whole_len = digits_end(text);
    if whole_len == 0 {
        return None;
    }
    let (whole, rest) = text.split_at(whole_len);
    let Some(after_point) = rest.strip_prefix('.') else {
        return Some((Number { whole, fraction: "" }, rest));
    };
    let fraction_len = digits_end(after_point);
    if fraction_len == 0 {
        return None;
    }
    let (fraction, rest) = after_point.split_at(fraction_len);
    Some((Number { whole, fraction }, rest))
}

fn to_duration(nanos: u128) -> Option<Duration> {
    let secs = u64::try_from(nanos / NANOS_PER_SEC).ok()?;
    Some(Duration::new(secs, (nanos % NANOS_PER_SEC) as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Duration {
        parse_duration(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn err(text: &str) -> String {
        parse_duration(text).expect_err(text)
    }

    #[test]
    fn single_units() {
        assert_eq!(ok("500ms"), Duration::from_millis(500));
        assert_eq!(ok("90s"), Duration::from_secs(90));
        assert_eq!(ok("10m"), Duration::from_secs(600));
        assert_eq!(ok("2h"), Duration::from_secs(7_200));
        assert_eq!(ok("1d"), Duration::from_secs(86_400));
    }

    #[test]
    fn combined_units_add_up() {
        assert_eq!(ok("1h30m"), Duration::from_secs(5_400));
        assert_eq!(ok("1d2h3m4s5ms"), Duration::new(86_400 + 7_200 + 180 + 4, 5_000_000));
        assert_eq!(ok("1m0s"), Duration::from_secs(60));
    }

    #[test]
    fn decimals_on_any_part() {
        assert_eq!(ok("1.5s"), Duration::from_millis(1_500));
        assert_eq!(ok("0.5h"), Duration::from_secs(1_800));
        assert_eq!(ok("1.5h30.5m"), Duration::from_secs(5_400 + 1_830));
        assert_eq!(ok("1.5ms"), Duration::from_micros(1_500));
        assert_eq!(ok("0.0000000001s"), Duration::ZERO);
        assert_eq!(ok("1.1234567890123456789012345s"), Duration::new(1, 123_456_789));
    }

    #[test]
    fn zero_is_accepted() {
        assert_eq!(ok("0s"), Duration::ZERO);
        assert_eq!(ok("0ms"), Duration::ZERO);
    }

    #[test]
    fn empty_and_malformed_text() {
        assert_eq!(err(""), "'' is not a duration");
        for text in
            ["s", " 5s", "5s ", "1h 30m", "-5s", "+5s", ".5s", "5.s", "1..5s", "5s!", "1h-5m"]
        {
            assert_eq!(err(text), format!("'{text}' is not a duration"), "{text:?}");
        }
    }

    #[test]
    fn missing_and_unknown_units() {
        assert_eq!(err("90"), "missing unit in '90' (use ms, s, m, h or d)");
        assert_eq!(err("1h30"), "missing unit in '1h30' (use ms, s, m, h or d)");
        assert_eq!(err("5x"), "unknown unit 'x' in '5x' (use ms, s, m, h or d)");
        assert_eq!(err("5S"), "unknown unit 'S' in '5S' (use ms, s, m, h or d)");
        assert_eq!(err("5min"), "unknown unit 'min' in '5min' (use ms, s, m, h or d)");
        assert_eq!(err("1hm"), "unknown unit 'hm' in '1hm' (use ms, s, m, h or d)");
        assert_eq!(err("5µs"), "unknown unit 'µs' in '5µs' (use ms, s, m, h or d)");
    }

    #[test]
    fn units_once_and_largest_first() {
        assert_eq!(err("1s2s"), "unit 's' appears twice in '1s2s'");
        assert_eq!(err("30m1h"), "units out of order in '30m1h' (write larger units first)");
        assert_eq!(err("1ms1s"), "units out of order in '1ms1s' (write larger units first)");
    }

    #[test]
    fn overflow_is_an_error_not_a_panic() {
        assert_eq!(err("99999999999999999999999d"), "'99999999999999999999999d' is too long");
        let huge = "9".repeat(60) + "s";
        assert_eq!(err(&huge), format!("'{huge}' is too long"));
        assert_eq!(err("213503982334602d"), "'213503982334602d' is too long");
        assert_eq!(ok("18446744073709551615s"), Duration::from_secs(u64::MAX));
    }
}
