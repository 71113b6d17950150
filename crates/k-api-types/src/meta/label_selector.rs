//! The structured label selector of specs (`matchLabels` + `matchExpressions`).
//!
//! Parsing, matching and printing live in [`crate::selector`].

use crate::SortedMap;

use crate::wire;

/// A label query over objects (metav1.LabelSelector). Requirements are ANDed;
/// an empty selector matches everything, a missing (`None`) one nothing.
#[wire(eq)]
pub struct LabelSelector {
    /// Each pair is an `In` requirement with one value.
    pub match_labels: SortedMap<String, String>,
    /// Set-based requirements.
    pub match_expressions: Vec<LabelSelectorRequirement>,
}

/// A set-based requirement of a [`LabelSelector`].
#[wire(eq)]
pub struct LabelSelectorRequirement {
    /// The label key.
    pub key: String,
    /// `In`, `NotIn`, `Exists` or `DoesNotExist`.
    pub operator: String,
    /// Values for `In` and `NotIn`; empty for `Exists` and `DoesNotExist`.
    pub values: Vec<String>,
}

impl LabelSelector {
    /// A selector of `matchLabels` only.
    pub fn from_labels<K: Into<String>, V: Into<String>>(labels: impl IntoIterator<Item = (K, V)>) -> Self {
        Self {
            match_labels: labels.into_iter().map(|(k, v)| (k.into(), v.into())).collect(),
            match_expressions: Vec::new(),
        }
    }
}
