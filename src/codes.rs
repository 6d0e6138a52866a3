//! Per-system code syntax: the one place that knows how codes are spelled.
//!
//! Every code is stored in its official canonical form (NAF `10.71C`, PCS
//! `526a`, CIM-10 `M54.5`, ATIH extensions `M54.16`, `B24.+0`) and accepted in
//! the common spellings people and legacy files use (`1071c`, `10.71 C`,
//! `M545`, `m54.5`, `526A`).
//!
//! Two questions are answered per syntax:
//! * [`CodeSyntax::canonical`]: is this input a whole code, and how is it
//!   written canonically? Used by lookup and validation.
//! * [`CodeSyntax::code_prefix`]: does this search query look like a code,
//!   possibly unfinished, and what canonical prefix does it stand for? Used by
//!   query analysis, which must not mistake words for codes.

use serde::{Deserialize, Serialize};

/// The longest input taken for a code, in characters. Official codes are at
/// most 8 characters and local thesauri rarely pass 20; anything longer is
/// not a code, and is refused before any lookup or near-miss search so that
/// the work a request drives stays bounded.
pub const MAX_CODE_CHARS: usize = 64;

/// The spelling rules of a family of code systems.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CodeSyntax {
    /// NAF rév. 2 / NAF 2025: section `A` (to `U` in 2008, `V` in 2025), division `10`, groupe `10.7`,
    /// classe `10.71`, sous-classe `10.71C`.
    Naf,
    /// PCS 2003 / PCS-ESE / PCS 2020: groupe `5`, catégorie `52`, profession
    /// `526a` (`7100`, `8400` … for the retired and inactive). The 24-position level of PCS 2003 reuses the digits of the
    /// 42-position level; it is written `N2-21` so that each code is unique.
    Pcs,
    /// CIM-10 FR: chapter `XIII` (roman numeral), block `M50-M54`, category
    /// `M54`, sub-category `M54.5`, ATIH extension `M54.16`, `B24.+0`.
    Cim10,
    /// PCS 2020: groupe `1`, catégorie `10`, sous-catégorie `10A`,
    /// profession `10A1` (letters upper case).
    Pcs2020,
    /// CCAM: act `DEQP003` (four letters, three digits); the places of the
    /// tree are written as their position, chapter `04` to sous-paragraphe
    /// `04.01.01.01`.
    Ccam,
    /// Tables of occupational diseases: table `RG57`, `RA39`, `RG30BIS`
    /// (regime `RG` or `RA`, number, `BIS`/`TER`), paragraph `RG57-C`, row
    /// `RG57-C3`, `RG42-1`. Written `rg 57`, `RG 30 bis`, `rg57-c3`.
    MpTable,
    /// Codes taken as written, only trimmed (local thesauri).
    Plain,
}

/// Upper-cases (or lower-cases) and removes spaces, dots and the dagger and
/// asterisk marks of dual classification. `None` when anything else outside
/// ASCII remains (`12é`, `107Ç`, mojibake): no official code has such a
/// character, and the parsers below may then index the result by bytes.
fn compact(input: &str, upper: bool) -> Option<String> {
    if input.chars().nth(MAX_CODE_CHARS).is_some() {
        return None;
    }
    let c: String = input
        .chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '.' | '*' | '†'))
        .map(|c| if upper { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() })
        .collect();
    c.is_ascii().then_some(c)
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

const ROMAN_CHAPTERS: [&str; 22] = [
    "I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII", "XIII", "XIV", "XV", "XVI", "XVII",
    "XVIII", "XIX", "XX", "XXI", "XXII",
];

impl CodeSyntax {
    /// The canonical spelling of `input` if it is a whole code of this syntax.
    ///
    /// ```
    /// use harmonie::codes::CodeSyntax;
    /// assert_eq!(CodeSyntax::Naf.canonical("1071c").as_deref(), Some("10.71C"));
    /// assert_eq!(CodeSyntax::Naf.canonical("141Z").as_deref(), Some("01.41Z"));
    /// assert_eq!(CodeSyntax::Cim10.canonical("m545").as_deref(), Some("M54.5"));
    /// assert_eq!(CodeSyntax::Cim10.canonical("C169+0").as_deref(), Some("C16.9+0"));
    /// assert_eq!(CodeSyntax::Pcs.canonical("526A").as_deref(), Some("526a"));
    /// assert_eq!(CodeSyntax::Naf.canonical("boulangerie"), None);
    /// ```
    pub fn canonical(self, input: &str) -> Option<String> {
        match self {
            CodeSyntax::Naf => naf_code(input),
            CodeSyntax::Pcs => pcs_code(input, false),
            CodeSyntax::Cim10 => cim10_code(input, false),
            CodeSyntax::Pcs2020 => pcs2020_code(input, false),
            CodeSyntax::Ccam => ccam_code(input, false),
            CodeSyntax::MpTable => mp_code(input, false),
            CodeSyntax::Plain => {
                let t = input.trim();
                (!t.is_empty() && t.chars().nth(MAX_CODE_CHARS).is_none()).then(|| t.to_string())
            }
        }
    }

