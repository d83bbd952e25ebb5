//! Text from files (spec values, file names, CSV cells, store JSON) on its
//! way to a terminal: one sanitiser for the dashboard and every command's
//! output, so no file can drive the terminal (set its title, move the
//! cursor, hide output) with escape sequences.

/// Replaces control characters (ESC, BEL, C1 controls such as U+009B CSI,
/// carriage returns, tabs) and bidirectional overrides with U+FFFD; line
/// breaks stay. Characters keep their count, so column widths computed
/// before or after agree.
pub fn sanitize(text: &str) -> String {
    text.chars()
        .map(|c| {
            if (c.is_control() && c != '\n') || reorders(c) {
                '\u{FFFD}'
            } else {
                c
            }
        })
        .collect()
}

/// Unicode's bidirectional formatting characters (U+202E, the
/// right-to-left override, and its kin): in a file name they make
/// `gpj.exe` read as `exe.jpg`, and they reorder the rest of a table row.
fn reorders(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// `x` with `decimals` decimals, or in scientific notation from 10⁷ on, so
/// a diverging estimate (up to 1e308) keeps a table's columns in place.
pub fn number(x: f64, decimals: usize) -> String {
    if x.is_finite() && x.abs() >= 1e7 {
        format!("{x:.3e}")
    } else {
        let text = format!("{x:.decimals$}");
        // −0.04 at one decimal is 0.0, not `-0.0`: no sign on a zero.
        match text.strip_prefix('-') {
            Some(digits) if digits.chars().all(|c| matches!(c, '0' | '.')) => digits.to_string(),
            _ => text,
        }
    }
}

/// Text for an XML document (SVG) whose writer escapes `<`, `&` and
/// quotes itself (plotters does): the characters XML 1.0 cannot hold at all
/// (C0 controls but tab and line breaks, U+FFFE, U+FFFF), C1 controls and
/// bidirectional overrides become U+FFFD, so a name with an escape
/// sequence still makes a valid document that reads in order.
pub fn xml_text(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\t' | '\n' | '\r' => c,
            c if c.is_control() || reorders(c) || matches!(c, '\u{FFFE}' | '\u{FFFF}') => {
                '\u{FFFD}'
            }
            c => c,
        })
        .collect()
}

/// A share in [0, 1] as a whole percentage; `99%` rather than `100%` for
/// any share short of 1, so a rounded figure never claims full coverage;
/// `-` when unknown (NaN).
pub fn percent(share: f64) -> String {
    if share.is_nan() {
        return "-".into();
    }
    let p = (100.0 * share).round();
    format!("{}%", if share < 1.0 { p.min(99.0) } else { p })
}

/// Bytes as lowercase hex, two digits each: the digests that name runs,
/// datasets and environment files.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    bytes
        .iter()
        .flat_map(|b| [DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 0xf)]])
        .map(char::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_numbers_switch_to_scientific_notation() {
        assert_eq!(number(0.12345, 3), "0.123");
        assert_eq!(number(-9_999_999.0, 1), "-9999999.0");
        assert_eq!(number(9.28e71, 4), "9.280e71");
        assert_eq!(number(f64::NAN, 3), "NaN");
        assert_eq!(number(f64::INFINITY, 3), "inf");
        assert_eq!(number(-0.04, 1), "0.0");
        assert_eq!(number(-0.0, 3), "0.000");
        assert_eq!(number(-0.06, 1), "-0.1");
    }

    #[test]
    fn percentages_never_round_up_to_full() {
        assert_eq!(percent(0.714), "71%");
        assert_eq!(percent(0.9996), "99%");
        assert_eq!(percent(1.0), "100%");
        assert_eq!(percent(0.0), "0%");
        assert_eq!(percent(f64::NAN), "-");
    }

    #[test]
    fn escape_sequences_lose_their_escape() {
        let s = sanitize("a\u{1b}]0;pwned\u{7}b\u{9b}2J\nc");
        assert_eq!(s, "a\u{FFFD}]0;pwned\u{FFFD}b\u{FFFD}2J\nc");
        assert!(!s.chars().any(|c| c.is_control() && c != '\n'));
    }

    #[test]
    fn xml_text_keeps_only_characters_xml_allows() {
        assert_eq!(xml_text("a\u{1b}b\u{FFFF}\tc<"), "a\u{FFFD}b\u{FFFD}\tc<");
    }

    /// A right-to-left override would show `evil\u{202E}gpj.csv` as
    /// `evilvsc.jpg`, on the terminal and in a figure alike.
    #[test]
    fn bidirectional_overrides_are_replaced_everywhere() {
        for text in [
            sanitize("evil\u{202E}gpj.csv"),
            xml_text("evil\u{202E}gpj.csv"),
        ] {
            assert_eq!(text, "evil\u{FFFD}gpj.csv");
        }
        assert_eq!(sanitize("a\u{2067}b\u{200F}"), "a\u{FFFD}b\u{FFFD}");
    }
}
