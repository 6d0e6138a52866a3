//! French text normalisation: the one analyser used at index time and at
//! query time, so that what is indexed and what is asked always meet.
//!
//! [`analyze`] turns a label or a query into [`Term`]s:
//! 1. Unicode NFKD, combining marks dropped, lowercase, `œ`→`oe`, `æ`→`ae`;
//! 2. apostrophes (`’ ʼ ‘ ´ \``) unified; elided articles and pronouns
//!    (`l'`, `d'`, `qu'`, `j'`, `n'`, `s'`, `c'`, `m'`, `t'`) dropped;
//! 3. every other non-alphanumeric character separates terms;
//! 4. stopwords kept out of matching ([`is_stopword`]);
//! 5. light French stemming ([`stem`]): plurals, feminine forms, final `e`.
//!
//! Guarantees (property-tested): analysing the joined stems of an analysis
//! gives the same stems (idempotent), and accents and case never change the
//! result.
//!
//! [`clean_label`] is different: it tidies a label for display (spaces,
//! glued words) and never folds accents or case.

use std::ops::Range;

use unicode_normalization::UnicodeNormalization;

/// One searchable term of a text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Term {
    /// The stem: what is indexed and compared.
    pub stem: String,
    /// The folded word before stemming (used for prefix matching while
    /// typing: `boulange` must still reach `boulangerie`).
    pub word: String,
}

const STOPWORDS: &[&str] = &[
    "a", "au", "aux", "avec", "ce", "ces", "dans", "de", "des", "du", "en", "et", "la", "le", "les", "ou", "par",
    "pour", "sur", "un", "une", "y",
];

const ELIDED: &[&str] = &["l", "d", "qu", "j", "n", "s", "c", "m", "t", "jusqu", "lorsqu", "puisqu"];

/// Whether a folded word carries no meaning for matching.
pub fn is_stopword(word: &str) -> bool {
    STOPWORDS.contains(&word)
}

/// Accent- and case-folds `text` and splits it into words, dropping elided
/// articles; stopwords are still present.
pub fn fold_words(text: &str) -> Vec<String> {
    FoldedWords::new(text).map(|(word, _)| word).collect()
}

/// [`fold_words`] with where each word sits in `text` (a byte range), so
/// that a match can be shown in the original label (see
/// `search::highlights`).
pub fn fold_spans(text: &str) -> Vec<(String, Range<usize>)> {
    FoldedWords::new(text).collect()
}

/// The words of [`fold_spans`], one at a time: a reader that needs the
/// first few words does not fold the rest.
pub struct FoldedWords<'a> {
    chars: std::str::CharIndices<'a>,
    /// The folded characters of the character read last (at byte `at`,
    /// `len` bytes long), of which `next` on are still to be read.
    folded: Vec<char>,
    next: usize,
    at: usize,
    len: usize,
    /// The word being read, and where it sits.
    cur: String,
    span: Range<usize>,
}

impl<'a> FoldedWords<'a> {
    /// The words of `text`, none read yet.
    pub fn new(text: &'a str) -> FoldedWords<'a> {
        FoldedWords {
            chars: text.char_indices(),
            folded: Vec::new(),
            next: 0,
            at: 0,
            len: 0,
            cur: String::new(),
            span: 0..0,
        }
    }
}

impl Iterator for FoldedWords<'_> {
    type Item = (String, Range<usize>);

    fn next(&mut self) -> Option<(String, Range<usize>)> {
        loop {
            while let Some(&ch) = self.folded.get(self.next) {
                self.next += 1;
                if self.cur.is_empty() {
                    self.span = self.at..self.at;
                }
                match ch {
                    'œ' => self.cur.push_str("oe"),
                    'æ' => self.cur.push_str("ae"),
                    '\'' | '’' | 'ʼ' | '‘' | '´' | '`' => {
                        let word = std::mem::take(&mut self.cur);
                        if !word.is_empty() && !ELIDED.contains(&word.as_str()) {
                            return Some((word, self.span.clone()));
                        }
                        continue;
                    }
                    c if c.is_alphanumeric() => self.cur.push(c),
                    _ => {
                        if !self.cur.is_empty() {
                            return Some((std::mem::take(&mut self.cur), self.span.clone()));
                        }
                        continue;
                    }
                }
                self.span.end = self.at + self.len;
            }
            let Some((at, original)) = self.chars.next() else {
                return (!self.cur.is_empty()).then(|| (std::mem::take(&mut self.cur), self.span.clone()));
            };
            (self.at, self.len, self.next) = (at, original.len_utf8(), 0);
            self.folded.clear();
            // ASCII folds to itself lowercased: no decomposition to run.
            if original.is_ascii() {
                self.folded.push(original.to_ascii_lowercase());
            } else {
                self.folded.extend(
                    original
                        .to_lowercase()
                        .nfkd()
                        .flat_map(char::to_lowercase)
                        .filter(|c| !unicode_normalization::char::is_combining_mark(*c)),
                );
            }
        }
    }
}

/// The one analyser: folded, stopword-free, stemmed terms of `text`.
///
/// ```
/// use harmonie::text::analyze;
/// let stems: Vec<String> = analyze("Infirmières de l'Hôpital").into_iter().map(|t| t.stem).collect();
/// assert_eq!(stems, ["infirmier", "hopital"]);
/// ```
pub fn analyze(text: &str) -> Vec<Term> {
    FoldedWords::new(text)
        .map(|(word, _)| word)
        .filter(|w| !is_stopword(w))
        .filter_map(|word| {
            let stem = stem(&word);
            (!is_stopword(&stem)).then_some(Term { stem, word })
        })
        .collect()
}

