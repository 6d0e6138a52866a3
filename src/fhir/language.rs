//! Display languages: which languages a request asks for
//! (`displayLanguage`, else `Accept-Language`) and the display of a concept
//! in the first of them the system has.

use super::cs::{CodeSystem, Concept};

/// Languages asked for: `displayLanguage`, else the `Accept-Language` header.
#[derive(Clone, Debug, Default)]
pub struct Languages {
    /// As given, for messages.
    pub raw: Option<String>,
    /// The language tags, in order of preference (quality values ignored).
    pub tags: Vec<String>,
}

impl Languages {
    /// Languages from `displayLanguage`, else from the `Accept-Language` header.
    pub fn new(param: Option<String>, header: Option<String>) -> Languages {
        let raw = param.or(header);
        let tags = raw
            .iter()
            .flat_map(|r| r.split(','))
            .map(|t| t.split(';').next().unwrap_or_default().trim().to_string())
            .filter(|t| !t.is_empty() && t != "*")
            .collect();
        Languages { raw, tags }
    }
}

pub(super) fn lang_matches(wanted: &str, have: &str) -> bool {
    let (w, h) = (wanted.to_lowercase(), have.to_lowercase());
    w == h || h.starts_with(&format!("{w}-")) || w.starts_with(&format!("{h}-"))
}

/// The display of `c` in the first of `langs` the system has, else its display.
pub fn display_in(cs: &CodeSystem, c: &Concept, langs: &Languages) -> Option<String> {
    for lang in &langs.tags {
        if cs.language.as_deref().is_some_and(|l| lang_matches(lang, l)) && c.display.is_some() {
            return c.display.clone();
        }
        if let Some(d) = c.designations.iter().find(|d| d.language.as_deref().is_some_and(|l| lang_matches(lang, l))) {
            return Some(d.value.clone());
        }
    }
    c.display.clone()
}
