//! `CodeSystem/$validate-code` and `ValueSet/$validate-code`: whether a
//! code, coding or codeable concept is valid in a system or a value set,
//! with the issues found (unknown system or version, wrong display, inactive
//! code, not in the value set).

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::Value;

use super::call::{options, requested_value_set, required_supplements};
use super::cs::CodeSystem;
use super::language::{Languages, display_in, lang_matches};
use super::messages::MessageId;
use super::outcome::{FhirError, Issue, Severity, outcome};
use super::params::{Out, Params, Type};
use super::registry::version_matches;
use super::registry::{Missing, Registry};
use super::valueset::{Expander, Member, Options, STANDARDS_STATUS, expansion_parameter, version_for, vs_canonical};

/// One coding to validate, with the FHIRPath of where it came from.
struct Coding {
    system: Option<String>,
    version: Option<String>,
    code: Option<String>,
    display: Option<String>,
    /// `""` for bare `code`/`system` parameters, `Coding`, or `CodeableConcept.coding[i]`.
    path: String,
}

impl Coding {
    fn at(&self, field: &str) -> String {
        if self.path.is_empty() { field.to_string() } else { format!("{}.{field}", self.path) }
    }
    fn base(&self) -> String {
        if self.path.is_empty() { "code".to_string() } else { self.path.clone() }
    }
    fn from_json(v: &Value, path: String) -> Coding {
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        Coding { system: s("system"), version: s("version"), code: s("code"), display: s("display"), path }
    }
}

/// What validating one coding found.
#[derive(Default)]
struct Finding {
    issues: Vec<Issue>,
    /// Valid in the system (and the value set, if any), display aside.
    valid: bool,
    display: Option<String>,
    system: Option<String>,
    version: Option<String>,
    code: Option<String>,
    inactive: bool,
    unknown_system: Option<String>,
    /// Whether `unknown_system` is the system itself (not one of its versions).
    system_unknown: bool,
    /// The value set's include names a version of the system that does not
    /// exist: a codeable concept then reports no code or system of it.
    include_unknown: bool,
    /// The code as its system writes it, when the coding's differs by case.
    normalized: Option<String>,
    /// The status of an inactive or deprecated code, as its system gives it.
    status: Option<String>,
}