    /// If a search query looks like a code of this syntax, finished or not,
    /// the canonical prefix that codes beneath it start with.
    ///
    /// Requires at least one digit, so that words (`vi`, `tms`) stay text.
    ///
    /// ```
    /// use harmonie::codes::CodeSyntax;
    /// assert_eq!(CodeSyntax::Naf.code_prefix("107").as_deref(), Some("10.7"));
    /// assert_eq!(CodeSyntax::Pcs.code_prefix("52").as_deref(), Some("52"));
    /// assert_eq!(CodeSyntax::Pcs.code_prefix("526").as_deref(), Some("526"));
    /// assert_eq!(CodeSyntax::Cim10.code_prefix("j4").as_deref(), Some("J4"));
    /// assert_eq!(CodeSyntax::Cim10.code_prefix("XIII"), None);
    /// ```
    pub fn code_prefix(self, input: &str) -> Option<String> {
        if !input.bytes().any(|b| b.is_ascii_digit()) {
            return None;
        }
        match self {
            CodeSyntax::Naf => naf_code(input),
            CodeSyntax::Pcs => pcs_code(input, true),
            CodeSyntax::Cim10 => cim10_code(input, true),
            CodeSyntax::Pcs2020 => pcs2020_code(input, true),
            CodeSyntax::Ccam => ccam_code(input, true),
            CodeSyntax::MpTable => mp_code(input, true),
            CodeSyntax::Plain => None,
        }
    }
}

fn naf_code(input: &str) -> Option<String> {
    let c = compact(input, true)?;
    let b = c.as_bytes();
    match b.len() {
        1 if b[0].is_ascii_uppercase() && b[0] <= b'V' => Some(c),
        2 if all_digits(&c) => Some(c),
        3 if all_digits(&c) => Some(format!("{}.{}", &c[..2], &c[2..])),
        4 if all_digits(&c) => Some(format!("{}.{}", &c[..2], &c[2..])),
        // A spreadsheet ate the leading zero of "01.41Z" — but "15.8C" written
        // with its dot is a NAF rév. 1 code, not this.
        4 if all_digits(&c[..3]) && b[3].is_ascii_uppercase() && !input.contains('.') => {
            Some(format!("0{}.{}", &c[..1], &c[1..]))
        }
        5 if all_digits(&c[..4]) && b[4].is_ascii_uppercase() => Some(format!("{}.{}", &c[..2], &c[2..])),
        _ => None,
    }
}

fn pcs_code(input: &str, partial: bool) -> Option<String> {
    let c = compact(input, false)?;
    if let Some(rest) = c.strip_prefix("n2-") {
        return (rest.len() == 2 && all_digits(rest)).then(|| format!("N2-{rest}"));
    }
    let b = c.as_bytes();
    match b.len() {
        1 | 2 if all_digits(&c) => Some(c),
        3 if partial && all_digits(&c) => Some(c),
        4 if all_digits(&c[..3]) && (b[3].is_ascii_lowercase() || b[3].is_ascii_digit()) => Some(c),
        _ => None,
    }
}

fn pcs2020_code(input: &str, partial: bool) -> Option<String> {
    let c = compact(input, true)?;
    let b = c.as_bytes();
    let ok = match b.len() {
        1 | 2 => all_digits(&c),
        3 => all_digits(&c[..2]) && b[2].is_ascii_uppercase(),
        4 => all_digits(&c[..2]) && b[2].is_ascii_uppercase() && b[3].is_ascii_digit(),
        _ => false,
    };
    // A bare group digit is a code, but as a search it is any number.
    (ok && !(partial && b.len() == 1)).then_some(c)
}

fn ccam_code(input: &str, partial: bool) -> Option<String> {
    let t = input.trim();
    // Places of the tree: `04`, `04.01`, `04.01.01`, `04.01.01.01`.
    let parts: Vec<&str> = t.split('.').collect();
    if parts.len() <= 4 && parts.iter().all(|p| p.len() == 2 && all_digits(p)) {
        return Some(t.to_string());
    }
    let c = compact(input, true)?;
    let b = c.as_bytes();
    let letters = b.iter().take(4).all(u8::is_ascii_alphabetic);
    match b.len() {
        7 if letters && all_digits(&c[4..]) => Some(c),
        5 | 6 if partial && letters && all_digits(&c[4..]) => Some(c),
        _ => None,
    }
}