/// The stems of `text`, joined by single spaces.
pub fn normalize(text: &str) -> String {
    analyze(text).into_iter().map(|t| t.stem).collect::<Vec<_>>().join(" ")
}

/// Light French stemming of one folded word, applied until nothing changes:
/// plural `-eaux`→`-eau`, `-aux`→`-al`, `-s`/`-x` dropped (not after `s`
/// or `u`); feminine `-euse`→`-eur`,
/// `-trice`→`-teur`, `-enne`→`-en`, `-elle`→`-el`, `-ive`→`-if`; final `-e`
/// dropped. A stem keeps at least three letters; words with digits are left
/// alone.
pub fn stem(word: &str) -> String {
    let mut w = word.to_string();
    if w.chars().any(|c| c.is_ascii_digit()) || !w.is_ascii() {
        return w;
    }
    // Every rule shortens the word: this ends.
    while let Some((keep, repl)) = stem_rule(&w) {
        w.truncate(keep);
        w.push_str(repl);
    }
    w
}

/// The first rule that applies to `w`: the length of `w` to keep and what
/// to put after it.
fn stem_rule(w: &str) -> Option<(usize, &'static str)> {
    const RULES: &[(&str, &str)] = &[
        ("eaux", "eau"),
        ("aux", "al"),
        ("euse", "eur"),
        ("trice", "teur"),
        ("enne", "en"),
        ("elle", "el"),
        ("ive", "if"),
        ("s", ""),
        ("x", ""),
        ("e", ""),
    ];
    RULES.iter().find_map(|&(suffix, repl)| {
        let base = w.strip_suffix(suffix)?;
        // "stress", "virus": a final s after s or u is not a plural.
        let applies = base.len() + repl.len() >= 3
            && base.len() >= 2
            && !(suffix == "s" && (base.ends_with('s') || base.ends_with('u')));
        applies.then_some((base.len(), repl))
    })
}

/// Tidies a label for display: trims, collapses runs of white space
/// (including line breaks) into one space, and separates a unit glued to the
/// next word (`400 m2et plus` → `400 m2 et plus`). Returns the label and
/// whether anything changed, so that loaders can count their fixes.
pub fn clean_label(label: &str) -> (String, bool) {
    let words: Vec<String> = label
        .split_whitespace()
        .map(|w| {
            for unit in ["m2", "m3", "km2"] {
                if let Some(rest) = w.strip_prefix(unit)
                    && ["et", "ou"].contains(&rest)
                {
                    return format!("{unit} {rest}");
                }
            }
            w.to_string()
        })
        .collect();
    let cleaned = words.join(" ");
    let changed = cleaned != label;
    (cleaned, changed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn stems(s: &str) -> Vec<String> {
        analyze(s).into_iter().map(|t| t.stem).collect()
    }

    #[test]
    fn folds_accents_case_ligatures_and_elision() {
        assert_eq!(stems("Œuvre d’Art"), ["oeuvr", "art"]);
        assert_eq!(stems("L'ÉLECTRICITÉ"), ["electricit"]);
        assert_eq!(stems("aide-soignante"), stems("Aides soignants"));
        assert_eq!(stems("qu'il"), ["il"]);
        assert_eq!(stems("vitamine D"), ["vitamin", "d"]);
    }

    #[test]
    fn feminine_and_plural_forms_meet() {
        for (a, b) in [
            ("infirmière", "infirmier"),
            ("vendeuse", "vendeur"),
            ("éducatrice", "éducateur"),
            ("technicienne", "technicien"),
            ("professionnelle", "professionnel"),
            ("boulangère", "boulanger"),
            ("chevaux", "cheval"),
            ("salariées", "salarié"),
        ] {
            assert_eq!(stems(a), stems(b), "{a} / {b}");
        }
    }

    #[test]
    fn stopwords_are_not_terms() {
        assert_eq!(stems("Commerce de détail de la viande"), ["commerc", "detail", "viand"]);
        assert!(stems("de la").is_empty());
    }

    #[test]
    fn spans_point_at_the_original_words() {
        let text = "L'Électricité des Œuvres, aide-soignante";
        let spans: Vec<(String, &str)> = fold_spans(text).into_iter().map(|(w, r)| (w, &text[r])).collect();
        assert_eq!(
            spans,
            [
                ("electricite".into(), "Électricité"),
                ("des".into(), "des"),
                ("oeuvres".into(), "Œuvres"),
                ("aide".into(), "aide"),
                ("soignante".into(), "soignante")
            ]
        );
    }

    #[test]
    fn clean_label_fixes_spacing() {
        assert_eq!(clean_label("Commerce (400 m2et plus)"), ("Commerce (400 m2 et plus)".into(), true));
        assert_eq!(clean_label(" Aplasie  médullaire \n"), ("Aplasie médullaire".into(), true));
        assert_eq!(clean_label("Culture du riz"), ("Culture du riz".into(), false));
    }

    proptest! {
        #[test]
        fn analysis_is_idempotent(s in "\\PC{0,40}") {
            let once = normalize(&s);
            prop_assert_eq!(normalize(&once), once);
        }

        #[test]
        fn accents_and_case_do_not_matter(s in "[a-zA-Zàâäçéèêëîïôöùûüÿœæ' -]{0,30}") {
            let plain: String = s.nfkd().filter(|c| !unicode_normalization::char::is_combining_mark(*c)).collect();
            prop_assert_eq!(normalize(&s.to_uppercase()), normalize(&plain));
        }

        #[test]
        fn each_span_folds_to_its_word(s in "[a-zA-Z0-9àâäçéèêëîïôöùûüÿœæÉÈÀÇŒ'’ ,.()/-]{0,40}") {
            for (word, range) in fold_spans(&s) {
                prop_assert_eq!(fold_words(&s[range]).concat(), word);
            }
        }
    }
}