/// `CodeSystem/$validate-code` (`vs_mode` false) and `ValueSet/$validate-code`.
pub fn validate_code(reg: &Registry, params: &Params, langs: &Languages, vs_mode: bool) -> Result<Value, FhirError> {
    let rules = Rules {
        lenient: params.bool("lenient-display-validation").unwrap_or(false),
        abstract_ok: params.bool("abstract").unwrap_or(true),
    };
    let mut opts = options(params);
    let vs = if vs_mode { Some(requested_value_set(reg, params)?) } else { None };
    opts.supplements.extend(vs.iter().flat_map(required_supplements));
    // A display language the value set sets applies when the request names none.
    let vs_langs =
        vs.as_ref().filter(|_| langs.raw.is_none()).and_then(|vs| expansion_parameter(vs, "displayLanguage"));
    let vs_langs = vs_langs.map(|l| Languages::new(Some(l), None));
    let langs = vs_langs.as_ref().unwrap_or(langs);
    let mut codings: Vec<Coding> = Vec::new();
    let mut concept_echo: Option<Value> = None;
    if let Some(cc) = params.object("codeableConcept") {
        concept_echo = Some(cc.clone());
        for (i, c) in cc.get("coding").and_then(Value::as_array).into_iter().flatten().enumerate() {
            codings.push(Coding::from_json(c, format!("CodeableConcept.coding[{i}]")));
        }
    } else if let Some(c) = params.object("coding") {
        codings.push(Coding::from_json(c, "Coding".into()));
    } else {
        let system = params.str("system").or_else(|| if vs_mode { None } else { params.str("url") });
        codings.push(Coding {
            system,
            version: params.str("systemVersion").or_else(|| params.str("version").filter(|_| !vs_mode)),
            code: params.str("code"),
            display: params.str("display"),
            path: String::new(),
        });
    }
    if codings.is_empty() || codings.iter().all(|c| c.code.is_none()) {
        return Err(FhirError::invalid(
            "Unable to find code to validate (looked for coding | codeableConcept | code+system | code+inferSystem in parameters",
        ));
    }

    // The members of the value set, once.
    let mut includes: Vec<(String, Option<String>)> = Vec::new();
    let mut status_notes = Vec::new();
    let members: Option<Vec<Member>> = match &vs {
        Some(vs) => {
            let mut ex = Expander::new(reg, &opts);
            ex.validating = true;
            let expanded = ex.expand(vs);
            includes = std::mem::take(&mut ex.includes);
            status_notes = std::mem::take(&mut ex.status_notes);
            match expanded {
                Ok(m) => Some(m),
                // A circular definition is an error of the request; the
                // other failures answer "not valid", with their reasons.
                Err(e) if e.issues.iter().any(|i| i.message_id == Some(MessageId::ValuesetCircularReference)) => {
                    return Err(e);
                }
                Err(e) => {
                    let mut out = Out::new();
                    out.add("result", Type::Boolean, false);
                    let mut texts: Vec<&str> = e.issues.iter().map(|i| i.text.as_str()).collect();
                    texts.sort();
                    out.add("message", Type::String, texts.join("; "));
                    out.resource("issues", outcome(&e.issues));
                    return Ok(out.build());
                }
            }
        }
        None => None,
    };
    // A value set given without a URL is "(unidentified)" in messages.
    let vs_name = vs.as_ref().map(vs_canonical).map(|n| if n.is_empty() { "(unidentified)".to_string() } else { n });

    let mut findings: Vec<Finding> = codings
        .iter()
        .map(|c| validate_one(reg, c, members.as_deref(), &includes, vs_name.as_deref(), &opts, langs, rules))
        .collect();
    if let (Some(vs), Some(name)) = (&vs, &vs_name) {
        for (f, coding) in findings.iter_mut().zip(&codings) {
            if let (true, Some(system), Some(code)) = (f.valid, &f.system, &f.code)
                && deprecated_in(vs, system, code)
            {
                f.issues.push(
                    Issue::error("business-rule", format!("The presence of the concept '{code}' in the system '{system}' in the value set {name} is marked with a status of deprecated and its use should be reviewed"))
                        .severity(Severity::Warning)
                        .tx("code-comment")
                        .id(MessageId::ConceptDeprecatedInValueset)
                        .at(coding.at("code")),
                );
            }
        }
    }

    let mut out = Out::new();
    let mut issues: Vec<Issue> = Vec::new();
    let result;
    let best: Option<&Finding>;
    if concept_echo.is_some() {
        let any_valid = findings.iter().any(|f| f.valid);
        // Valid when a coding is, and no coding has an error (an unknown
        // code beside a good one makes the concept wrong).
        let errors = |f: &Finding| f.issues.iter().any(|i| i.severity == Severity::Error && i.tx != Some("not-in-vs"));
        result = any_valid && !findings.iter().any(errors);
        best = findings.iter().find(|f| f.valid);
        for f in &findings {
            for i in &f.issues {
                let mut i = i.clone();
                if any_valid && i.tx == Some("not-in-vs") {
                    i.severity = Severity::Information;
                    i.tx = Some("this-code-not-in-vs");
                }
                issues.push(i);
            }
        }
        if !any_valid && let Some(name) = &vs_name {
            for i in issues.iter_mut().filter(|i| i.tx == Some("not-in-vs")) {
                i.severity = Severity::Information;
                i.tx = Some("this-code-not-in-vs");
            }
            issues.push(
                Issue::error("code-invalid", format!("No valid coding was found for the value set '{name}'"))
                    .tx("not-in-vs")
                    .id(MessageId::TxGeneralCcErrorMessage),
            );
        }
    } else {
        let f = &findings[0];
        result = f.valid && !f.issues.iter().any(|i| i.severity == Severity::Error);
        best = Some(f);
        issues.extend(f.issues.iter().cloned());
    }
    if let Some(f) = best {
        let identified = !(concept_echo.is_some() && f.include_unknown);
        if let Some(c) = f.code.as_ref().filter(|_| identified) {
            out.add("code", Type::Code, c.clone());
        }
        if let Some(s) = f.system.as_ref().filter(|_| identified) {
            out.add("system", Type::Uri, s.clone());
        }
        if let Some(v) = &f.version {
            out.add("version", Type::String, v.clone());
        }
        if let Some(d) = &f.display {
            out.add("display", Type::String, d.clone());
        }
        if let Some(n) = &f.normalized {
            out.add("normalized-code", Type::Code, n.clone());
        }
        if f.inactive {
            out.add("inactive", Type::Boolean, true);
        }
        if let Some(st) = &f.status {
            out.add("status", Type::Code, st.clone());
        }
    }
    for f in &findings {
        if let Some(u) = &f.unknown_system {
            let name = if f.system_unknown { "x-unknown-system" } else { "x-caused-by-unknown-system" };
            out.add(name, Type::Canonical, u.clone());
        }
    }
    if let Some(cc) = concept_echo {
        out.add("codeableConcept", Type::CodeableConcept, cc);
    }
    out.add("result", Type::Boolean, result);
    // Notes on the status of what the validation used: not part of the message.
    let notes: Vec<Issue> =
        status_notes.iter().map(|(status, kind, canonical)| status.issue(kind, canonical)).collect();
    if !issues.is_empty() || !notes.is_empty() {
        // The message says what is most serious (see `in_message`).
        let errors = issues.iter().any(|i| i.severity == Severity::Error);
        let serious = issues.iter().any(|i| i.severity != Severity::Information);
        let mut texts: Vec<&str> =
            issues.iter().filter(|i| in_message(i, errors, serious)).map(|i| i.text.as_str()).collect();
        texts.sort();
        texts.dedup();
        if !texts.is_empty() {
            out.add("message", Type::String, texts.join("; "));
        }
        let all: Vec<Issue> = notes.into_iter().chain(issues).collect();
        out.resource("issues", outcome(&all));
    }
    Ok(out.build())
}

