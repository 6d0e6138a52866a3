//! The terminology model every loader produces and every reader consumes.
//!
//! A [`CodeSystem`] owns its [`Concept`]s. Guarantees once a system has passed
//! [`CodeSystem::check`]:
//! * every code is in the canonical form of its system (see [`crate::codes`])
//!   and appears once;
//! * every `parent` names a concept of the same system at a shallower level
//!   (usually one level up; CIM-10 categories outside any block hang from
//!   their chapter); concepts without a parent are at level 0;
//! * `levels[concept.level]` names the concept's level.

pub mod fhir;
pub mod map;

use serde::{Deserialize, Serialize};

use crate::codes::CodeSyntax;

/// A versioned terminology: its metadata and all its concepts.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CodeSystem {
    /// Stable id, e.g. `naf-2008`.
    pub id: String,
    /// Short names resolving to this system (`naf`, `cim10`, …).
    pub aliases: Vec<String>,
    /// Full title.
    pub title: String,
    /// Version label (`2008`, `2025`, the ATIH year).
    pub version: String,
    /// Who publishes the nomenclature.
    pub publisher: String,
    /// Licence of the data.
    pub licence: String,
    /// How to cite the data.
    pub attribution: String,
    /// Canonical URL, used as the FHIR `system`.
    pub url: String,
    /// Other URLs naming the system (its former URN), resolved as `url`.
    #[serde(default)]
    pub url_aliases: Vec<String>,
    /// Systems that are versions of one terminology share a family (`tep`, `naf`).
    #[serde(default)]
    pub family: Option<String>,
    /// The version of its family used when a caller names the family.
    #[serde(default)]
    pub default: bool,
    /// From this date (`YYYY-MM-DD`) on, the family name resolves to this
    /// version (NAF 2025 from 2027-01-01), whatever `default` says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_from: Option<String>,
    /// From this date on, this version is replaced: its codes are retired
    /// (NAF 2008 from 2027-01-01).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retired_from: Option<String>,
    /// How codes of this system are spelled.
    pub syntax: CodeSyntax,
    /// Level names, from the root level (index 0) down.
    pub levels: Vec<String>,
    /// First level whose concepts are codes people record (NAF sous-classe,
    /// PCS profession, CIM-10 catégorie and below); shallower levels group.
    #[serde(default)]
    pub codable_from: u8,
    /// Every concept, sorted by code.
    pub concepts: Vec<Concept>,
}

/// One code of a system.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Concept {
    /// Canonical code (`10.71C`, `526a`, `M54.5`).
    pub code: String,
    /// Preferred French label, cleaned (see [`crate::text::clean_label`]).
    pub display: String,
    /// Depth in the hierarchy; 0 for roots. Index into [`CodeSystem::levels`].
    pub level: u8,
    /// Canonical code of the parent concept, if any.
    pub parent: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    /// Other labels: short, long, synonyms, related terms, earlier titles.
    pub designations: Vec<Designation>,
    #[serde(default)]
    /// Whether the concept is in force.
    pub status: Status,
    /// For a retired concept, the canonical codes that replace it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replaced_by: Vec<String>,
    /// A short definition, with its source when the terminology gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub definition: Option<String>,
    /// Facts that are not labels (délai de prise en charge, works, dates of
    /// validity), in the order the source gives them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub properties: Vec<Property>,
}

/// A fact about a concept that is not one of its labels.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Property {
    /// What the value says.
    pub kind: PropertyKind,
    /// The value, as the source writes it.
    pub value: String,
}

/// What a [`Property`] states. The names (`as_str`) are the API's and the
/// FHIR property codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum PropertyKind {
    /// Délai de prise en charge of an occupational-disease row (`30 jours`).
    Delai,
    /// Durée d'exposition required by an occupational-disease row (`6 mois`).
    DureeExposition,
    /// Works liable to cause the disease, in the table's words.
    Travaux,
    /// Whether a table's list of works is `limitative` or `indicative`.
    ListeTravaux,
    /// A note of the source (footnotes of a table, texts kept whole).
    Note,
    /// First day (`YYYY-MM-DD`) of the version in force, or of validity.
    EnVigueurDepuis,
    /// Last day of validity of a closed code.
    FinValidite,
    /// Where the source text is (legal article id).
    Article,
    /// CCAM type of act (isolated act, procedure, complementary act).
    TypeActe,
}

impl PropertyKind {
    /// Every kind, in declaration order (`ALL[k as usize] == k`).
    pub const ALL: [PropertyKind; 9] = [
        PropertyKind::Delai,
        PropertyKind::DureeExposition,
        PropertyKind::Travaux,
        PropertyKind::ListeTravaux,
        PropertyKind::Note,
        PropertyKind::EnVigueurDepuis,
        PropertyKind::FinValidite,
        PropertyKind::Article,
        PropertyKind::TypeActe,
    ];

    /// The name of the property (`delai`, `duree_exposition`…), as the API and FHIR give it.
    pub fn as_str(self) -> &'static str {
        match self {
            PropertyKind::Delai => "delai",
            PropertyKind::DureeExposition => "duree-exposition",
            PropertyKind::Travaux => "travaux",
            PropertyKind::ListeTravaux => "liste-travaux",
            PropertyKind::Note => "note",
            PropertyKind::EnVigueurDepuis => "en-vigueur-depuis",
            PropertyKind::FinValidite => "fin-validite",
            PropertyKind::Article => "article",
            PropertyKind::TypeActe => "type-acte",
        }
    }

    /// The French name shown on the pages.
    pub fn label_fr(self) -> &'static str {
        match self {
            PropertyKind::Delai => "délai de prise en charge",
            PropertyKind::DureeExposition => "durée d'exposition",
            PropertyKind::Travaux => "travaux susceptibles de provoquer la maladie",
            PropertyKind::ListeTravaux => "liste des travaux",
            PropertyKind::Note => "note",
            PropertyKind::EnVigueurDepuis => "en vigueur depuis",
            PropertyKind::FinValidite => "fin de validité",
            PropertyKind::Article => "article",
            PropertyKind::TypeActe => "type d'acte",
        }
    }
}

