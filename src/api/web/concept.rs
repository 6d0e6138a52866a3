//! The page of one concept (`/systemes/{system}/{code}`): what the API's
//! lookup says, in French, with the hierarchy, the correspondences, the
//! earlier titles, and for a table of occupational diseases the table as
//! the law prints it.

use std::fmt::Write;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use super::PageError;
use super::html::{Nav, concept_link, concept_url, esc, system_url};
use super::pages::{frame, segment_attr, source_facts};
use crate::api::AppState;
use crate::api::concepts::concept_out;
use crate::index::ConceptRef;
use crate::index::Snapshot;
use crate::model::Status;

/// `/systemes/{system}/{code}`: one concept, reached in any spelling of the
/// system and the code (redirected to the canonical address).
pub async fn concept(
    State(state): State<AppState>,
    Path((name, code)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let snap = state.snapshot.load();
    let s = snap.resolve_system(&name)?;
    let sys = &snap.systems[s];
    let Some(r) = snap.lookup(s, &code) else {
        return Err(unknown_code(&snap, s, &code));
    };
    let c = concept_out(&snap, r);
    if name != sys.id || code != c.code {
        return Ok(Redirect::permanent(&concept_url(&sys.id, &c.code)).into_response());
    }
    let mut main = String::new();
    main.push_str("<nav aria-label=\"Fil d'Ariane\" class=\"breadcrumb\"><ol>");
    let _ = write!(main, r#"<li><a href="{}">{}</a></li>"#, esc(&system_url(&sys.id)), esc(&sys.title));
    for a in &c.ancestors {
        let _ = write!(
            main,
            r#"<li><a href="{href}"><span class="level">{level}</span> <span class="code">{code}</span> {display}</a></li>"#,
            href = esc(&concept_url(&sys.id, &a.code)),
            level = esc(&a.level),
            code = esc(&a.code),
            display = esc(&a.display),
        );
    }
    let _ = write!(main, r#"<li aria-current="page"><span class="code">{}</span></li></ol></nav>"#, esc(&c.code));
    let _ = write!(
        main,
        r#"<h1><span class="code">{code}</span> {display}</h1>
<dl class="facts">
<dt>Nomenclature</dt><dd><a href="{sys_href}">{sys_title}</a> (<code>{sys_id}</code>)</dd>
<dt>Code canonique</dt><dd><code>{code}</code></dd>
<dt>Niveau</dt><dd>{level}</dd>
<dt>Statut</dt><dd>{status}</dd>"#,
        code = esc(&c.code),
        display = esc(&c.display),
        sys_href = esc(&system_url(&sys.id)),
        sys_title = esc(&sys.title),
        sys_id = esc(&sys.id),
        level = esc(&c.level),
        status = match c.status {
            Status::Active => "actif",
            Status::Retired => "retiré",
        },
    );
    if !c.replaced_by.is_empty() {
        main.push_str("<dt>Remplacé par</dt><dd><ul class=\"plain\">");
        for x in &c.replaced_by {
            let _ = write!(main, "<li>{}</li>", concept_link(&sys.id, &x.code, &x.display));
        }
        main.push_str("</ul></dd>");
    }
    if let Some(d) = &c.definition {
        let _ = write!(main, "<dt>Définition</dt><dd>{}</dd>", esc(d));
    }
    for p in &c.properties {
        let _ = write!(main, "<dt>{}</dt><dd>{}</dd>", esc(p.kind.label_fr()), esc(&p.value));
    }
    main.push_str("</dl>\n");
    disease_table(&snap, r, &mut main);

    let _ = write!(
        main,
        r#"<section aria-labelledby="children-title"><h2 id="children-title">Subdivisions ({})</h2>"#,
        c.children.len()
    );
    if c.children.is_empty() {
        main.push_str("<p>Aucune : ce code est au niveau le plus fin.</p>");
    } else {
        main.push_str("<ul class=\"children\">");
        for ch in &c.children {
            let _ = write!(main, "<li>{}</li>", concept_link(&sys.id, &ch.code, &ch.display));
        }
        main.push_str("</ul>");
    }
    main.push_str("</section>\n");

    main.push_str("<section aria-labelledby=\"syn-title\"><h2 id=\"syn-title\">Synonymes et autres libellés</h2>");
    if c.designations.is_empty() {
        main.push_str("<p>Aucun autre libellé.</p>");
    } else {
        main.push_str("<ul>");
        for d in &c.designations {
            let kind = d.kind.label_fr();
            let _ = write!(main, r#"<li>{} <span class="meta">({kind})</span></li>"#, esc(&d.value));
        }
        main.push_str("</ul>");
    }
    main.push_str("</section>\n");

    main.push_str("<section aria-labelledby=\"map-title\"><h2 id=\"map-title\">Correspondances</h2>");
    if c.mappings.is_empty() && c.other_versions.is_empty() {
        main.push_str("<p>Aucune table de correspondance ne cite ce code.</p>");
    }
    if !c.other_versions.is_empty() {
        main.push_str("<p>Même code dans : ");
        let links: Vec<String> = c
            .other_versions
            .iter()
            .map(|v| format!(r#"<a href="{}">{}</a>"#, esc(&concept_url(v, &c.code)), esc(v)))
            .collect();
        main.push_str(&links.join(", "));
        main.push_str("</p>");
    }
    let mut notices: Vec<&str> = c.mappings.iter().filter_map(|m| m.notice.as_deref()).collect();
    notices.dedup();
    for n in notices {
        let _ = write!(main, r#"<p class="notice" role="note">{}</p>"#, esc(n));
    }
    if !c.mappings.is_empty() {
        main.push_str("<ul class=\"mappings\">");
        for m in &c.mappings {
            let served = snap.system_index(&m.system).is_some();
            let target = if served {
                format!(
                    r#"<a href="{}"><span class="code">{}</span></a>"#,
                    esc(&concept_url(&m.system, &m.code)),
                    esc(&m.code)
                )
            } else {
                format!(r#"<span class="code">{}</span>"#, esc(&m.code))
            };
            let arrow = if m.direction == crate::api::concepts::Direction::To { "devient" } else { "vient de" };
            let share = m.share.map(|s| format!(", {:.0} %", s * 100.0)).unwrap_or_default();
            // What part goes where, in the table's words (NAF 2008 → 2025),
            // or why a curated link holds.
            let lead = if m.notice.is_some() { "raison" } else { "ce qui y va" };
            let mut what = m
                .note
                .as_deref()
                .map(|n| format!(r#"<br><span class="meta">{lead} : {}</span>"#, esc(n)))
                .unwrap_or_default();
            if !m.conditions.is_empty() {
                let facts: Vec<String> =
                    m.conditions.iter().map(|p| format!("{} : {}", p.kind.label_fr(), esc(&p.value))).collect();
                let _ = write!(what, r#"<br><span class="meta">{}</span>"#, facts.join(" ; "));
            }
            let _ = write!(
                main,
                r#"<li>{arrow} {system} {target} {display} <span class="meta">({title} ; {eq}{share})</span>{what}</li>"#,
                system = esc(&m.system),
                display = esc(m.display.as_deref().unwrap_or("")),
                title = esc(&m.title),
                eq = serde_json::to_value(m.equivalence)
                    .ok()
                    .and_then(|v| v.as_str().map(String::from))
                    .unwrap_or_default(),
            );
        }
        main.push_str("</ul>");
    }
    main.push_str("</section>\n");

    main.push_str("<section aria-labelledby=\"src-title\"><h2 id=\"src-title\">Source et licence</h2>");
    source_facts(sys, &mut main);
    let _ = writeln!(
        main,
        r#"<p>Ce code dans l'API : <a href="/v1/systems/{sid}/concepts/{code}">JSON</a> · <a href="/fhir/CodeSystem/$lookup?system={url}&amp;code={code}">FHIR $lookup</a></p></section>"#,
        sid = segment_attr(&sys.id),
        code = segment_attr(&c.code),
        url = esc(&form_component(&sys.url)),
    );
    let title = format!("{} {}", c.code, c.display);
    Ok(frame(&snap, &title, Nav::None, &main, &[]).into_response())
}

/// A query-string value, percent-encoded.
fn form_component(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The 404 page of a code, with the versions that have it or near codes.
fn unknown_code(snap: &Snapshot, s: usize, code: &str) -> PageError {
    let sys = &snap.systems[s];
    let mut detail = format!("Le code « {code} » n'existe pas dans {}.", sys.title);
    let elsewhere = snap.other_versions_with(s, code);
    if !elsewhere.is_empty() {
        detail.push_str(&format!(" Il existe dans : {}.", elsewhere.join(", ")));
    }
    let near: Vec<String> = snap.near_codes(s, code, 5).into_iter().map(|r| snap.concept(r).code.clone()).collect();
    let mut err = PageError::new(StatusCode::NOT_FOUND, "Code inconnu", detail);
    err.links = near.iter().map(|n| (concept_url(&sys.id, n), n.clone())).collect();
    err
}

/// For a table of occupational diseases (a concept whose rows carry a
/// délai), the table as the law prints it: each disease with its délai,
/// durée d'exposition and works, paragraph by paragraph.
fn disease_table(snap: &Snapshot, r: ConceptRef, main: &mut String) {
    use crate::model::PropertyKind;
    let mut rows: Vec<(ConceptRef, bool)> = Vec::new();
    for ch in snap.children(r) {
        rows.push((ch, true));
        rows.extend(snap.children(ch).map(|g| (g, false)));
    }
    if !rows.iter().any(|&(x, _)| snap.concept(x).property(PropertyKind::Delai).is_some()) {
        return;
    }
    let sys = &snap.system_of(r).id;
    main.push_str(
        "<section aria-labelledby=\"table-title\"><h2 id=\"table-title\">Le tableau</h2>\
         <table class=\"disease-table\"><thead><tr><th scope=\"col\">Désignation des maladies</th>\
         <th scope=\"col\">Délai de prise en charge</th><th scope=\"col\">Travaux susceptibles de provoquer ces maladies</th></tr></thead><tbody>",
    );
    for (x, top) in rows {
        let c = snap.concept(x);
        let delai = c.property(PropertyKind::Delai).unwrap_or_default();
        let duree = c
            .property(PropertyKind::DureeExposition)
            .map(|d| format!("<br><span class=\"meta\">durée d'exposition : {}</span>", esc(d)))
            .unwrap_or_default();
        let works: Vec<&str> =
            c.properties.iter().filter(|p| p.kind == PropertyKind::Travaux).map(|p| p.value.as_str()).collect();
        let class = if top { "paragraph" } else { "row" };
        let _ = write!(
            main,
            r#"<tr class="{class}"><td>{link}</td><td>{delai}{duree}</td><td>{works}</td></tr>"#,
            link = concept_link(sys, &c.code, &c.display),
            delai = esc(delai),
            works = esc(&works.join(" ")).replace('\n', "<br>"),
        );
    }
    main.push_str("</tbody></table></section>\n");
}
