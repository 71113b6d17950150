//! Label and field selectors with Kubernetes semantics.
//!
//! Kubernetes filters objects with two kinds of selector, both written as
//! comma-separated lists of requirements that must *all* hold:
//!
//! * **Label selectors** ([`Selector`], module [`label`]) match an object's
//!   `metadata.labels`. The string grammar (used by the `labelSelector` query
//!   parameter and `kubectl -l`) supports equality (`k=v`, `k==v`, `k!=v`),
//!   set membership (`k in (a,b)`, `k notin (a,b)`), existence (`k`, `!k`)
//!   and integer comparison (`k>5`, `k<5`). The structured form
//!   [`LabelSelector`](crate::meta::LabelSelector) (`matchLabels` plus
//!   `matchExpressions`) converts into a [`Selector`] with
//!   [`TryFrom`]; [`selector_matches`] applies one directly.
//! * **Field selectors** ([`FieldSelector`], module [`field`]) match selected
//!   fields of an object (`metadata.name=foo,status.phase!=Running`). They
//!   only support `=`, `==` and `!=`; values escape `\`, `,` and `=` with a
//!   backslash. Which fields may be used depends on the resource;
//!   [`FieldSelector::validate_fields`] checks a selector against the
//!   supported list the way kube-apiserver does.
//!
//! The empty string parses to the empty selector of either kind, which
//! matches everything. Both kinds print (via [`Display`](std::fmt::Display))
//! in a canonical form that parses back to a selector printing identically.
//!
//! Errors: label selector parsing, validation and conversion fail with
//! [`SelectorParseError`]; field selector parsing and field validation fail
//! with [`FieldSelectorError`]. They are separate because the two grammars
//! (and the Kubernetes messages they reproduce) have nothing in common.

pub mod field;
pub mod label;

pub use field::{FieldOperator, FieldRequirement, FieldSelector, FieldSelectorError, escape_value, unescape_value};
pub use label::{
    Operator, Requirement, Selector, SelectorParseError, format_label_selector, label_selector_to_string,
    selector_matches,
};
