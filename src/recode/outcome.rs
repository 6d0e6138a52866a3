//! What recoding one row gives: the [`Outcome`] (code, method, confidence,
//! candidates, review), the [`Method`] that found it, and the [`Transition`]
//! of an old code to the new version.

use serde::Serialize;

/// How a row was recoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// The code is a current code, written canonically.
    Exact,
    /// The code is a current code written otherwise (`1071 C`, `141Z`).
    Respelled,
    /// The code was translated by a correspondence table.
    Transcoded,
    /// The label is a label (or lexicon synonym) of the code.
    LabelExact,
    /// The label's words match the code's label.
    LabelMatch,
    /// The label matches with typos.
    Fuzzy,
    /// Several codes fit equally; candidates given, no code.
    Ambiguous,
    /// Nothing usable.
    None,
}

impl Method {
    /// Every method, in order (`Method::ALL[m as usize] == m`).
    pub const ALL: [Method; 8] = [
        Method::Exact,
        Method::Respelled,
        Method::Transcoded,
        Method::LabelExact,
        Method::LabelMatch,
        Method::Fuzzy,
        Method::Ambiguous,
        Method::None,
    ];

    /// The method's name in output files.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Exact => "exact",
            Method::Respelled => "respelled",
            Method::Transcoded => "transcoded",
            Method::LabelExact => "label_exact",
            Method::LabelMatch => "label_match",
            Method::Fuzzy => "fuzzy",
            Method::Ambiguous => "ambiguous",
            Method::None => "none",
        }
    }
}

/// The decision for one row.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Outcome {
    /// Filled only when `confidence` reaches the threshold.
    pub code: Option<String>,
    /// Label of `code`.
    pub display: Option<String>,
    /// How the code was found.
    pub method: Method,
    /// How sure the recoding is, 0–1.
    pub confidence: f32,
    /// Up to three candidates with their scores.
    pub candidates: Vec<(String, f32)>,
    /// A person should look at this row.
    pub review: bool,
    /// Why, when something is off.
    pub note: String,
    /// How a correspondence table moved the code, when one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transition: Option<Transition>,
    /// The old code as the correspondence table (or the system) spells it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_code: Option<String>,
}

/// How a correspondence table moved a code (the categories of a transition
/// report).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Transition {
    /// The code is already one of the target version.
    Unchanged,
    /// One old code, one new code, and no other old code goes there.
    OneToOne,
    /// Several old codes merge into the new one.
    Merged,
    /// The old code splits; the row's text settled which part.
    SplitSettled,
    /// The old code splits and nothing on the row settles it: every
    /// candidate kept, for review.
    SplitReview,
    /// The table says the old code has no correspondence.
    NoCorrespondence,
}

impl Transition {
    /// Every transition, in order (`Transition::ALL[t as usize] == t`).
    pub const ALL: [Transition; 6] = [
        Transition::Unchanged,
        Transition::OneToOne,
        Transition::Merged,
        Transition::SplitSettled,
        Transition::SplitReview,
        Transition::NoCorrespondence,
    ];

    /// The transition's name in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Transition::Unchanged => "unchanged",
            Transition::OneToOne => "one_to_one",
            Transition::Merged => "merged",
            Transition::SplitSettled => "split_settled",
            Transition::SplitReview => "split_review",
            Transition::NoCorrespondence => "no_correspondence",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lists_follow_the_declarations() {
        assert!(Method::ALL.iter().enumerate().all(|(i, &m)| m as usize == i));
        assert!(Transition::ALL.iter().enumerate().all(|(i, &t)| t as usize == i));
    }
}
