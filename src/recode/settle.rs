//! Settling a code that splits: the row's text against what each candidate
//! is (its label and what the correspondence table says goes to it).

use crate::index::{ConceptRef, Snapshot};

/// Settles a split with a row's text, looking at the candidates only: each
/// candidate's words are its label and what the correspondence table says
/// goes to it (INSEE's `contenu_commun`); a word, or two words side by side
/// (« betteraves fourragères »), weighs more the fewer candidates have it
/// (what all of them have weighs nothing). The
/// candidate whose words the text holds most wins when it leads the next one
/// by half again; returns it with the words that decided.
pub fn settle_by_text(
    snap: &Snapshot,
    text: &str,
    candidates: &[(ConceptRef, &crate::model::map::Target)],
) -> Option<(ConceptRef, String)> {
    use std::collections::HashSet;
    // Words and pairs of neighbouring words.
    let stems = |t: &str| -> HashSet<String> {
        // Words of one or two letters (`e` of e-commerce, `m` of m²) decide nothing.
        let words: Vec<String> =
            crate::text::analyze(t).into_iter().map(|t| t.stem).filter(|s| s.chars().count() >= 3).collect();
        let pairs = words.windows(2).map(|w| format!("{} {}", w[0], w[1]));
        words.iter().cloned().chain(pairs).collect()
    };
    // A row's text is read as a search reads a query: up to its first
    // characters, so a huge cell costs a bounded time.
    let text = match text.char_indices().nth(crate::search::ANALYSED_CHARS) {
        Some((cut, _)) => &text[..cut],
        None => text,
    };
    let query = stems(text);
    if query.is_empty() || candidates.len() < 2 {
        return None;
    }
    let words: Vec<HashSet<String>> = candidates
        .iter()
        .map(|(r, t)| {
            let mut w = stems(&snap.concept(*r).display);
            w.extend(stems(&what_goes(t.note.as_deref().unwrap_or(""))));
            w
        })
        .collect();
    let n = candidates.len() as f32;
    let mut scored: Vec<(f32, usize, Vec<&str>)> = words
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let hits: Vec<&str> = query.iter().filter(|q| w.contains(*q)).map(String::as_str).collect();
            let score = hits
                .iter()
                .map(|q| {
                    let df = words.iter().filter(|o| o.contains(*q)).count() as f32;
                    (n / df).ln()
                })
                .sum();
            (score, i, hits)
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let (best, second) = (&scored[0], &scored[1]);
    if best.0 <= 0.0 || best.0 < 1.5 * second.0 {
        return None;
    }
    let mut decisive: Vec<&str> = best.2.iter().copied().filter(|w| !second.2.contains(w)).collect();
    decisive.sort_unstable();
    Some((candidates[best.1].0, decisive.join(", ")))
}

/// What a `contenu_commun` text says goes to its target: the text without
/// what it excepts (« à l'exception de l'installation de serrures, le contenu
/// … », « (hors activités d'intermédiation) », « autres qu'en bonneterie »),
/// which goes elsewhere.
fn what_goes(note: &str) -> String {
    static EXCEPT: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let re = EXCEPT.get_or_init(|| {
        regex::Regex::new(
            r"(?i)(à|a) l[’']exception (de la |de l[’']|des |du |de |d[’'])[^,;)]*[,;)]?|\((hors|sauf|à l[’']exception)[^)]*\)|autres? qu[’']en [\p{L}-]+",
        )
        .expect("a valid pattern")
    });
    re.replace_all(note, " ").into_owned()
}
