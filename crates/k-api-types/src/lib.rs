#![doc = include_str!("../README.md")]

pub use k_api_types_derive::{CustomResource, wire};

// The derives name this crate by its path, here as in users' crates.
extern crate self as k_api_types;

pub mod bytestring;
pub mod custom_resource;
pub mod defaults;
pub mod dynamic;
pub mod intstr;
pub mod manifest;
pub mod meta;
pub mod object;
pub mod quantity;
pub mod registry;
pub mod resource;
pub mod schema;
pub mod selector;
pub mod sorted_map;
pub mod structural;
pub mod validation;
#[doc(hidden)]
pub mod wire_support;

pub mod admission;
pub mod admissionregistration;
pub mod apiextensions;
pub mod apps;
pub mod authentication;
pub mod authorization;
pub mod autoscaling;
pub mod batch;
pub mod coordination;
pub mod core;
pub mod discovery;
pub mod networking;
pub mod policy;
pub mod rbac;
pub mod scheduling;
pub mod storage;

pub use bytestring::ByteString;
pub use custom_resource::CustomResourceExt;
pub use defaults::ApplyDefaults;
pub use dynamic::DynamicObject;
pub use object::Object;
pub use registry::Registry;
pub use resource::{ApiResource, GroupVersionKind, GroupVersionResource, ObjectLike, Resource, ResourceInfo};
pub use sorted_map::SortedMap;
pub use validation::Validate;
