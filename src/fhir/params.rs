//! FHIR `Parameters`: reading the inputs of an operation whether they came
//! as a query string (GET) or as a `Parameters` resource (POST), and
//! writing results.
//!
//! Guarantee: a GET query and the equivalent POST body give the same
//! [`Params`], so every operation is written once.

use serde_json::{Map, Value, json};

/// The inputs of one operation call, in the order given.
#[derive(Clone, Debug, Default)]
pub struct Params {
    items: Vec<Value>,
}

/// The value of a parameter, whatever its `value[x]` type.
fn value_of(p: &Value) -> Option<&Value> {
    p.as_object()?.iter().find(|(k, _)| k.starts_with("value")).map(|(_, v)| v)
}

impl Params {
    /// Parameters from a `Parameters` resource.
    pub fn from_resource(body: &Value) -> Result<Params, String> {
        if body.get("resourceType").and_then(Value::as_str) != Some("Parameters") {
            return Err("the request body must be a FHIR Parameters resource".into());
        }
        let items = body.get("parameter").and_then(Value::as_array).cloned().unwrap_or_default();
        Ok(Params { items })
    }

    /// Parameters from a query string: every value is a string.
    pub fn from_query(pairs: &[(String, String)]) -> Params {
        let items = pairs.iter().map(|(k, v)| json!({"name": k, "valueString": v})).collect();
        Params { items }
    }

    /// Appends a parameter (a `Parameters.parameter` element).
    pub fn push(&mut self, p: Value) {
        self.items.push(p);
    }

    /// Every parameter named `name`.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        self.items.iter().filter(move |p| p.get("name").and_then(Value::as_str) == Some(name))
    }

    /// Whether a parameter `name` was given.
    pub fn has(&self, name: &str) -> bool {
        self.all(name).next().is_some()
    }

    /// The first value of `name` as text (strings, codes, uris, booleans, numbers).
    pub fn str(&self, name: &str) -> Option<String> {
        self.all(name).find_map(|p| value_of(p).and_then(text))
    }

    /// Every value of `name` as text.
    pub fn strs(&self, name: &str) -> Vec<String> {
        self.all(name).filter_map(|p| value_of(p).and_then(text)).collect()
    }

    /// The first value of `name` as a boolean (`true`; anything else is false).
    pub fn bool(&self, name: &str) -> Option<bool> {
        self.str(name).map(|s| s == "true")
    }

    /// The first value of `name` as an integer; an error naming it when it is not one.
    pub fn int(&self, name: &str) -> Result<Option<i64>, String> {
        match self.str(name) {
            None => Ok(None),
            Some(s) => s.parse().map(Some).map_err(|_| format!("parameter {name} must be an integer, not '{s}'")),
        }
    }

    /// The first value of `name` as a JSON object (`valueCoding`, …) or resource.
    pub fn object<'a>(&'a self, name: &'a str) -> Option<&'a Value> {
        self.all(name).find_map(|p| p.get("resource").or_else(|| value_of(p)).filter(|v| v.is_object()))
    }

    /// Every resource given as `name` (e.g. `tx-resource`).
    pub fn resources<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        self.all(name).filter_map(|p| p.get("resource"))
    }

    /// Every parameter, for echoing into an expansion.
    pub fn items(&self) -> &[Value] {
        &self.items
    }
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The FHIR data type of a parameter's value (`value[x]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Type {
    /// `valueBoolean`.
    Boolean,
    /// `valueCanonical`.
    Canonical,
    /// `valueCode`.
    Code,
    /// `valueCodeableConcept`.
    CodeableConcept,
    /// `valueCoding`.
    Coding,
    /// `valueString`.
    String,
    /// `valueUri`.
    Uri,
}

impl Type {
    /// The JSON key of a value of this type: `valueBoolean`, …
    pub fn key(self) -> &'static str {
        match self {
            Type::Boolean => "valueBoolean",
            Type::Canonical => "valueCanonical",
            Type::Code => "valueCode",
            Type::CodeableConcept => "valueCodeableConcept",
            Type::Coding => "valueCoding",
            Type::String => "valueString",
            Type::Uri => "valueUri",
        }
    }
}

/// Builds an output `Parameters` resource.
#[derive(Default)]
pub struct Out {
    items: Vec<Value>,
}

impl Out {
    /// An empty `Parameters`.
    pub fn new() -> Out {
        Out::default()
    }
    /// Adds `name` with a value of type `kind`.
    pub fn add(&mut self, name: &str, kind: Type, value: impl Into<Value>) -> &mut Out {
        self.items.push(part(name, kind, value));
        self
    }
    /// Adds `name` with a resource.
    pub fn resource(&mut self, name: &str, resource: Value) -> &mut Out {
        self.items.push(json!({"name": name, "resource": resource}));
        self
    }
    /// Adds `name` with its parts.
    pub fn part(&mut self, name: &str, parts: Vec<Value>) -> &mut Out {
        self.items.push(json!({"name": name, "part": parts}));
        self
    }
    /// The `Parameters` resource.
    pub fn build(self) -> Value {
        json!({"resourceType": "Parameters", "parameter": self.items})
    }
}

/// One part of a multi-part parameter: `{"name": name, "value[type]": value}`.
pub fn part(name: &str, kind: Type, value: impl Into<Value>) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), name.into());
    m.insert(kind.key().into(), value.into());
    Value::Object(m)
}
