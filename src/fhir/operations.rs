//! The one table of the operations served: it drives the routes, the
//! dispatch of batch entries and the `CapabilityStatement`, so that what is
//! advertised is what is served.

use serde_json::{Value, json};

use super::call::{Call, Request, query_pairs};
use super::outcome::FhirError;
use super::params::{Out, Type};
use super::{batch, expand, lookup, subsumes, translate, validate_code};

/// Where an operation may run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cost {
    /// A GET is the work of a lookup: it may run on the async worker.
    LightOnGet,
    /// A GET asking for a filtered page (`filter`, `count` ≤ 100) is the
    /// work of a search: it may run on the async worker.
    LightOnFilteredPage,
    /// Always on a blocking thread.
    Heavy,
}

/// One operation: where it is, what defines it, how it runs.
pub struct Operation {
    /// The resource type it is called on; `None` for a system-level operation.
    pub resource: Option<&'static str>,
    /// Its name, without `$`.
    pub name: &'static str,
    /// Other names it answers to (kept for clients of earlier releases).
    pub aliases: &'static [&'static str],
    /// Canonical URL of its `OperationDefinition`: HL7's for the core
    /// operations, the project's own for batch validation (not a core one).
    pub definition: &'static str,
    /// Where it may run.
    pub cost: Cost,
    /// What it does with a request made ready.
    pub run: fn(&Call) -> Result<Value, FhirError>,
}

/// Every operation served.
pub static OPERATIONS: &[Operation] = &[
    Operation {
        resource: Some("CodeSystem"),
        name: "lookup",
        aliases: &[],
        definition: "http://hl7.org/fhir/OperationDefinition/CodeSystem-lookup",
        cost: Cost::LightOnGet,
        run: |c| lookup::lookup(&c.reg, &c.params, &c.langs),
    },
    Operation {
        resource: Some("CodeSystem"),
        name: "validate-code",
        aliases: &[],
        definition: "http://hl7.org/fhir/OperationDefinition/CodeSystem-validate-code",
        cost: Cost::LightOnGet,
        run: |c| validate_code::validate_code(&c.reg, &c.params, &c.langs, false),
    },
    Operation {
        resource: Some("CodeSystem"),
        name: "subsumes",
        aliases: &[],
        definition: "http://hl7.org/fhir/OperationDefinition/CodeSystem-subsumes",
        cost: Cost::LightOnGet,
        run: |c| subsumes::subsumes(&c.reg, &c.params),
    },
    Operation {
        resource: Some("ValueSet"),
        name: "expand",
        aliases: &[],
        definition: "http://hl7.org/fhir/OperationDefinition/ValueSet-expand",
        cost: Cost::LightOnFilteredPage,
        run: |c| expand::expand(&c.reg, &c.params, &c.langs),
    },
    Operation {
        resource: Some("ValueSet"),
        name: "validate-code",
        aliases: &[],
        definition: "http://hl7.org/fhir/OperationDefinition/ValueSet-validate-code",
        cost: Cost::Heavy,
        run: |c| validate_code::validate_code(&c.reg, &c.params, &c.langs, true),
    },
    Operation {
        resource: Some("ValueSet"),
        name: "batch-validate-code",
        aliases: &["batch-validate"],
        definition: "urn:harmonie:fhir:OperationDefinition:ValueSet-batch-validate-code",
        cost: Cost::Heavy,
        run: batch::validate_codes,
    },
    Operation {
        resource: Some("ConceptMap"),
        name: "translate",
        aliases: &[],
        definition: "http://hl7.org/fhir/OperationDefinition/ConceptMap-translate",
        cost: Cost::LightOnGet,
        run: |c| translate::translate(&c.reg, &c.params),
    },
    Operation {
        resource: None,
        name: "versions",
        aliases: &[],
        definition: "http://hl7.org/fhir/OperationDefinition/CapabilityStatement-versions",
        cost: Cost::LightOnGet,
        run: |_| Ok(versions()),
    },
];

