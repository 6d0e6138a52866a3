//! Shared set-up of the integration tests: the real default data, fetched
//! and built once into the project folder (fetch and build take locks, so
//! parallel test processes wait for each other instead of colliding).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};

use harmonie::index::Snapshot;
use harmonie::paths::Paths;
use harmonie::prepare::{Prepare, open_current};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn paths() -> Paths {
    Paths::new(&root())
}

/// The snapshot of the real default sources, fetched and built if needed.
pub fn snapshot() -> Arc<Snapshot> {
    static SNAP: OnceLock<Arc<Snapshot>> = OnceLock::new();
    SNAP.get_or_init(|| {
        Arc::new(open_current(&paths(), Prepare::FetchAndBuild).expect("fetch and build the default data"))
    })
    .clone()
}

/// A fresh project folder with the repository's sources and curated files
/// and copies of the already fetched upstream files (no network needed).
pub fn scratch_project() -> tempfile::TempDir {
    snapshot();
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&root().join("data/sources.toml"), &dir.path().join("data/sources.toml"));
    copy_tree(&root().join("data/curated"), &dir.path().join("data/curated"));
    copy_tree(&root().join("data/official"), &dir.path().join("data/official"));
    copy_tree(&root().join("data/upstream"), &dir.path().join("data/upstream"));
    dir
}

fn copy_tree(from: &Path, to: &Path) {
    if from.is_dir() {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            let name = e.file_name();
            if name.to_string_lossy().starts_with('.') {
                continue;
            }
            copy_tree(&e.path(), &to.join(name));
        }
    } else {
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(from, to).unwrap();
    }
}

/// A server on the default snapshot, on an ephemeral loopback port.
pub fn serve() -> std::net::SocketAddr {
    serve_with(|_| {})
}

/// A server on the default snapshot with its settings changed by `adjust`.
pub fn serve_with(adjust: impl FnOnce(&mut harmonie::api::ServerConfig)) -> std::net::SocketAddr {
    serve_snapshot(snapshot(), adjust)
}

/// A server on `snap` with its settings changed by `adjust`.
pub fn serve_snapshot(
    snap: Arc<Snapshot>,
    adjust: impl FnOnce(&mut harmonie::api::ServerConfig),
) -> std::net::SocketAddr {
    let mut config = harmonie::api::ServerConfig::new(paths());
    adjust(&mut config);
    serve_routes(snap, config, axum::Router::new())
}

/// A server on `snap` with `config` and `extra` routes beside the API's.
pub fn serve_routes(
    snap: Arc<Snapshot>,
    config: harmonie::api::ServerConfig,
    extra: axum::Router<harmonie::api::AppState>,
) -> std::net::SocketAddr {
    serve_until(snap, config, extra, std::future::pending()).0
}

/// [`serve_routes`] until `shutdown` completes; the handle ends when the
/// server has drained its requests and stopped.
pub fn serve_until(
    snap: Arc<Snapshot>,
    config: harmonie::api::ServerConfig,
    extra: axum::Router<harmonie::api::AppState>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> (std::net::SocketAddr, std::thread::JoinHandle<()>) {
    let (tx, rx) = std::sync::mpsc::channel();
    let handle = std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            let state = harmonie::api::AppState::shared(snap, config);
            let routes = harmonie::api::routes(&state.config).merge(extra);
            let config = state.config.clone();
            let app = harmonie::api::app(state, routes);
            harmonie::api::serve_app(listener, app, &config, shutdown).await.unwrap();
        });
    });
    (rx.recv().unwrap(), handle)
}

/// Runs `cmd` and returns its stdout and stderr; panics with both, saying
/// `what` failed, when it does not succeed.
pub fn run(cmd: &mut Command, what: &str) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: cannot start {:?}: {e}", cmd.get_program()));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{what} failed:\n{text}");
    text
}

/// Installs the npm packages of the `package.json` at `manifest` (pinned
/// versions, no lockfile) into `dir`, again only when the manifest changes.
pub fn npm_install(manifest: &Path, dir: &Path) -> PathBuf {
    let wanted = std::fs::read_to_string(manifest).unwrap();
    let marker = dir.join(".installed");
    if std::fs::read_to_string(&marker).ok().as_deref() != Some(wanted.as_str()) {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join("package.json"), &wanted).unwrap();
        run(
            Command::new("npm")
                .args(["install", "--no-package-lock", "--no-audit", "--no-fund", "--silent"])
                .current_dir(dir),
            &format!("npm install of {} (install Node.js with npm)", manifest.display()),
        );
        std::fs::write(&marker, wanted).unwrap();
    }
    dir.to_path_buf()
}

/// Runs the `harmonie` binary on the project at `root`.
pub fn harmonie(root: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_harmonie")).arg("--root").arg(root).args(args).output().unwrap()
}

/// The header and records of CSV text with `delimiter` (records of any width).
pub fn csv_records(text: &[u8], delimiter: u8) -> (Vec<String>, Vec<Vec<String>>) {
    let mut rdr = csv::ReaderBuilder::new().delimiter(delimiter).flexible(true).from_reader(text);
    let header = rdr.headers().unwrap().iter().map(str::to_string).collect();
    let rows = rdr.records().map(|r| r.unwrap().iter().map(str::to_string).collect()).collect();
    (header, rows)
}
