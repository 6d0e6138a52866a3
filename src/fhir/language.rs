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
    /// `*; q=0`: no other language will do, so a concept without a display
    /// in one of `tags` shows none.
    pub only: bool,
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
        let only = raw.iter().flat_map(|r| r.split(',')).any(|t| {
            let mut parts = t.split(';').map(str::trim);
            parts.next() == Some("*") && parts.any(|q| matches!(q.replace(' ', "").as_str(), "q=0" | "q=0.0"))
        });
        Languages { raw, tags, only }
    }

    /// The languages as echoed: as given, or, when weighted (`;q=`),
    /// re-written with its entries joined by ", ".
    pub fn echo(&self) -> Option<String> {
        let raw = self.raw.as_ref()?;
        if !raw.contains(';') {
            return Some(raw.clone());
        }
        Some(raw.split(',').map(str::trim).filter(|t| !t.is_empty()).collect::<Vec<_>>().join(", "))
    }
}

pub(super) fn lang_matches(wanted: &str, have: &str) -> bool {
    let (w, h) = (wanted.to_lowercase(), have.to_lowercase());
    w == h || h.starts_with(&format!("{w}-")) || w.starts_with(&format!("{h}-"))
}

/// The display of `c` in the first of `langs` the system has, else its
/// display (none when `langs` accepts no other language).
pub fn display_in(cs: &CodeSystem, c: &Concept, langs: &Languages) -> Option<String> {
    for lang in &langs.tags {
        if cs.language.as_deref().is_some_and(|l| lang_matches(lang, l)) && c.display.is_some() {
            return c.display.clone();
        }
        if let Some(d) = c.designations.iter().find(|d| d.language.as_deref().is_some_and(|l| lang_matches(lang, l))) {
            return Some(d.value.clone());
        }
    }
    if langs.only && !langs.tags.is_empty() {
        return None;
    }
    c.display.clone()
}

#[cfg(test)]
mod tests {
    use super::Languages;

    #[test]
    fn a_zero_weighted_wildcard_accepts_no_other_language() {
        let l = Languages::new(Some("de,*; q=0".into()), None);
        assert_eq!((l.tags.clone(), l.only), (vec!["de".to_string()], true));
        assert_eq!(l.echo().as_deref(), Some("de, *; q=0"));
        let l = Languages::new(Some("en,it,*".into()), None);
        assert!(!l.only);
        assert_eq!(l.echo().as_deref(), Some("en,it,*"));
        assert!(!Languages::new(Some("fr;q=0.5, *;q=0.1".into()), None).only);
        assert!(Languages::new(None, Some("fr, *;q=0.0".into())).only);
    }
}
