//! The handlers of the web pages. Each renders one page from the served
//! snapshot with the same functions as the JSON API (`search_response`,
//! `concept_out`) and reads systems from the same snapshot, so a page never
//! says something the API would not.

use std::fmt::Write;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::PageError;
use super::html::{Footer, Nav, concept_link, concept_url, esc, marked, page, system_url};
use crate::api::AppState;
use crate::api::v1::{SearchResult, search_response};
use crate::index::Snapshot;
use crate::search::SearchRequest;

/// Results shown by the search page.
const PAGE_RESULTS: usize = 30;

pub(super) fn frame(snap: &Snapshot, title: &str, nav: Nav, main: &str, scripts: &[&str]) -> Html<String> {
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
            unexplained: false,
        };
        let hits = state.searches.search(&snap, &req).map_err(|e| PageError::internal(format!("{e:#}")))?;
        let response = search_response(&snap, &q, hits.to_vec(), true, 0);
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
pub(super) fn source_facts(s: &crate::model::CodeSystem, out: &mut String) {
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
pub(super) fn segment_attr(s: &str) -> String {
    esc(&super::html::segment(s))
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
