//! What every answer goes through, in one layer: the request deadline, its
//! metrics, errors in the caller's format
//! ([`super::error::in_callers_format`]) and the security headers.
//!
//! One hand-written tower service rather than three `from_fn` middlewares
//! and a timeout layer: a `from_fn` layer clones the whole service stack
//! beneath it on every request, and a deadline is a timer registered and
//! removed in the runtime's timer wheel; together they cost more than the
//! search they wrap (the autocomplete mix of `scripts/perf.sh` ran 7,800
//! requests/s through them, 31,000 without them).
//!
//! Guarantees:
//! * every answer carries the security headers and is counted once;
//! * a request of any route but [`BOUNDED`] and the FHIR operations light
//!   on GET is answered 408 once it has run for the deadline (reading its
//!   body included);
//! * GET requests to the routes of [`BOUNDED`] (searches and lookups,
//!   health) and to the FHIR operations light on GET (`$lookup`,
//!   `$validate-code` of a code system…, see
//!   [`crate::fhir::operations::light_on_get`]) do work bounded by their
//!   own limits (query length, candidates graded, no body), inline, and
//!   carry no deadline.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::future::BoxFuture;
use tower::{Layer, Service};

use super::error;
use super::metrics::{self, Metrics};

/// The routes answered inline, in time bounded by their own limits: GET
/// requests to these carry no deadline.
pub const BOUNDED: &[&str] = &["/v1/search", "/v1/systems/{system}/concepts/{code}", "/healthz", "/readyz"];

/// The layer of [`Frame`].
#[derive(Clone)]
pub struct FrameLayer {
    metrics: Arc<Metrics>,
    deadline: Duration,
}

impl FrameLayer {
    /// Records into `metrics`; answers 408 after `deadline`.
    pub fn new(metrics: Arc<Metrics>, deadline: Duration) -> FrameLayer {
        FrameLayer { metrics, deadline }
    }
}

impl<S> Layer<S> for FrameLayer {
    type Service = Frame<S>;

    fn layer(&self, inner: S) -> Frame<S> {
        Frame { inner, metrics: self.metrics.clone(), deadline: self.deadline }
    }
}

/// Wraps a service: counts each request by route, method and status with
/// its time, rewrites the errors not yet in the caller's format, and adds
/// the security headers to every answer.
#[derive(Clone)]
pub struct Frame<S> {
    inner: S,
    metrics: Arc<Metrics>,
    deadline: Duration,
}

impl<S> Service<Request> for Frame<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let started = Instant::now();
        let route = req.extensions().get::<MatchedPath>().cloned();
        let method = metrics::method_label(req.method());
        let who = error::audience(&req);
        let bounded = req.method() == Method::GET
            && route
                .as_ref()
                .is_some_and(|r| BOUNDED.contains(&r.as_str()) || crate::fhir::operations::light_on_get(r.as_str()));
        let deadline = (!bounded).then_some(self.deadline);
        let answer = self.inner.call(req);
        let metrics = self.metrics.clone();
        Box::pin(async move {
            let resp = match deadline {
                None => answer.await,
                Some(d) => tokio::time::timeout(d, answer)
                    .await
                    .unwrap_or_else(|_| Ok(StatusCode::REQUEST_TIMEOUT.into_response())),
            };
            let Ok(resp) = resp;
            let mut resp = error::in_callers_format(who, resp).await;
            let route = route.as_ref().map_or("unmatched", |p| p.as_str());
            metrics.observe(route, method, resp.status().as_u16(), started.elapsed().as_secs_f64());
            security_headers(&mut resp);
            Ok(resp)
        })
    }
}

/// Headers every answer carries: no MIME sniffing, no framing by other
/// sites, no referrer sent away, and a content security policy that allows
/// the pages' own scripts (and the component's own style element).
fn security_headers(resp: &mut Response) {
    let h = resp.headers_mut();
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        ),
    );
}
