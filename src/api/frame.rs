//! What every request goes through, in one layer: the limit of its body,
//! its deadline, panics caught, its metrics, errors in the caller's format
//! ([`super::error::in_callers_format`]) and the security headers.
//!
//! One hand-written tower service rather than `from_fn` middlewares and
//! a layer for each concern: a `from_fn` layer clones the whole service
//! stack beneath it on every request, each layer of a `Router` wraps every
//! route in a boxed service that is cloned on every request, and a
//! deadline is a timer registered and removed in the runtime's timer
//! wheel. Together they cost more than the search they wrap (the
//! autocomplete mix of `scripts/perf.sh` ran 7,800 requests/s through
//! them, 31,000 without them; the body limit, panic and gzip layers, each
//! on every route, were a third of the time of a kept search answer
//! through the router).
//!
//! Guarantees:
//! * every request carries the body limit of [`FrameLayer::new`] (the
//!   extractors answer 413 above it);
//! * a panic in a handler is logged and answered 500, and the server goes
//!   on ([`error::panic_response`]);
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
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::FutureExt;
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
    body_limit: DefaultBodyLimit,
}

impl FrameLayer {
    /// Records into `metrics`; answers 408 after `deadline`; bodies of
    /// more than `max_body_bytes` are refused.
    pub fn new(metrics: Arc<Metrics>, deadline: Duration, max_body_bytes: usize) -> FrameLayer {
        FrameLayer { metrics, deadline, body_limit: DefaultBodyLimit::max(max_body_bytes) }
    }
}

impl<S> Layer<S> for FrameLayer {
    type Service = Frame<S>;

    fn layer(&self, inner: S) -> Frame<S> {
        Frame { inner, metrics: self.metrics.clone(), deadline: self.deadline, body_limit: self.body_limit }
    }
}

/// Wraps a service: sets the body limit, catches panics, counts each
/// request by route, method and status with its time, rewrites the errors
/// not yet in the caller's format, and adds the security headers to every
/// answer.
#[derive(Clone)]
pub struct Frame<S> {
    inner: S,
    metrics: Arc<Metrics>,
    deadline: Duration,
    body_limit: DefaultBodyLimit,
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

    fn call(&mut self, mut req: Request) -> Self::Future {
        let started = Instant::now();
        let route = req.extensions().get::<MatchedPath>().cloned();
        let method = metrics::method_label(req.method());
        let who = error::audience(&req);
        let bounded = req.method() == Method::GET
            && route
                .as_ref()
                .is_some_and(|r| BOUNDED.contains(&r.as_str()) || crate::fhir::operations::light_on_get(r.as_str()));
        let deadline = (!bounded).then_some(self.deadline);
        self.body_limit.apply(&mut req);
        // A handler may panic while its future is made or while it runs.
        let answer = std::panic::catch_unwind(AssertUnwindSafe(|| self.inner.call(req)));
        let metrics = self.metrics.clone();
        Box::pin(async move {
            let answered = match answer {
                Err(panic) => Err(panic),
                Ok(answer) => {
                    let answer = AssertUnwindSafe(answer).catch_unwind();
                    match deadline {
                        None => answer.await,
                        Some(d) => tokio::time::timeout(d, answer)
                            .await
                            .unwrap_or_else(|_| Ok(Ok(StatusCode::REQUEST_TIMEOUT.into_response()))),
                    }
                }
            };
            let resp = match answered {
                Ok(Ok(resp)) => resp,
                Err(panic) => error::panic_response(panic),
            };
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

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    /// A service that panics when called, or in its future.
    #[derive(Clone)]
    struct Panics {
        in_call: bool,
    }

    impl Service<Request> for Panics {
        type Response = Response;
        type Error = Infallible;
        type Future = BoxFuture<'static, Result<Response, Infallible>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, _: Request) -> Self::Future {
            assert!(!self.in_call, "deliberate test panic, in call");
            Box::pin(async { panic!("deliberate test panic, in the future") })
        }
    }

    #[tokio::test]
    async fn a_panic_when_called_or_while_running_is_answered_500_and_counted() {
        let metrics = Arc::new(Metrics::default());
        for in_call in [true, false] {
            let frame = FrameLayer::new(metrics.clone(), Duration::from_secs(1), 1024).layer(Panics { in_call });
            let resp = frame.oneshot(Request::get("/x").body(Body::empty()).unwrap()).await.unwrap();
            assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
            assert_eq!(resp.headers()[header::CONTENT_TYPE], "application/problem+json");
            assert_eq!(resp.headers()[header::X_FRAME_OPTIONS], "DENY");
            let body = resp.into_body().collect().await.unwrap().to_bytes();
            assert!(String::from_utf8_lossy(&body).contains("internal error"));
        }
        let text = metrics.render("s", 0);
        assert!(text.contains("route=\"unmatched\",method=\"GET\",status=\"500\"} 2"), "{text}");
    }
}
