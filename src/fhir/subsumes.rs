//! `CodeSystem/$subsumes`: whether one code of a system subsumes another.

use serde_json::Value;

use super::call::resolve_system;
use super::messages::MessageId;
use super::outcome::FhirError;
use super::params::{Out, Params, Type};
use super::registry::Registry;

/// `CodeSystem/$subsumes`.
pub fn subsumes(reg: &Registry, params: &Params) -> Result<Value, FhirError> {
    let (a, b, system, version) = match (params.object("codingA"), params.object("codingB")) {
        (Some(a), Some(b)) => (
            a["code"].as_str().map(str::to_string),
            b["code"].as_str().map(str::to_string),
            a["system"].as_str().map(str::to_string).or(params.str("system")),
            a["version"].as_str().map(str::to_string).or(params.str("version")),
        ),
        _ => (params.str("codeA"), params.str("codeB"), params.str("system"), params.str("version")),
    };
    let (Some(a), Some(b), Some(system)) = (a, b, system) else {
        return Err(FhirError::invalid("$subsumes needs system, codeA and codeB (or codingA and codingB)"));
    };
    let cs = resolve_system(reg, &system, version.as_deref())?;
    let find = |code: &str| {
        cs.find(code).ok_or_else(|| {
            FhirError::not_found(format!("Unknown code '{code}' in the CodeSystem '{system}'"))
                .with_tx("invalid-code")
                .with_id(MessageId::UnknownCodeInVersion)
        })
    };
    let (ia, ib) = (find(&a)?, find(&b)?);
    let outcome = if ia == ib {
        "equivalent"
    } else if cs.subsumes(ia, ib) {
        "subsumes"
    } else if cs.subsumes(ib, ia) {
        "subsumed-by"
    } else {
        "not-subsumed"
    };
    let mut out = Out::new();
    out.add("outcome", Type::Code, outcome);
    Ok(out.build())
}
