//! Prometheus metrics: requests by route, method and status; latency
//! histograms by route; the served snapshot; reloads.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;
use std::sync::Mutex;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.0];

#[derive(Default)]
struct Histogram {
    buckets: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

#[derive(Default)]
struct RouteStats {
    /// Requests by (method, status).
    requests: BTreeMap<(String, u16), u64>,
    latency: Histogram,
}

#[derive(Default)]
struct Inner {
    routes: HashMap<String, RouteStats>,
    reloads: BTreeMap<&'static str, u64>,
}

/// Counters of a running server.
#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

impl Metrics {
    pub(super) fn observe(&self, route: &str, method: &str, status: u16, seconds: f64) {
        let mut m = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        // Look up without allocating: routes and methods are few.
        if !m.routes.contains_key(route) {
            m.routes.insert(route.to_string(), RouteStats::default());
        }
        let stats = m.routes.get_mut(route).expect("inserted above");
        match stats.requests.iter_mut().find(|((m, s), _)| m == method && *s == status) {
            Some((_, n)) => *n += 1,
            None => {
                stats.requests.insert((method.to_string(), status), 1);
            }
        }
        let h = &mut stats.latency;
        for (i, le) in BUCKETS.iter().enumerate() {
            if seconds <= *le {
                h.buckets[i] += 1;
            }
        }
        h.sum += seconds;
        h.count += 1;
    }

    /// Counts a reload, `ok` or `failed`.
    pub fn reload(&self, result: &'static str) {
        let mut m = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        *m.reloads.entry(result).or_default() += 1;
    }

    /// The Prometheus text exposition.
    pub fn render(&self, snapshot: &str, concepts: usize) -> String {
        let m = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = String::new();
        out.push_str("# HELP harmonie_requests_total HTTP requests by route, method and status.\n");
        out.push_str("# TYPE harmonie_requests_total counter\n");
        let routes: BTreeMap<&String, &RouteStats> = m.routes.iter().collect();
        for (route, stats) in &routes {
            for ((method, status), n) in &stats.requests {
                let _ = writeln!(
                    out,
                    "harmonie_requests_total{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}} {n}"
                );
            }
        }
        out.push_str("# HELP harmonie_request_duration_seconds Time to answer a request, by route.\n");
        out.push_str("# TYPE harmonie_request_duration_seconds histogram\n");
        for (route, stats) in &routes {
            let h = &stats.latency;
            for (i, le) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "harmonie_request_duration_seconds_bucket{{route=\"{route}\",le=\"{le}\"}} {}",
                    h.buckets[i]
                );
            }
            let _ =
                writeln!(out, "harmonie_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}", h.count);
            let _ = writeln!(out, "harmonie_request_duration_seconds_sum{{route=\"{route}\"}} {}", h.sum);
            let _ = writeln!(out, "harmonie_request_duration_seconds_count{{route=\"{route}\"}} {}", h.count);
        }
        out.push_str("# HELP harmonie_snapshot_info The snapshot being served.\n# TYPE harmonie_snapshot_info gauge\n");
        let _ = writeln!(out, "harmonie_snapshot_info{{snapshot=\"{snapshot}\"}} 1");
        out.push_str("# HELP harmonie_snapshot_concepts Concepts in the served snapshot.\n# TYPE harmonie_snapshot_concepts gauge\n");
        let _ = writeln!(out, "harmonie_snapshot_concepts {concepts}");
        out.push_str(
            "# HELP harmonie_reloads_total Snapshot reloads by result.\n# TYPE harmonie_reloads_total counter\n",
        );
        for result in ["ok", "failed"] {
            let _ = writeln!(
                out,
                "harmonie_reloads_total{{result=\"{result}\"}} {}",
                m.reloads.get(result).copied().unwrap_or(0)
            );
        }
        out
    }
}

/// The label of a request method: clients may send any method name, only
/// the standard ones become labels.
pub fn method_label(method: &axum::http::Method) -> &'static str {
    match method.as_str() {
        "GET" => "GET",
        "POST" => "POST",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "PATCH" => "PATCH",
        _ => "other",
    }
}
