//! The handlers of the web pages. Each renders one page from the served
//! snapshot with the same functions as the JSON API (`search_response`,
//! `concept_out`) and reads systems from the same snapshot, so a page never
//! says something the API would not.

use std::fmt::Write;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::PageError;
use super::html::{Footer, Nav, concept_link, concept_url, esc, marked, page, system_url};
use crate::api::AppState;
use crate::api::concepts::concept_out;
use crate::api::v1::{SearchResult, search_response};
use crate::index::ConceptRef;
use crate::index::Snapshot;
use crate::model::Status;
use crate::search::{self, SearchRequest};

/// Results shown by the search page.
const PAGE_RESULTS: usize = 30;

fn frame(snap: &Snapshot, title: &str, nav: Nav, main: &str, scripts: &[&str]) -> Html<String> {
    let built = crate::clock::date_of(snap.manifest.built_at as i64);
    Html(page(title, nav, main, scripts, Some(&Footer { snapshot: &snap.manifest.id, built: &built })))
}

/// The ancestors of a result as `code › code › parent label`.
fn path_of(r: &SearchResult) -> String {
    let n = r.ancestors.len();
    r.ancestors
        .iter()
        .enumerate()
        .map(|(i, a)| if i + 1 == n { format!("{} {}", a.code, a.display) } else { a.code.clone() })
        .collect::<Vec<_>>()
        .join(" › ")
}

/// The levels of every system, for the level filter (JSON in the page).
fn levels_json(snap: &Snapshot) -> String {
    let map: serde_json::Map<String, serde_json::Value> =
        snap.systems.iter().map(|s| (s.id.clone(), serde_json::json!(s.levels))).collect();
    serde_json::Value::Object(map).to_string().replace("</", "<\\/")
}

#[derive(Deserialize)]
pub struct SearchPage {
    q: Option<String>,
    system: Option<String>,
    level: Option<String>,
}