/// Whether an issue's text goes into the `message` parameter, as the
/// reference server composes it: a note on a valid code (a difference of
/// case, a deprecation in the value set, a fragment's unknown code) never;
/// with `errors`, the errors and the warnings told beside them (a coding
/// without a system, a display made a warning by
/// lenient-display-validation, an inactive code); else the warnings, or the
/// information when nothing is `serious`.
fn in_message(i: &Issue, errors: bool, serious: bool) -> bool {
    use MessageId::*;
    let quiet = [CodeCaseDifference, ConceptDeprecatedInValueset, UnknownCodeInFragment];
    if i.message_id.is_some_and(|m| quiet.contains(&m)) {
        return false;
    }
    let told = matches!(i.message_id, Some(CodingHasNoSystemCannotValidate | InactiveConceptFound))
        || (i.tx == Some("invalid-display") && i.severity == Severity::Warning);
    if errors { i.severity == Severity::Error || told } else { !serious || i.severity != Severity::Information }
}

/// Whether `vs` lists `system#code` as deprecated in its include
/// (`valueset-deprecated`, or a deprecated standards status).
fn deprecated_in(vs: &Value, system: &str, code: &str) -> bool {
    let includes = vs["compose"]["include"].as_array().into_iter().flatten().filter(|i| i["system"] == system);
    includes.flat_map(|i| i["concept"].as_array().into_iter().flatten()).filter(|c| c["code"] == code).any(|c| {
        c["extension"].as_array().into_iter().flatten().any(|e| match e["url"].as_str() {
            Some("http://hl7.org/fhir/StructureDefinition/valueset-deprecated") => {
                e["valueCode"] == "true" || e["valueBoolean"] == true
            }
            Some(STANDARDS_STATUS) => e["valueCode"] == "deprecated",
            _ => false,
        })
    })
}

/// What a request allows of the codes it checks.
#[derive(Clone, Copy)]
struct Rules {
    /// `lenient-display-validation`: a wrong display is a warning.
    lenient: bool,
    /// `abstract` (default true): an abstract (not selectable) code may be
    /// a value set's member.
    abstract_ok: bool,
}

