//! Procedural macros for [`k-api-types`](https://docs.rs/k-api-types).
//!
//! - [`macro@wire`]: applies Kubernetes' JSON conventions to a struct (camelCase
//!   names, missing fields defaulted, `None`/empty lists/empty maps omitted).
//!   Every type in `k-api-types` uses it; operator authors can use it for their
//!   own spec and status types.
//! - [`CustomResource`](derive@CustomResource): turns a spec struct into a custom
//!   resource type implementing `k_api_types::Resource`, with its
//!   `CustomResourceDefinition`.
//!
//! Use these through `k_api_types` (re-exported as `k_api_types::wire` and
//! `k_api_types::CustomResource`) rather than depending on this crate directly.

use proc_macro::TokenStream;

mod custom_resource;
mod wire;

/// Applies Kubernetes' JSON conventions to a struct with named fields.
///
/// Expands to `#[derive(Clone, Debug, Default, PartialEq, Serialize,
/// Deserialize, JsonSchema)]` with `#[serde(rename_all = "camelCase", default)]`,
/// and for each field:
///
/// - `Option<_>` is omitted when `None`;
/// - `Vec<_>`, `BTreeMap<_, _>`, `SortedMap<_, _>` (and `ResourceList`) are omitted when empty (Go's `omitempty`);
/// - anything else is always written.
///
/// Field markers (removed from the output):
///
/// - `#[wire(always)]`: never omit this field;
/// - `#[wire(omitempty)]`: omit a `String` when empty, or a `bool` when false.
///
/// Struct options: `#[wire(no_default)]` leaves `Default` to a hand-written impl;
/// `#[wire(eq)]` also derives `Eq`.
///
/// The expansion names `::serde` and `::schemars`, so the using crate needs
/// both as dependencies.
#[proc_macro_attribute]
pub fn wire(args: TokenStream, input: TokenStream) -> TokenStream {
    wire::expand(args.into(), input.into()).unwrap_or_else(syn::Error::into_compile_error).into()
}

/// Derives a custom resource type from its spec struct.
///
/// ```ignore
/// #[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
/// #[resource(group = "example.com", version = "v1", kind = "Database", namespaced,
///            status = "DatabaseStatus", shortname = "db",
///            printcolumn(name = "Engine", type = "string", json_path = ".spec.engine"),
///            scale(spec_replicas_path = ".spec.replicas", status_replicas_path = ".status.replicas"))]
/// pub struct DatabaseSpec { pub engine: String, pub replicas: Option<i32> }
/// ```
///
/// generates `pub struct Database { api_version, kind, metadata, spec, status }`
/// implementing `k_api_types::Resource` and `k_api_types::CustomResourceExt`
/// (whose `crd()` returns the `CustomResourceDefinition` with the structural
/// openAPIV3Schema generated from the spec and status types).
#[proc_macro_derive(CustomResource, attributes(resource))]
pub fn derive_custom_resource(input: TokenStream) -> TokenStream {
    custom_resource::expand(input.into()).unwrap_or_else(syn::Error::into_compile_error).into()
}