/// `/`: search across all systems, as you type (the component) or on submit
/// (results rendered here, which also works without JavaScript).
pub async fn search(
    State(state): State<AppState>,
    params: Result<Query<SearchPage>, QueryRejection>,
) -> Result<Html<String>, PageError> {
    let Query(p) = params.map_err(|e| PageError::bad_request(e.body_text()))?;
    let snap = state.snapshot.load();
    let q = p.q.unwrap_or_default();
    let system = match p.system.as_deref().filter(|s| !s.is_empty()) {
        Some(name) => Some(snap.resolve_system(name)?),
        None => None,
    };
    let level = p.level.filter(|l| !l.is_empty());
    let mut main = String::from("<h1>Rechercher un code</h1>\n");
    main.push_str(
        "<p class=\"lead\">Activités (NAF), professions (PCS), pathologies (CIM-10), risques, vaccinations \
         et examens : tapez un code, un libellé ou un mot, avec ou sans accents.</p>\n",
    );
    let system_id = system.map(|s| snap.systems[s].id.as_str()).unwrap_or("");
    let _ = write!(
        main,
        r#"<form class="search" role="search" action="/" method="get">
<harmonie-autocomplete id="recherche" show-path show-system level-only system="{system}" level="{level}" limit="10">
<label for="q">Code ou libellé</label>
<input id="q" name="q" type="search" value="{q}" autocomplete="off" placeholder="ex. lombalgie, aide-soignante, 10.71C">
</harmonie-autocomplete>
<div class="filters">
<div><label for="f-system">Nomenclature</label>
<select id="f-system" name="system"><option value="">Toutes</option>"#,
        system = esc(system_id),
        level = esc(level.as_deref().unwrap_or("")),
        q = esc(&q),
    );
    for s in &snap.systems {
        let sel = if s.id == system_id { " selected" } else { "" };
        let _ = write!(main, r#"<option value="{}"{sel}>{}</option>"#, esc(&s.id), esc(&s.title));
    }
    main.push_str(
        "</select></div>\n<div><label for=\"f-level\">Niveau</label>\n<select id=\"f-level\" name=\"level\"><option value=\"\">Tous</option>",
    );
    let mut names: Vec<&str> = Vec::new();
    for s in system.map(|s| vec![&snap.systems[s]]).unwrap_or_else(|| snap.systems.iter().collect()) {
        for l in &s.levels {
            if !names.contains(&l.as_str()) {
                names.push(l);
            }
        }
    }
    for l in names {
        let sel = if Some(l) == level.as_deref() { " selected" } else { "" };
        let _ = write!(main, r#"<option value="{l}"{sel}>{l}</option>"#, l = esc(l));
    }
    let _ = write!(
        main,
        r#"</select></div>
<button type="submit">Rechercher</button>
</div>
</form>
<script type="application/json" id="harmonie-levels">{}</script>
"#,
        levels_json(&snap)
    );

    if q.trim().is_empty() {
        main.push_str("<section aria-labelledby=\"sys-title\"><h2 id=\"sys-title\">Nomenclatures servies</h2>\n");
        systems_list(&snap, &mut main);
        main.push_str("</section>\n");
    } else {
        let req = SearchRequest {
            q: &q,
            system,
            limit: PAGE_RESULTS,
            level: level.as_deref(),
            leaf: false,
            level_only: level.is_some(),
            no_context: false,
        };
        let hits = search::search(&snap, &req).map_err(|e| PageError::internal(format!("{e:#}")))?;
        let response = search_response(&snap, &q, hits, true, 0);
        let n = response.results.len();
        let _ = write!(
            main,
            r#"<section aria-labelledby="res-title"><h2 id="res-title">{} pour « {} »</h2>"#,
            match n {
                0 => "Aucun résultat".to_string(),
                1 => "1 résultat".to_string(),
                n => format!("{n} résultats"),
            },
            esc(&q)
        );
        if n == 0 {
            main.push_str("<p>Essayez un autre mot, un début de mot, ou toutes les nomenclatures.</p>");
        }
        main.push_str("<ol class=\"results\">");
        for r in &response.results {
            let title = snap.system_index(&r.system).map(|s| snap.systems[s].title.as_str()).unwrap_or(&r.system);
            let _ = write!(
                main,
                r#"<li><a href="{href}"><span class="code">{code}</span> {label}</a>
<span class="meta"><span class="sys">{system}</span> · {level}{path}</span></li>"#,
                href = esc(&concept_url(&r.system, &r.code)),
                code = esc(&r.code),
                label = marked(&r.display, &r.highlight),
                system = esc(title),
                level = esc(&r.level),
                path = if r.ancestors.is_empty() { String::new() } else { format!(" · {}", esc(&path_of(r))) },
            );
        }
        main.push_str("</ol></section>\n");
    }
    let title = if q.trim().is_empty() { "Recherche".to_string() } else { format!("« {q} »") };
    Ok(frame(&snap, &title, Nav::Search, &main, &["search.js"]))
}

/// The systems served, as a list of links with their counts.
fn systems_list(snap: &Snapshot, out: &mut String) {
    out.push_str("<ul class=\"systems\">");
    for s in &snap.systems {
        let _ = write!(
            out,
            r#"<li><a href="{href}">{title}</a> <span class="meta">{id} · {n} codes · {publisher}</span></li>"#,
            href = esc(&system_url(&s.id)),
            title = esc(&s.title),
            id = esc(&s.id),
            n = s.concepts.len(),
            publisher = esc(&s.publisher),
        );
    }
    out.push_str("</ul>\n");
}

/// `/systemes`: every system served.
pub async fn systems(State(state): State<AppState>) -> Html<String> {
    let snap = state.snapshot.load();
    let mut main = String::from("<h1>Nomenclatures</h1>\n");
    systems_list(&snap, &mut main);
    frame(&snap, "Nomenclatures", Nav::Systems, &main, &[])
}

/// The source and licence of a system, as a description list.
fn source_facts(s: &crate::model::CodeSystem, out: &mut String) {
    let _ = write!(
        out,
        r#"<dl class="facts">
<dt>Version</dt><dd>{version}</dd>
<dt>Éditeur</dt><dd>{publisher}</dd>
<dt>Licence</dt><dd>{licence}</dd>
<dt>Attribution</dt><dd>{attribution}</dd>
<dt>URL canonique (FHIR)</dt><dd><code>{url}</code></dd>
</dl>"#,
        version = esc(&s.version),
        publisher = esc(&s.publisher),
        licence = esc(&s.licence),
        attribution = esc(&s.attribution),
        url = esc(&s.url),
    );
}

/// `/systemes/{system}`: what a system is, its levels, and its hierarchy to
/// browse (two levels here, every level through the concept pages).
pub async fn system(State(state): State<AppState>, Path(name): Path<String>) -> Result<Response, PageError> {
    let snap = state.snapshot.load();
    let s = snap.resolve_system(&name)?;
    let sys = &snap.systems[s];
    if name != sys.id {
        return Ok(Redirect::permanent(&system_url(&sys.id)).into_response());
    }
    let mut main = String::new();
    let _ = write!(
        main,
        r#"<nav aria-label="Fil d'Ariane" class="breadcrumb"><ol><li><a href="/systemes">Nomenclatures</a></li><li aria-current="page">{id}</li></ol></nav>
<h1>{title}</h1>
<form class="search" role="search" action="/" method="get">
<input type="hidden" name="system" value="{id}">
<harmonie-autocomplete show-path system="{id}" limit="10">
<label for="q">Chercher dans {title}</label>
<input id="q" name="q" type="search" autocomplete="off">
</harmonie-autocomplete>
</form>
<section aria-labelledby="levels-title"><h2 id="levels-title">Niveaux</h2><table class="levels"><thead><tr><th scope="col">Niveau</th><th scope="col">Codes</th></tr></thead><tbody>"#,
        id = esc(&sys.id),
        title = esc(&sys.title),
    );
    for (name, count) in sys.level_counts() {
        let _ = write!(main, "<tr><td>{}</td><td>{count}</td></tr>", esc(&name));
    }
    let _ = write!(
        main,
        r#"</tbody></table>
<p>Exporter : <a href="/v1/systems/{id}/concepts?format=csv">CSV</a> · <a href="/v1/systems/{id}/concepts">JSON</a></p></section>
<section aria-labelledby="tree-title"><h2 id="tree-title">Hiérarchie</h2><ul class="tree">"#,
        id = segment_attr(&sys.id)
    );
    for root in snap.concepts_of(s).filter(|&r| snap.parent(r).is_none()) {
        let c = snap.concept(root);
        let children: Vec<_> = snap.children(root).collect();
        if children.is_empty() {
            let _ = write!(main, "<li>{}</li>", concept_link(&sys.id, &c.code, &c.display));
            continue;
        }
        let href = esc(&concept_url(&sys.id, &c.code));
        let (code, display) = (esc(&c.code), esc(&c.display));
        // The summary only opens and closes; the links are inside.
        let _ = write!(
            main,
            r#"<li><details><summary><span class="code">{code}</span> {display} <span class="meta">({n} subdivisions)</span></summary>
<p><a href="{href}">Fiche de {code}</a></p><ul>"#,
            n = children.len()
        );
        for ch in children {
            let c = snap.concept(ch);
            let _ = write!(main, "<li>{}</li>", concept_link(&sys.id, &c.code, &c.display));
        }
        main.push_str("</ul></details></li>");
    }
    main.push_str(
        "</ul></section>\n<section aria-labelledby=\"src-title\"><h2 id=\"src-title\">Source et licence</h2>",
    );
    source_facts(sys, &mut main);
    main.push_str("</section>\n");
    Ok(frame(&snap, &sys.title, Nav::Systems, &main, &["search.js"]).into_response())
}

/// An id as an attribute inside a URL (escaped, then percent-encoded).
fn segment_attr(s: &str) -> String {
    esc(&super::html::segment(s))
}

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
            let arrow = if m.direction == "to" { "devient" } else { "vient de" };
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

/// `/recodage`: upload a CSV file, download it recoded (through `POST /v1/recode`).
pub async fn recode(State(state): State<AppState>) -> Html<String> {
    let snap = state.snapshot.load();
    let mut main = String::from(
        r#"<h1>Recoder un fichier</h1>
<p class="lead">Déposez un fichier CSV d'anciens codes ou de libellés en texte libre : vous récupérez le même fichier, chaque ligne à sa place, avec le code actuel, la méthode, la confiance et les candidats.</p>
<noscript><p class="error">Cette page a besoin de JavaScript. Sans lui, utilisez <code>harmonie recode</code> ou <code>POST /v1/recode</code>.</p></noscript>
<form id="recode" class="recode">
<div><label for="r-file">Fichier CSV (UTF-8 ou Windows-1252 ; séparateur « ; », « , » ou tabulation)</label>
<input id="r-file" name="file" type="file" accept=".csv,.tsv,.txt,text/csv" required></div>
<div><label for="r-system">Recoder vers</label>
<select id="r-system" name="system">"#,
    );
    for s in &snap.systems {
        let _ = write!(main, r#"<option value="{}">{} ({})</option>"#, esc(&s.id), esc(&s.title), esc(&s.id));
    }
    main.push_str(
        r##"</select></div>
<div><label for="r-code">Colonne du code (facultatif)</label>
<input id="r-code" name="code_col" type="text" autocomplete="off" aria-describedby="r-cols-help"></div>
<div><label for="r-label">Colonne du libellé (facultatif)</label>
<input id="r-label" name="label_col" type="text" autocomplete="off" aria-describedby="r-cols-help"></div>
<p id="r-cols-help" class="help">Nom de la colonne tel qu'il figure sur la première ligne. Donnez au moins l'une des deux ; en cas d'erreur, la liste des colonnes du fichier s'affiche.</p>
<button type="submit">Recoder</button>
</form>
<div id="recode-status" role="status" aria-live="polite"></div>
<div id="recode-error" role="alert" class="error" hidden></div>
<p id="recode-result" hidden><a id="recode-download" href="#" download>Télécharger le fichier recodé</a></p>
<section id="recode-report" hidden aria-labelledby="report-title"><h2 id="report-title">Bilan de transition</h2>
<table><thead><tr><th scope="col">passage</th><th scope="col">lignes</th></tr></thead><tbody id="report-rows"></tbody></table>
<h3>Codes éclatés à revoir</h3><ul id="report-review"></ul></section>
"##,
    );
    frame(&snap, "Recodage", Nav::Recode, &main, &["recode.js"])
}

/// `/composant`: how to embed `<harmonie-autocomplete>`, with a live form
/// that shows what it submits.
pub async fn component(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(received): Query<Vec<(String, String)>>,
) -> Html<String> {
    let snap = state.snapshot.load();
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("harmonie.example");
    let origin = format!("http://{host}");
    let mut main = String::new();
    let _ = write!(
        main,
        r#"<h1>Intégrer le champ de saisie</h1>
<p class="lead">Le composant <code>&lt;harmonie-autocomplete&gt;</code> ajoute à n'importe quel formulaire un champ qui propose les codes pendant la frappe et envoie le code choisi. Il ne dépend d'aucune bibliothèque.</p>
<h2>Exemple à copier</h2>
<pre><code>&lt;script src="{o}/assets/harmonie-autocomplete.js" defer&gt;&lt;/script&gt;

&lt;form action="/enregistrer" method="post"&gt;
  &lt;harmonie-autocomplete system="cim10" name="diagnostic"
      label="Diagnostic (CIM-10)" required&gt;&lt;/harmonie-autocomplete&gt;
  &lt;button&gt;Enregistrer&lt;/button&gt;
&lt;/form&gt;</code></pre>
<p>Depuis un autre site, lancez le serveur avec <code>--cors-origin https://votre-logiciel.example</code>. Les attributs (<code>system</code>, <code>name</code>, <code>label</code>, <code>level</code>, <code>limit</code>, <code>debounce</code>, <code>endpoint</code>, <code>value</code>, <code>required</code>) et les événements sont décrits dans le README.</p>
<h2>Essai</h2>
<form class="demo" action="/composant" method="get">
<harmonie-autocomplete system="cim10" name="diagnostic" label="Diagnostic (CIM-10)" required></harmonie-autocomplete>
<harmonie-autocomplete system="naf" name="activite" label="Activité de l'entreprise (NAF)"></harmonie-autocomplete>
<harmonie-autocomplete system="pcs" name="profession" label="Profession (PCS)"></harmonie-autocomplete>
<button type="submit">Envoyer</button>
</form>
"#,
        o = esc(&origin)
    );
    if !received.is_empty() {
        main.push_str(
            r#"<section aria-labelledby="recu-title" role="status"><h2 id="recu-title">Reçu par le serveur</h2><dl class="facts" id="recu">"#,
        );
        for (k, v) in &received {
            let _ = write!(main, "<dt>{}</dt><dd><code>{}</code></dd>", esc(k), esc(v));
        }
        main.push_str("</dl></section>\n");
    }
    frame(&snap, "Intégrer le champ", Nav::Component, &main, &[])
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