#[allow(clippy::too_many_arguments)]
fn validate_one(
    reg: &Registry,
    coding: &Coding,
    members: Option<&[Member]>,
    includes: &[(String, Option<String>)],
    vs_name: Option<&str>,
    opts: &Options,
    langs: &Languages,
    rules: Rules,
) -> Finding {
    let mut f = Finding { code: coding.code.clone(), ..Finding::default() };
    let code = coding.code.clone().unwrap_or_default();
    let version = coding.version.as_ref().map(|v| format!("|{v}")).unwrap_or_default();
    let not_in_vs = |system: &str, vs: &str| {
        Issue::error(
            "code-invalid",
            match &coding.display {
                Some(d) => format!(
                    "The provided code '{system}{version}#{code} ('{d}')' was not found in the value set '{vs}'"
                ),
                None => format!("The provided code '{system}{version}#{code}' was not found in the value set '{vs}'"),
            },
        )
        .tx("not-in-vs")
        .id(MessageId::NoneOfTheProvidedCodesAreInTheValueSetOne)
        .at(coding.at("code"))
    };
    // The system: given, or inferred from the value set.
    let system = match &coding.system {
        Some(s) => s.clone(),
        // A coding without a system has no meaning to check.
        None if !coding.path.is_empty() && vs_name.is_some() => {
            f.issues.push(
                Issue::error("invalid", "Coding has no system. A code with no system has no defined meaning, and it cannot be validated. A system should be provided")
                    .severity(Severity::Warning)
                    .tx("invalid-data")
                    .id(MessageId::CodingHasNoSystemCannotValidate)
                    .at(coding.path.clone()),
            );
            f.issues.push(not_in_vs("", vs_name.unwrap_or_default()));
            return f;
        }
        None => {
            let candidates: Vec<&Member> =
                members.into_iter().flatten().filter(|m| m.cs.find(&code).is_some()).collect();
            let mut urls: Vec<&str> = candidates.iter().map(|m| m.cs.url.as_str()).collect();
            urls.sort();
            urls.dedup();
            match (urls.len(), vs_name) {
                (1, _) => urls[0].to_string(),
                (_, Some(vs)) => {
                    let detail = if urls.len() > 1 {
                        format!(": value set expansion has multiple matches: [{}]", urls.join(", "))
                    } else {
                        String::new()
                    };
                    f.issues.push(
                        Issue::error("not-found", format!("The System URI could not be determined for the code '{code}' in the ValueSet '{vs}'{detail}"))
                            .tx("cannot-infer")
                            .id(MessageId::UnableToInferCodesystem)
                            .at(coding.at("code")),
                    );
                    f.issues.push(not_in_vs("", vs));
                    return f;
                }
                _ => {
                    f.issues
                        .push(Issue::error("invalid", "A code needs a system to be validated").at(coding.at("system")));
                    return f;
                }
            }
        }
    };
    // A former URN of a built-in system names it.
    let system = reg.builtins.resolve(&system).to_string();
    f.system = Some(system.clone());
    // The version: the coding's, else the one the value set uses.
    let vs_versions: Vec<&Arc<CodeSystem>> = {
        let mut v: Vec<&Arc<CodeSystem>> =
            members.into_iter().flatten().filter(|m| m.cs.url == system).map(|m| &m.cs).collect();
        v.dedup_by(|a, b| Arc::ptr_eq(a, b));
        v
    };
    let wanted = coding.version.clone();
    // Against a value set that includes the system: its include decides the
    // version, and the coding's version is checked against it.
    // With several includes of the system, the one naming the coding's
    // version; for a versionless coding, the one whose members have the
    // code (with the display given, if any); else the first.
    let of_system: Vec<Option<&str>> =
        includes.iter().filter(|(s, _)| *s == system).map(|(_, v)| v.as_deref()).collect();
    let member_version = |display_too: bool| {
        members.into_iter().flatten().find_map(|m| {
            let c = m.concept();
            let display_ok = !display_too || coding.display.as_ref().is_some_and(|d| c.display.as_ref() == Some(d));
            (m.cs.url == system && c.code == code && display_ok).then_some(m.cs.version.as_deref()).flatten()
        })
    };
    let preferred = match of_system.len() {
        0 | 1 => None,
        _ => coding.version.as_deref().or_else(|| member_version(true)).or_else(|| member_version(false)),
    };
    let include = of_system
        .iter()
        .copied()
        .find(|v| v.zip(preferred).is_some_and(|(raw, value)| version_matches(raw, value)))
        .or(of_system.first().copied());
    let chosen = match (include, vs_name) {
        (Some(raw), Some(_)) => choose_version(reg, opts, &system, raw, coding, &mut f),
        _ => None,
    };
    let decided = chosen.is_some();
    let cs = match chosen {
        Some(cs) => reg.with_supplements(cs, &opts.supplements),
        None => match reg
            .code_system(&system, wanted.as_deref().or_else(|| vs_versions.first().and_then(|c| c.version.as_deref())))
        {
            Ok(cs) => reg.with_supplements(cs, &opts.supplements),
            Err(Missing::System) => {
                if reg.value_set(&system, None).is_some() {
                    // A value set's URL where a code system's belongs.
                    f.issues.push(
                        Issue::error(
                            "invalid",
                            format!("The Coding references a value set, not a code system ('{system}')"),
                        )
                        .tx("invalid-data")
                        .id(MessageId::TerminologyTxSystemValueSet2)
                        .at(coding.at("system")),
                    );
                } else {
                    // Unknown to the value set too: its include caused it.
                    let included = includes.iter().any(|(s, _)| *s == system);
                    f.unknown_system = Some(system.clone());
                    f.system_unknown = !included;
                    if !system.contains(':') {
                        f.issues.push(
                            Issue::error(
                                "invalid",
                                "Coding.system must be an absolute reference, not a local reference",
                            )
                            .tx("invalid-data")
                            .id(MessageId::TerminologyTxSystemRelative)
                            .at(coding.at("system")),
                        );
                    }
                    let issue = match &wanted {
                        Some(v) => {
                            Issue::error("not-found", format!("A definition for CodeSystem '{system}' version '{v}' could not be found, so the code cannot be validated. No versions of this code system are known"))
                                .id(MessageId::UnknownCodesystemVersionNone)
                        }
                        None => Issue::error(
                            "not-found",
                            format!("A definition for CodeSystem '{system}' could not be found, so the code cannot be validated"),
                        )
                        .id(MessageId::UnknownCodesystem),
                    };
                    f.issues.push(issue.tx("not-found").at(coding.at("system")));
                }
                if let Some(vs) = vs_name.filter(|_| f.system_unknown || f.unknown_system.is_none()) {
                    f.issues.push(not_in_vs(&system, vs));
                }
                return f;
            }
            Err(Missing::Version(known)) => {
                let v = wanted.clone().unwrap_or_default();
                f.unknown_system = Some(format!("{system}|{v}"));
                f.version = Some(v.clone());
                f.issues.push(
                    Issue::error("not-found", format!("A definition for CodeSystem '{system}' version '{v}' could not be found, so the code cannot be validated. Valid versions: {}", known.join(" or ")))
                        .tx("not-found")
                        .id(MessageId::UnknownCodesystemVersion)
                        .at(coding.at("system")),
                );
                if let Some(vs) = vs_name {
                    f.issues.push(
                        Issue::error("not-found", format!("Unable to check whether the code is in the value set '{vs}' because the code system {system}|{v} was not found"))
                            .tx("not-found")
                            .id(MessageId::UnableToCheckIfTheProvidedCodesAreInTheValueSetCs)
                            .severity(Severity::Warning),
                    );
                }
                return f;
            }
        },
    };
    f.version = cs.version.clone();
    let Some(idx) = cs.find(&code) else {
        if cs.content == "fragment" {
            // A fragment does not list every code: the code may exist.
            f.valid = true;
            f.issues.push(
                Issue::error("code-invalid", format!("Unknown Code '{code}' in the CodeSystem '{system}' version '{}' - note that the code system is labeled as a fragment, so the code may be valid in some other fragment", cs.version.clone().unwrap_or_default()))
                    .severity(Severity::Warning)
                    .tx("invalid-code")
                    .id(MessageId::UnknownCodeInFragment)
                    .at(coding.at("code")),
            );
            return f;
        }
        f.issues.push(
            Issue::error(
                "code-invalid",
                format!(
                    "Unknown code '{code}' in the CodeSystem '{system}' version '{}'",
                    cs.version.clone().unwrap_or_default()
                ),
            )
            .tx("invalid-code")
            .id(MessageId::UnknownCodeInVersion)
            .at(coding.at("code"))
            .no_location(),
        );
        if let Some(vs) = vs_name {
            f.issues.push(not_in_vs(&system, vs).no_location());
        }
        return f;
    };
    let c = &cs.concepts[idx];
    f.code = Some(c.code.clone());
    if c.code != code {
        // Found in a case-insensitive system under another case: the code
        // stands as given, with its normalised form beside it.
        f.code = Some(code.clone());
        f.normalized = Some(c.code.clone());
        f.issues.push(
            Issue::error("business-rule", format!("The code '{code}' differs from the correct code '{}' by case. Although the code system '{}' is case insensitive, implementers are strongly encouraged to use the correct case anyway", c.code, cs.canonical()))
                .severity(Severity::Information)
                .tx("code-rule")
                .id(MessageId::CodeCaseDifference)
                .at(coding.at("code")),
        );
    }
    f.display = display_in(&cs, c, langs);
    f.valid = true;
    f.status = c.status().filter(|_| c.is_inactive() || c.is_deprecated());
    if c.is_inactive() {
        f.inactive = true;
        let status = c.status().unwrap_or_else(|| "inactive".into());
        let status = if status == "retired" { "retired and inactive".to_string() } else { status };
        f.issues.push(
            Issue::error(
                "business-rule",
                format!("The concept '{}' has a status of {status} and its use should be reviewed", c.code),
            )
            .severity(Severity::Warning)
            .tx("code-comment")
            .id(MessageId::InactiveConceptFound)
            .at(coding.base().replace("code", "Coding")),
        );
    }
    if let Some(given) = &coding.display {
        // Every display of the code with its language: the system's own (in
        // the system's language, unknown if it names none), its designations.
        let all: Vec<(&str, Option<&str>)> = c
            .display
            .iter()
            .map(|d| (d.as_str(), cs.language.as_deref()))
            .chain(c.designations.iter().map(|d| (d.value.as_str(), d.language.as_deref())))
            .collect();
        // A display of unknown language may be in any language.
        let lang_known = langs.tags.is_empty()
            || langs.tags.iter().any(|t| {
                cs.language.as_deref().is_none_or(|l| lang_matches(t, l))
                    || c.designations.iter().any(|d| d.language.as_deref().is_some_and(|l| lang_matches(t, l)))
            });
        if all.iter().any(|(v, _)| v == given) && !lang_known {
            let langs_text = langs.raw.clone().unwrap_or_default();
            f.issues.push(
                Issue::error("invalid", format!("There are no valid display names found for the code {system}#{} for language(s) '{langs_text}'. The display is '{given}' which is a valid display for the default language", c.code))
                    .severity(Severity::Information)
                    .tx("invalid-display")
                    .id(MessageId::NoValidDisplayFoundNoneForLangOk)
                    .at(coding.at("display")),
            );
        }
        // A display language asked for, which the code has: the display
        // must be one in that language (or of unknown language).
        let in_lang = |lang: Option<&str>| {
            langs.tags.is_empty() || lang.is_none_or(|l| langs.tags.iter().any(|t| lang_matches(t, l)))
        };
        let mut valid: Vec<(&str, Option<&str>)> =
            all.iter().copied().filter(|(_, l)| !lang_known || in_lang(*l)).collect();
        let mut seen = HashSet::new();
        valid.retain(|(v, _)| seen.insert(*v));
        // The message lists the display and the designations of a language.
        let listed: Vec<(&str, Option<&str>)> =
            valid.iter().copied().filter(|(v, l)| l.is_some() || c.display.as_deref() == Some(*v)).collect();
        // A versionless coding of a value set including several versions
        // may carry the display of any of them.
        let other_versions = coding.version.is_none()
            && vs_versions
                .iter()
                .filter(|o| !Arc::ptr_eq(o, &cs))
                .any(|other| other.find(&code).is_some_and(|i| other.concepts[i].display.as_ref() == Some(given)));
        if !other_versions && !valid.iter().any(|(v, _)| v == given) {
            let squash = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
            let ws_only = valid.iter().any(|(v, _)| squash(v) == squash(given));
            let langs_text = langs.raw.clone().unwrap_or_else(|| "--".into());
            let shown = f.display.clone().unwrap_or_default();
            let choice = |(v, l): &(&str, Option<&str>)| match l {
                Some(l) => format!("'{v}' ({l})"),
                None => format!("'{v}'"),
            };
            let choices = match listed.len() {
                0 => String::new(),
                1 => choice(&listed[0]),
                n => format!("one of {n} choices: {}", listed.iter().map(choice).collect::<Vec<_>>().join(" or ")),
            };
            let text = if !lang_known {
                format!(
                    "Wrong Display Name '{given}' for {system}#{}. There are no valid display names found for language(s) '{langs_text}'. Default display is '{shown}'",
                    c.code
                )
            } else if ws_only {
                format!(
                    "Wrong whitespace in Display Name '{given}' for {system}#{}. Valid display is {choices} (for the language(s) '{langs_text}')",
                    c.code
                )
            } else {
                format!(
                    "Wrong Display Name '{given}' for {system}#{}. Valid display is {choices} (for the language(s) '{langs_text}')",
                    c.code
                )
            };
            f.issues.push(
                Issue::error("invalid", text)
                    .severity(if rules.lenient { Severity::Warning } else { Severity::Error })
                    .tx("invalid-display")
                    .id(if !lang_known {
                        MessageId::NoValidDisplayFoundNoneForLangErr
                    } else if ws_only {
                        MessageId::DisplayNameWsForShouldBeOneOfInsteadOf
                    } else {
                        MessageId::DisplayNameForShouldBeOneOfInsteadOf
                    })
                    .at(coding.at("display")),
            );
        }
    }
    if let (Some(members), Some(vs)) = (members, vs_name) {
        let inside = members.iter().any(|m| {
            m.cs.url == cs.url
                && m.concept().code == c.code
                && (decided || coding.version.is_none() || m.cs.version == cs.version)
        });
        let refused = c.is_abstract() && !rules.abstract_ok;
        if refused {
            f.issues.push(
                Issue::error(
                    "business-rule",
                    format!("Code '{system}#{}' is abstract, and not allowed in this context", c.code),
                )
                .tx("code-rule")
                .id(MessageId::AbstractCodeNotAllowed)
                .at(coding.at("code"))
                .no_location(),
            );
        }
        if !inside || refused {
            f.valid = false;
            if c.is_inactive() {
                f.issues.push(
                    Issue::error("business-rule", format!("The concept '{}' is valid but is not active", c.code))
                        .tx("code-rule")
                        .id(MessageId::StatusCodeWarningCode)
                        .at(coding.at("code")),
                );
            }
            let issue = not_in_vs(&system, vs);
            f.issues.push(if refused { issue.no_location() } else { issue });
        }
    }
    f
}