impl Concept {
    /// The value of the first property of this kind.
    pub fn property(&self, kind: PropertyKind) -> Option<&str> {
        self.properties.iter().find(|p| p.kind == kind).map(|p| p.value.as_str())
    }
}

/// Another label of a concept.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Designation {
    #[serde(rename = "use")]
    /// What kind of label it is.
    pub kind: DesignationKind,
    /// The label.
    pub value: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
/// The kinds of designation.
pub enum DesignationKind {
    /// An abbreviated label (NAF 40/65-character labels, CIM-10 short labels).
    Short,
    /// A longer or alternative official wording.
    Long,
    /// A synonym.
    Synonym,
    /// A lexicon term of which this concept is one of several codes, not
    /// the first ("terme associé"): it ranks after the first.
    Related,
    /// A title the code had in an earlier edition ("ancien libellé"), kept
    /// so that legacy files written with it are still understood.
    Legacy,
}

impl DesignationKind {
    /// Every kind, in declaration order (`ALL[k as usize] == k`).
    pub const ALL: [DesignationKind; 5] = [
        DesignationKind::Short,
        DesignationKind::Long,
        DesignationKind::Synonym,
        DesignationKind::Related,
        DesignationKind::Legacy,
    ];

    /// The name used in the API, FHIR designations and `explain`.
    pub fn as_str(self) -> &'static str {
        match self {
            DesignationKind::Short => "short",
            DesignationKind::Long => "long",
            DesignationKind::Synonym => "synonym",
            DesignationKind::Related => "related",
            DesignationKind::Legacy => "legacy",
        }
    }

    /// The French name shown on the pages.
    pub fn label_fr(self) -> &'static str {
        match self {
            DesignationKind::Short => "libellé court",
            DesignationKind::Long => "libellé long",
            DesignationKind::Synonym => "synonyme",
            DesignationKind::Related => "terme associé",
            DesignationKind::Legacy => "ancien libellé",
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
/// Whether a concept is in force.
pub enum Status {
    #[default]
    /// In force.
    Active,
    /// No longer in force (closed by its publisher, or its version replaced).
    Retired,
}

impl Status {
    /// Every status, in declaration order (`ALL[s as usize] == s`).
    pub const ALL: [Status; 2] = [Status::Active, Status::Retired];
}

/// An inconsistency found by [`CodeSystem::check`].
#[derive(Debug, thiserror::Error)]
#[error("system {system}: concept {code}: {problem}")]
pub struct ModelError {
    /// Id of the system.
    pub system: String,
    /// The concept's code.
    pub code: String,
    /// What is wrong.
    pub problem: String,
}

impl CodeSystem {
    /// Sorts concepts by code and checks the guarantees listed in the module
    /// documentation.
    pub fn check(&mut self) -> Result<(), ModelError> {
        self.concepts.sort_by(|a, b| a.code.cmp(&b.code));
        let err = |code: &str, problem: String| ModelError { system: self.id.clone(), code: code.to_string(), problem };
        for pair in self.concepts.windows(2) {
            if pair[0].code == pair[1].code {
                return Err(err(&pair[0].code, "appears twice".into()));
            }
        }
        for c in &self.concepts {
            if self.syntax.canonical(&c.code).as_deref() != Some(c.code.as_str()) {
                return Err(err(&c.code, format!("is not a canonical {:?} code", self.syntax)));
            }
            if usize::from(c.level) >= self.levels.len() {
                return Err(err(&c.code, format!("level {} has no name", c.level)));
            }
            match &c.parent {
                None if c.level != 0 => {
                    return Err(err(&c.code, "has no parent but is not at level 0".into()));
                }
                None => {}
                Some(p) => match self.find(p) {
                    None => return Err(err(&c.code, format!("parent {p} is not in the system"))),
                    Some(parent) if parent.level >= c.level => {
                        return Err(err(
                            &c.code,
                            format!("level {} under parent {p} at level {}", c.level, parent.level),
                        ));
                    }
                    Some(_) => {}
                },
            }
        }
        Ok(())
    }

    /// Binary search by canonical code (concepts must be sorted, as
    /// [`CodeSystem::check`] leaves them).
    pub fn find(&self, code: &str) -> Option<&Concept> {
        self.concepts.binary_search_by(|c| c.code.as_str().cmp(code)).ok().map(|i| &self.concepts[i])
    }

    /// Number of concepts at each level, in level order.
    pub fn level_counts(&self) -> Vec<(String, usize)> {
        let mut counts = vec![0usize; self.levels.len()];
        for c in &self.concepts {
            counts[usize::from(c.level)] += 1;
        }
        self.levels.iter().cloned().zip(counts).collect()
    }
}

/// The system a data file (lexicon line, mapping declaration) names: by id
/// or alias, or by family name the family's `default` version, the one the
/// file's codes were written for (`naf` is NAF 2008 whatever the date; a
/// request's family name follows the date, see `Snapshot::system_index`).
pub fn named(systems: &[CodeSystem], name: &str) -> Option<usize> {
    let name = name.trim();
    systems
        .iter()
        .position(|s| s.id.eq_ignore_ascii_case(name) || s.aliases.iter().any(|a| a.eq_ignore_ascii_case(name)))
        .or_else(|| {
            systems.iter().position(|s| s.default && s.family.as_deref().is_some_and(|f| f.eq_ignore_ascii_case(name)))
        })
}