/// Whether a GET to `route` (a matched path, `/fhir/CodeSystem/$lookup`)
/// runs an operation light on GET: the work of a lookup, bounded by its
/// parameters.
pub fn light_on_get(route: &str) -> bool {
    static ROUTES: std::sync::LazyLock<Vec<String>> = std::sync::LazyLock::new(|| {
        OPERATIONS
            .iter()
            .filter(|op| op.cost == Cost::LightOnGet)
            .flat_map(|op| op.paths())
            .map(|p| format!("/fhir/{p}"))
            .collect()
    });
    ROUTES.iter().any(|r| r == route)
}

impl Operation {
    /// Its paths under `/fhir/` (`CodeSystem/$lookup`, then its aliases).
    pub fn paths(&self) -> impl Iterator<Item = String> + '_ {
        std::iter::once(self.name).chain(self.aliases.iter().copied()).map(|n| match self.resource {
            Some(r) => format!("{r}/${n}"),
            None => format!("${n}"),
        })
    }

    /// Whether `req` may run on the async worker (see [`Cost`]).
    pub fn is_light(&self, req: &Request) -> bool {
        let get = req.method == axum::http::Method::GET;
        match self.cost {
            Cost::LightOnGet => get,
            Cost::LightOnFilteredPage => get && filtered_page(req.query.as_deref()),
            Cost::Heavy => false,
        }
    }

    /// Its entry in a `CapabilityStatement`.
    pub fn capability(&self) -> Value {
        json!({"name": self.name, "definition": self.definition})
    }
}

/// The operation at `path` (`ValueSet/$validate-code`, with or without a
/// leading `/` or `fhir/`).
pub fn find(path: &str) -> Option<&'static Operation> {
    let path = path.trim_start_matches('/').trim_start_matches("fhir/");
    OPERATIONS.iter().find(|op| op.paths().any(|p| p == path))
}

/// The operations called on `resource` (`None`: system-level), in
/// `CapabilityStatement` form.
pub fn capabilities(resource: Option<&str>) -> Vec<Value> {
    OPERATIONS.iter().filter(|op| op.resource == resource).map(Operation::capability).collect()
}

/// Whether a query string asks for a filtered page (`filter` and `count` ≤ 100).
fn filtered_page(query: Option<&str>) -> bool {
    let pairs = query_pairs(query);
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    get("filter").is_some_and(|f| !f.trim().is_empty())
        && get("count").and_then(|c| c.parse::<u32>().ok()).is_some_and(|c| c <= 100)
}

/// `$versions`: the FHIR versions served, and the default.
fn versions() -> Value {
    let mut out = Out::new();
    out.add("version", Type::Code, "4.0");
    out.add("default", Type::Code, "4.0");
    out.build()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CORE: &str = "http://hl7.org/fhir/OperationDefinition/";

    #[test]
    fn the_operations_light_on_get_are_told_by_their_route() {
        for light in ["/fhir/CodeSystem/$lookup", "/fhir/CodeSystem/$validate-code", "/fhir/ConceptMap/$translate"] {
            assert!(light_on_get(light), "{light}");
        }
        for other in [
            "/fhir/ValueSet/$expand",
            "/fhir/ValueSet/$validate-code",
            "/fhir/ValueSet/$batch-validate",
            "/fhir/CodeSystem/{id}",
            "/v1/search",
            "/fhir/CodeSystem/$lookup/x",
        ] {
            assert!(!light_on_get(other), "{other}");
        }
    }

    #[test]
    fn every_operation_has_one_path_per_name_and_a_definition() {
        let mut seen = std::collections::BTreeSet::new();
        for op in OPERATIONS {
            for p in op.paths() {
                assert!(seen.insert(p.clone()), "{p} is in the table twice");
                assert_eq!(find(&format!("/fhir/{p}")).map(|o| o.definition), Some(op.definition));
            }
            assert!(op.definition.starts_with(CORE) || op.definition.starts_with("urn:harmonie:"), "{}", op.definition);
        }
        assert!(find("CodeSystem/$nothing").is_none());
    }

    #[test]
    fn a_filtered_page_of_at_most_100_is_light() {
        assert!(filtered_page(Some("url=x&filter=asthme&count=20")));
        assert!(!filtered_page(Some("url=x&filter=asthme&count=1000")));
        assert!(!filtered_page(Some("url=x&filter=%20&count=20")));
        assert!(!filtered_page(Some("url=x&count=20")));
    }
}
