//! The web pages, in French, and the embeddable `<harmonie-autocomplete>`
//! component, served by the same binary as the API.
//!
//! | route | page |
//! |---|---|
//! | `/` | search across all systems, as you type, with filters by system and level |
//! | `/systemes` | the systems served |
//! | `/systemes/{system}` | one system: source, licence, levels, hierarchy |
//! | `/systemes/{system}/{code}` | one concept (any spelling redirects to the canonical address) |
//! | `/recodage` | upload a CSV file, download it recoded |
//! | `/composant` | how to embed the component, with a live form |
//! | `/assets/{file}` | the scripts and the style sheet, embedded in the binary |
//!
//! Guarantees: pages are rendered on the server from the same functions as
//! the JSON API and work without JavaScript, except the recode page; every
//! data value is escaped ([`html::esc`]); assets are compiled into the
//! binary, so there is no build step and nothing to deploy beside it. The
//! component script is served with `Access-Control-Allow-Origin: *` so that
//! other sites can load it; its calls to the API follow `--cors-origin`.

mod concept;
mod html;
mod pages;

use std::sync::OnceLock;

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};

use super::AppState;

/// Every page and asset route.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(pages::search))
        .route("/systemes", get(pages::systems))
        .route("/systemes/{system}", get(pages::system))
        .route("/systemes/{system}/{code}", get(concept::concept))
        .route("/recodage", get(pages::recode))
        .route("/composant", get(pages::component))
        .route("/assets/{file}", get(asset))
}

/// The embedded assets: name, media type, content.
const ASSETS: &[(&str, &str, &str)] = &[
    ("harmonie-autocomplete.js", "text/javascript; charset=utf-8", include_str!("assets/harmonie-autocomplete.js")),
    ("search.js", "text/javascript; charset=utf-8", include_str!("assets/search.js")),
    ("recode.js", "text/javascript; charset=utf-8", include_str!("assets/recode.js")),
    ("harmonie.css", "text/css; charset=utf-8", include_str!("assets/harmonie.css")),
];

/// ETags of the assets, from their content.
fn etags() -> &'static Vec<String> {
    static TAGS: OnceLock<Vec<String>> = OnceLock::new();
    TAGS.get_or_init(|| {
        ASSETS
            .iter()
            .map(|(_, _, body)| {
                let digest = Sha256::digest(body.as_bytes());
                format!("\"{}\"", digest[..8].iter().map(|b| format!("{b:02x}")).collect::<String>())
            })
            .collect()
    })
}

/// One embedded asset; `304` when the client has it already.
async fn asset(Path(file): Path<String>, headers: HeaderMap) -> Response {
    let Some(i) = ASSETS.iter().position(|(name, _, _)| *name == file) else {
        return PageError::new(
            StatusCode::NOT_FOUND,
            "Fichier inconnu",
            format!(
                "/assets/{file} n'existe pas. Fichiers : {}.",
                ASSETS.iter().map(|a| a.0).collect::<Vec<_>>().join(", ")
            ),
        )
        .into_response();
    };
    let (_, mime, body) = ASSETS[i];
    let etag = &etags()[i];
    let fresh = headers.get(header::IF_NONE_MATCH).is_some_and(|v| v.as_bytes() == etag.as_bytes());
    let mut resp = if fresh { StatusCode::NOT_MODIFIED.into_response() } else { body.into_response() };
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300, must-revalidate"));
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    resp
}

/// An error page for what a layer or the API answered to a browser: the
/// status, a French title for it, and the detail.
pub fn error_page(status: StatusCode, detail: &str) -> Response {
    let title = match status {
        StatusCode::NOT_FOUND => "Page introuvable",
        StatusCode::METHOD_NOT_ALLOWED => "Méthode non permise",
        StatusCode::REQUEST_TIMEOUT => "Délai dépassé",
        StatusCode::PAYLOAD_TOO_LARGE => "Envoi trop volumineux",
        StatusCode::SERVICE_UNAVAILABLE => "Serveur occupé",
        s if s.is_server_error() => "Erreur interne",
        _ => "Requête invalide",
    };
    let mut resp = PageError::new(status, title, detail.to_string()).into_response();
    *resp.status_mut() = status;
    resp
}

/// The page of an unknown address.
pub fn not_found_page() -> Response {
    PageError::new(
        StatusCode::NOT_FOUND,
        "Page introuvable",
        "Cette adresse ne correspond à aucune page. Cherchez un code depuis l'accueil, ou parcourez les nomenclatures.",
    )
    .into_response()
}

/// An error shown as an HTML page (the pages' counterpart of `ApiError`).
#[derive(Debug)]
pub struct PageError {
    status: StatusCode,
    title: &'static str,
    detail: String,
    /// Pages worth trying instead: (href, text).
    links: Vec<(String, String)>,
}

impl From<crate::index::UnknownSystem> for PageError {
    fn from(e: crate::index::UnknownSystem) -> PageError {
        PageError::new(
            StatusCode::NOT_FOUND,
            "Nomenclature inconnue",
            format!("Aucune nomenclature ne s'appelle « {} ». Nomenclatures servies : {}.", e.name, e.known),
        )
    }
}

impl PageError {
    fn new(status: StatusCode, title: &'static str, detail: impl Into<String>) -> PageError {
        PageError { status, title, detail: detail.into(), links: Vec::new() }
    }

    fn bad_request(detail: impl Into<String>) -> PageError {
        PageError::new(StatusCode::BAD_REQUEST, "Adresse invalide", detail)
    }

    fn internal(detail: impl Into<String>) -> PageError {
        tracing::error!(detail = %detail.into(), "page failed");
        PageError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Erreur interne",
            "La page n'a pas pu être construite ; l'erreur est enregistrée dans le journal du serveur.",
        )
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let mut main = format!("<h1>{}</h1>\n<p>{}</p>\n", html::esc(self.title), html::esc(&self.detail));
        if !self.links.is_empty() {
            main.push_str("<p>Codes proches :</p><ul>");
            for (href, text) in &self.links {
                main.push_str(&format!(r#"<li><a href="{}">{}</a></li>"#, html::esc(href), html::esc(text)));
            }
            main.push_str("</ul>");
        }
        main.push_str(r#"<p><a href="/">Retour à la recherche</a></p>"#);
        let body = html::page(self.title, html::Nav::None, &main, &[], None);
        (self.status, Html(body)).into_response()
    }
}