/// Where the version a coding is checked in comes from.
enum Source<'a> {
    /// `force-system-version`, whatever the value set says.
    Forced(&'a str),
    /// The version (or version pattern) the include names.
    Include(&'a str),
    /// A versionless include, given a version by `system-version` or
    /// `check-system-version` (as the parameter writes it).
    Changed(String),
    /// A versionless include: the coding's version, or else the latest.
    Versionless,
}

/// The version of `system` a coding is checked in, against a value set
/// whose include of the system names `raw` (or no version), under the
/// request's version parameters (`force-system-version`, `system-version`,
/// `check-system-version`). The issues of the coding's version against the
/// include's go to `f`: an unknown version (the coding's or the include's),
/// a version different from the include's, a version the check refuses.
/// `None` when `reg` has no version of `system`.
fn choose_version(
    reg: &Registry,
    opts: &Options,
    system: &str,
    raw: Option<&str>,
    coding: &Coding,
    f: &mut Finding,
) -> Option<Arc<CodeSystem>> {
    let resolve = |v: Option<&str>| reg.code_system(system, v);
    let latest = resolve(None).ok()?;
    let unknown = |v: &str, f: &mut Finding| {
        let known = match resolve(Some(v)) {
            Err(Missing::Version(known)) => known,
            _ => Vec::new(),
        };
        f.unknown_system.get_or_insert_with(|| format!("{system}|{v}"));
        f.issues.push(
            Issue::error("not-found", format!("A definition for CodeSystem '{system}' version '{v}' could not be found, so the code cannot be validated. Valid versions: {}", known.join(" or ")))
                .tx("not-found")
                .id(MessageId::UnknownCodesystemVersion)
                .at(coding.at("system")),
        );
    };
    let value = coding.version.as_deref();
    let value_cs = value.and_then(|v| resolve(Some(v)).ok());
    if let (Some(v), None) = (value, &value_cs) {
        unknown(v, f);
    }
    let force = version_for(&opts.force, system);
    let param = version_for(&opts.default, system).or_else(|| version_for(&opts.check, system));
    let param_cs = param.and_then(|v| resolve(Some(v)).ok());
    let (cs, source) = match (force, raw) {
        (Some(forced), _) => (resolve(Some(forced)).unwrap_or(latest), Source::Forced(forced)),
        (None, Some(raw)) => {
            let cs = match resolve(Some(raw)) {
                Ok(cs) => value_cs.filter(|c| version_matches(raw, c.version.as_deref().unwrap_or(""))).unwrap_or(cs),
                Err(_) => {
                    unknown(raw, f);
                    f.include_unknown = true;
                    value_cs.or(param_cs).unwrap_or(latest)
                }
            };
            (cs, Source::Include(raw))
        }
        (None, None) => match (value_cs, param_cs.zip(param)) {
            (Some(cs), _) => (cs, Source::Versionless),
            (None, Some((cs, given))) => (cs, Source::Changed(given.to_string())),
            (None, None) => (latest, Source::Versionless),
        },
    };
    let used = cs.version.clone().unwrap_or_default();
    if let Some(value) = value {
        let mismatch = |text: String, id: MessageId| {
            Issue::error("invalid", text).tx("vs-invalid").id(id).at(coding.at("version"))
        };
        let include = raw.unwrap_or_default();
        match &source {
            Source::Forced(forced) if used != value => f.issues.push(mismatch(
                format!("The code system '{system}' version '{forced}' resulting from the version '{include}' in the ValueSet include is different to the one in the value ('{value}')"),
                MessageId::ValuesetValueMismatchChanged,
            )),
            Source::Include(raw) if !version_matches(raw, value) => f.issues.push(mismatch(
                format!("The code system '{system}' version '{raw}' in the ValueSet include is different to the one in the value ('{value}')"),
                MessageId::ValuesetValueMismatch,
            )),
            Source::Changed(to) if used != value => f.issues.push(mismatch(
                format!("The code system '{system}' version '{to}' resulting from the version '{include}' in the ValueSet include is different to the one in the value ('{value}')"),
                MessageId::ValuesetValueMismatchChanged,
            )),
            Source::Versionless if used != value => f.issues.push(
                mismatch(
                    format!("The code system '{system}' version '{used}' for the versionless include in the ValueSet include is different to the one in the value ('{value}')"),
                    MessageId::ValuesetValueMismatchDefault,
                )
                .severity(Severity::Warning),
            ),
            _ => {}
        }
    }
    if let Some(check) = version_for(&opts.check, system)
        && !version_matches(check, &used)
    {
        f.issues.push(
            Issue::error("exception", format!("The version '{used}' is not allowed for system '{system}': required to be '{check}' by a version-check parameter"))
                .tx("version-error")
                .id(MessageId::ValuesetVersionCheck)
                .at(coding.at("version")),
        );
    }
    Some(cs)
}