fn mp_code(input: &str, partial: bool) -> Option<String> {
    let c = compact(input, true)?;
    let (regime, rest) = (c.get(..2)?, c.get(2..)?);
    if !matches!(regime, "RG" | "RA") {
        return None;
    }
    let (table, row) = match rest.split_once('-') {
        Some((t, r)) => (t, Some(r)),
        None => (rest, None),
    };
    let digits = table.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || digits > 3 || !matches!(&table[digits..], "" | "BIS" | "TER" | "QUATER") {
        return None;
    }
    // A row: a paragraph letter, a number, or both (`C`, `C3`, `1`).
    let row_ok = |r: &str| {
        let letter = usize::from(r.as_bytes().first().is_some_and(u8::is_ascii_uppercase));
        let number = &r[letter..];
        !r.is_empty() && number.len() <= 2 && number.bytes().all(|b| b.is_ascii_digit())
    };
    match row {
        None => Some(c),
        Some("") if partial => Some(c),
        Some(r) if row_ok(r) => Some(c),
        _ => None,
    }
}

fn cim10_code(input: &str, partial: bool) -> Option<String> {
    let c = compact(input, true)?;
    if !partial && ROMAN_CHAPTERS.contains(&c.as_str()) {
        return Some(c);
    }
    let b = c.as_bytes();
    let category =
        |s: &[u8]| s.len() == 3 && s[0].is_ascii_uppercase() && s[1].is_ascii_digit() && s[2].is_ascii_digit();
    if b.len() == 7 && b[3] == b'-' && category(&b[..3]) && category(&b[4..]) {
        return Some(c);
    }
    if partial && b.len() == 2 && b[0].is_ascii_uppercase() && b[1].is_ascii_digit() {
        return Some(c);
    }
    if b.len() < 3 || !category(&b[..3]) {
        return None;
    }
    let rest = &c[3..];
    let plus = rest.matches('+').count();
    let ok =
        rest.len() <= 3 && plus <= 1 && rest.bytes().all(|x| x.is_ascii_digit() || x == b'+') && !rest.ends_with('+');
    if !ok {
        return None;
    }
    if rest.is_empty() { Some(c) } else { Some(format!("{}.{}", &c[..3], rest)) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ALL: [CodeSyntax; 7] = [
        CodeSyntax::Naf,
        CodeSyntax::Pcs,
        CodeSyntax::Cim10,
        CodeSyntax::Pcs2020,
        CodeSyntax::Ccam,
        CodeSyntax::MpTable,
        CodeSyntax::Plain,
    ];

    #[test]
    fn naf_spellings() {
        for s in ["1071C", "10.71C", "10.71c", "10 71 c", " 1071c "] {
            assert_eq!(CodeSyntax::Naf.canonical(s).as_deref(), Some("10.71C"), "{s}");
        }
        assert_eq!(CodeSyntax::Naf.canonical("10").as_deref(), Some("10"));
        assert_eq!(CodeSyntax::Naf.canonical("c").as_deref(), Some("C"));
        assert_eq!(CodeSyntax::Naf.canonical("1071").as_deref(), Some("10.71"));
        assert_eq!(CodeSyntax::Naf.canonical("15.8C"), None);
        assert_eq!(CodeSyntax::Naf.canonical("Z"), None);
        assert_eq!(CodeSyntax::Naf.code_prefix("c"), None);
    }

    #[test]
    fn pcs_spellings() {
        assert_eq!(CodeSyntax::Pcs.canonical("526A").as_deref(), Some("526a"));
        assert_eq!(CodeSyntax::Pcs.canonical("5").as_deref(), Some("5"));
        assert_eq!(CodeSyntax::Pcs.canonical("n2-21").as_deref(), Some("N2-21"));
        assert_eq!(CodeSyntax::Pcs.canonical("526"), None);
        assert_eq!(CodeSyntax::Pcs.canonical("7100").as_deref(), Some("7100"));
        assert_eq!(CodeSyntax::Pcs.canonical("aide"), None);
    }

    #[test]
    fn cim10_spellings() {
        let c = |s| CodeSyntax::Cim10.canonical(s);
        assert_eq!(c("M545").as_deref(), Some("M54.5"));
        assert_eq!(c("m54.5").as_deref(), Some("M54.5"));
        assert_eq!(c("M5416").as_deref(), Some("M54.16"));
        assert_eq!(c("B24+0").as_deref(), Some("B24.+0"));
        assert_eq!(c("B24.+0").as_deref(), Some("B24.+0"));
        assert_eq!(c("j45").as_deref(), Some("J45"));
        assert_eq!(c("m50-m54").as_deref(), Some("M50-M54"));
        assert_eq!(c("xiii").as_deref(), Some("XIII"));
        assert_eq!(c("M54.5*").as_deref(), Some("M54.5"));
        assert_eq!(c("M5"), None);
        assert_eq!(c("M54++"), None);
        assert_eq!(c("lombalgie"), None);
        assert_eq!(CodeSyntax::Cim10.code_prefix("M5").as_deref(), Some("M5"));
        assert_eq!(CodeSyntax::Cim10.code_prefix("vi"), None);
    }

    #[test]
    fn non_ascii_and_overlong_input_is_not_a_code() {
        for s in ["12é", "107Ç", "1é", "Ã¨", "CCœ", "😀", "10.7é", "M5é", "526é", "é526a", "1071Ç"] {
            for syntax in [CodeSyntax::Naf, CodeSyntax::Pcs, CodeSyntax::Cim10] {
                assert_eq!(syntax.canonical(s), None, "{syntax:?} {s}");
                assert_eq!(syntax.code_prefix(s), None, "{syntax:?} {s}");
            }
        }
        let long = "1".repeat(MAX_CODE_CHARS + 1);
        assert_eq!(CodeSyntax::Plain.canonical(&long), None);
        assert_eq!(CodeSyntax::Plain.canonical(&long[1..]).as_deref(), Some(&long[1..]));
    }

    #[test]
    fn new_systems_spellings() {
        assert_eq!(CodeSyntax::Pcs2020.canonical("10a1").as_deref(), Some("10A1"));
        assert_eq!(CodeSyntax::Pcs2020.canonical("21E").as_deref(), Some("21E"));
        assert_eq!(CodeSyntax::Pcs2020.canonical("1").as_deref(), Some("1"));
        assert_eq!(CodeSyntax::Pcs2020.canonical("526a"), None);
        assert_eq!(CodeSyntax::Ccam.canonical("deqp003").as_deref(), Some("DEQP003"));
        assert_eq!(CodeSyntax::Ccam.canonical("04.01.01.01").as_deref(), Some("04.01.01.01"));
        assert_eq!(CodeSyntax::Ccam.canonical("DEQP03"), None);
        assert_eq!(CodeSyntax::Ccam.code_prefix("DEQP0").as_deref(), Some("DEQP0"));
        assert_eq!(CodeSyntax::MpTable.canonical("rg 57").as_deref(), Some("RG57"));
        assert_eq!(CodeSyntax::MpTable.canonical("RG 30 bis").as_deref(), Some("RG30BIS"));
        assert_eq!(CodeSyntax::MpTable.canonical("rg57-c3").as_deref(), Some("RG57-C3"));
        assert_eq!(CodeSyntax::MpTable.canonical("RA39-A").as_deref(), Some("RA39-A"));
        assert_eq!(CodeSyntax::MpTable.canonical("RG42-1").as_deref(), Some("RG42-1"));
        assert_eq!(CodeSyntax::MpTable.canonical("RG57-"), None);
        assert_eq!(CodeSyntax::MpTable.canonical("RGX"), None);
        assert_eq!(CodeSyntax::MpTable.canonical("RG57-CC"), None);
        for s in ["12é", "RG5é", "ccaé"] {
            for syntax in [CodeSyntax::Pcs2020, CodeSyntax::Ccam, CodeSyntax::MpTable] {
                assert_eq!(syntax.canonical(s), None, "{syntax:?} {s}");
            }
        }
    }

    proptest! {
        /// No input makes a parser panic, and what comes out is ASCII and
        /// short (Plain codes excepted, which are only trimmed).
        #[test]
        fn any_text_is_safe(s in "\\PC{0,12}") {
            for syntax in ALL {
                for c in [syntax.canonical(&s), syntax.code_prefix(&s)].into_iter().flatten() {
                    prop_assert!(c.chars().count() <= MAX_CODE_CHARS);
                    prop_assert!(syntax == CodeSyntax::Plain || c.is_ascii());
                }
            }
        }

        /// Random bytes decoded lossily (what a broken file gives) are safe too.
        #[test]
        fn any_bytes_are_safe(b in proptest::collection::vec(any::<u8>(), 0..16)) {
            let s = String::from_utf8_lossy(&b);
            for syntax in ALL {
                let _ = (syntax.canonical(&s), syntax.code_prefix(&s));
            }
        }

        /// Canonical codes are fixed points, whatever the syntax.
        #[test]
        fn canonical_is_idempotent(s in "[A-Za-z0-9. +*-]{0,8}") {
            for syntax in ALL {
                if let Some(c) = syntax.canonical(&s) {
                    prop_assert_eq!(syntax.canonical(&c), Some(c.clone()));
                }
            }
        }

        /// Case and the dots and spaces people add do not change the code.
        #[test]
        fn spelling_insensitive(d in "[0-9]{4}", l in "[A-Z]") {
            let code = format!("{d}{l}");
            let a = CodeSyntax::Naf.canonical(&code);
            let b = CodeSyntax::Naf.canonical(&format!("{}.{} {}", &d[..2], &d[2..], l.to_lowercase()));
            prop_assert_eq!(a, b);
        }
    }
}
