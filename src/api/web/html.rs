//! HTML building blocks of the web pages: escaping, URLs of pages, and the
//! page frame (head, navigation, footer). Every value that comes from data
//! goes through [`esc`]; nothing else writes data into markup.

use std::fmt::Write;

/// Escapes text for HTML content and quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes one path segment (everything but `A–Z a–z 0–9 - . _ ~`).
pub fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// URL of a system page.
pub fn system_url(system: &str) -> String {
    format!("/systemes/{}", segment(system))
}

/// URL of a concept page.
pub fn concept_url(system: &str, code: &str) -> String {
    format!("/systemes/{}/{}", segment(system), segment(code))
}

/// A link to a concept page: `<a href><span class="code">code</span> display</a>`.
pub fn concept_link(system: &str, code: &str, display: &str) -> String {
    format!(
        r#"<a href="{}"><span class="code">{}</span> {}</a>"#,
        esc(&concept_url(system, code)),
        esc(code),
        esc(display)
    )
}

/// `display` with the `[start, end)` character ranges wrapped in `<mark>`.
pub fn marked(display: &str, ranges: &[[usize; 2]]) -> String {
    let mut out = String::new();
    let mut open = false;
    for (i, c) in display.chars().enumerate() {
        let inside = ranges.iter().any(|&[s, e]| (s..e).contains(&i));
        if inside != open {
            out.push_str(if inside { "<mark>" } else { "</mark>" });
            open = inside;
        }
        out.push_str(&esc(c.encode_utf8(&mut [0; 4])));
    }
    if open {
        out.push_str("</mark>");
    }
    out
}

/// The pages of the navigation bar.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Search,
    Systems,
    Recode,
    Component,
    None,
}

const NAV: &[(Nav, &str, &str)] = &[
    (Nav::Search, "/", "Recherche"),
    (Nav::Systems, "/systemes", "Nomenclatures"),
    (Nav::Recode, "/recodage", "Recodage"),
    (Nav::Component, "/composant", "Intégrer le champ"),
];

/// What the footer says about the data served.
pub struct Footer<'a> {
    pub snapshot: &'a str,
    pub built: &'a str,
}

/// A whole page: `title` (escaped here), `main` (markup), scripts to load
/// after the component.
pub fn page(title: &str, current: Nav, main: &str, scripts: &[&str], footer: Option<&Footer>) -> String {
    let mut out = String::with_capacity(main.len() + 2048);
    let _ = write!(
        out,
        r#"<!doctype html>
<html lang="fr">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · Harmonie</title>
<link rel="stylesheet" href="/assets/harmonie.css">
<script src="/assets/harmonie-autocomplete.js" defer></script>
"#,
        title = esc(title)
    );
    for s in scripts {
        let _ = writeln!(out, r#"<script src="/assets/{s}" defer></script>"#);
    }
    out.push_str(
        r##"</head>
<body>
<a class="skip" href="#contenu">Aller au contenu</a>
<header class="site">
<a class="brand" href="/">Harmonie <span>référentiel en santé au travail</span></a>
<nav aria-label="Navigation principale"><ul>"##,
    );
    for (nav, href, label) in NAV {
        let current = if *nav == current { r#" aria-current="page""# } else { "" };
        let _ = write!(out, r#"<li><a href="{href}"{current}>{label}</a></li>"#);
    }
    let _ = write!(
        out,
        r#"</ul></nav>
</header>
<main id="contenu" tabindex="-1">
{main}
</main>
<footer class="site">
<p>Harmonie {version}{data} ·
<a href="/openapi.json">API JSON (OpenAPI)</a> · <a href="/fhir/metadata">API FHIR R4</a></p>
</footer>
</body>
</html>
"#,
        version = env!("CARGO_PKG_VERSION"),
        data = footer
            .map(|f| format!(" · données : instantané <code>{}</code> construit le {}", esc(f.snapshot), esc(f.built)))
            .unwrap_or_default(),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_marks() {
        assert_eq!(esc(r#"<a href="x">l'été & co</a>"#), "&lt;a href=&quot;x&quot;&gt;l&#39;été &amp; co&lt;/a&gt;");
        assert_eq!(marked("Lombalgie basse", &[[0, 9]]), "<mark>Lombalgie</mark> basse");
        assert_eq!(marked("a<b é", &[[2, 3], [4, 5]]), "a&lt;<mark>b</mark> <mark>é</mark>");
        assert_eq!(concept_url("naf-2008", "10.71C"), "/systemes/naf-2008/10.71C");
        assert_eq!(segment("a b/é"), "a%20b%2F%C3%A9");
    }
}
