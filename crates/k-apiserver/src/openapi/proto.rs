//! The protobuf form of `/openapi/v2`
//! (`application/com.github.proto-openapi.spec.v2@v1.0+protobuf`): prost
//! messages with the field numbers of gnostic's `openapi_v2.proto` (package
//! `openapi.v2`), and the conversion from the v2 JSON document.
//!
//! Values of free form (vendor extensions, `default`, `enum`, `example`) are
//! carried as gnostic does, as YAML text in `Any.yaml`; JSON text is valid
//! YAML, so they are written as compact JSON.

use serde_json::{Map, Value};

/// `openapi.v2.Document`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Document {
    #[prost(string, tag = "1")]
    pub(crate) swagger: String,
    #[prost(message, optional, tag = "2")]
    pub(crate) info: Option<Info>,
    #[prost(string, tag = "3")]
    pub(crate) host: String,
    #[prost(string, tag = "4")]
    pub(crate) base_path: String,
    #[prost(string, repeated, tag = "5")]
    pub(crate) schemes: Vec<String>,
    #[prost(string, repeated, tag = "6")]
    pub(crate) consumes: Vec<String>,
    #[prost(string, repeated, tag = "7")]
    pub(crate) produces: Vec<String>,
    #[prost(message, optional, tag = "8")]
    pub(crate) paths: Option<Paths>,
    #[prost(message, optional, tag = "9")]
    pub(crate) definitions: Option<Definitions>,
    #[prost(message, optional, tag = "10")]
    pub(crate) parameters: Option<ParameterDefinitions>,
    #[prost(message, optional, tag = "11")]
    pub(crate) responses: Option<ResponseDefinitions>,
    #[prost(message, repeated, tag = "12")]
    pub(crate) security: Vec<SecurityRequirement>,
    #[prost(message, optional, tag = "13")]
    pub(crate) security_definitions: Option<SecurityDefinitions>,
    #[prost(message, repeated, tag = "14")]
    pub(crate) tags: Vec<Tag>,
    #[prost(message, optional, tag = "15")]
    pub(crate) external_docs: Option<ExternalDocs>,
    #[prost(message, repeated, tag = "16")]
    pub(crate) vendor_extension: Vec<NamedAny>,
}

/// `openapi.v2.Info` (contact and license are not used).
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Info {
    #[prost(string, tag = "1")]
    pub(crate) title: String,
    #[prost(string, tag = "2")]
    pub(crate) version: String,
    #[prost(string, tag = "3")]
    pub(crate) description: String,
    #[prost(string, tag = "4")]
    pub(crate) terms_of_service: String,
    #[prost(message, repeated, tag = "7")]
    pub(crate) vendor_extension: Vec<NamedAny>,
}

/// `google.protobuf.Any`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ProtobufAny {
    #[prost(string, tag = "1")]
    pub(crate) type_url: String,
    #[prost(bytes = "vec", tag = "2")]
    pub(crate) value: Vec<u8>,
}

/// `openapi.v2.Any`: a free-form value as YAML text.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Any {
    #[prost(message, optional, tag = "1")]
    pub(crate) value: Option<ProtobufAny>,
    #[prost(string, tag = "2")]
    pub(crate) yaml: String,
}

/// `openapi.v2.NamedAny`: one vendor extension.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct NamedAny {
    #[prost(string, tag = "1")]
    pub(crate) name: String,
    #[prost(message, optional, tag = "2")]
    pub(crate) value: Option<Any>,
}

/// `openapi.v2.Paths`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Paths {
    #[prost(message, repeated, tag = "1")]
    pub(crate) vendor_extension: Vec<NamedAny>,
    #[prost(message, repeated, tag = "2")]
    pub(crate) path: Vec<NamedPathItem>,
}

/// `openapi.v2.NamedPathItem`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct NamedPathItem {
    #[prost(string, tag = "1")]
    pub(crate) name: String,
    #[prost(message, optional, tag = "2")]
    pub(crate) value: Option<PathItem>,
}

/// `openapi.v2.PathItem`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct PathItem {
    #[prost(string, tag = "1")]
    pub(crate) ref_: String,
    #[prost(message, optional, tag = "2")]
    pub(crate) get: Option<Operation>,
    #[prost(message, optional, tag = "3")]
    pub(crate) put: Option<Operation>,
    #[prost(message, optional, tag = "4")]
    pub(crate) post: Option<Operation>,
    #[prost(message, optional, tag = "5")]
    pub(crate) delete: Option<Operation>,
    #[prost(message, optional, tag = "6")]
    pub(crate) options: Option<Operation>,
    #[prost(message, optional, tag = "7")]
    pub(crate) head: Option<Operation>,
    #[prost(message, optional, tag = "8")]
    pub(crate) patch: Option<Operation>,
    #[prost(message, repeated, tag = "9")]
    pub(crate) parameters: Vec<ParametersItem>,
    #[prost(message, repeated, tag = "10")]
    pub(crate) vendor_extension: Vec<NamedAny>,
}

/// `openapi.v2.Operation`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Operation {
    #[prost(string, repeated, tag = "1")]
    pub(crate) tags: Vec<String>,
    #[prost(string, tag = "2")]
    pub(crate) summary: String,
    #[prost(string, tag = "3")]
    pub(crate) description: String,
    #[prost(message, optional, tag = "4")]
    pub(crate) external_docs: Option<ExternalDocs>,
    #[prost(string, tag = "5")]
    pub(crate) operation_id: String,
    #[prost(string, repeated, tag = "6")]
    pub(crate) produces: Vec<String>,
    #[prost(string, repeated, tag = "7")]
    pub(crate) consumes: Vec<String>,
    #[prost(message, repeated, tag = "8")]
    pub(crate) parameters: Vec<ParametersItem>,
    #[prost(message, optional, tag = "9")]
    pub(crate) responses: Option<Responses>,
    #[prost(string, repeated, tag = "10")]
    pub(crate) schemes: Vec<String>,
    #[prost(bool, tag = "11")]
    pub(crate) deprecated: bool,
    #[prost(message, repeated, tag = "12")]
    pub(crate) security: Vec<SecurityRequirement>,
    #[prost(message, repeated, tag = "13")]
    pub(crate) vendor_extension: Vec<NamedAny>,
}

/// `openapi.v2.ParametersItem`: a parameter or a reference to one.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ParametersItem {
    #[prost(oneof = "parameters_item::Oneof", tags = "1, 2")]
    pub(crate) oneof: Option<parameters_item::Oneof>,
}

/// The alternatives of [`ParametersItem`].
pub(crate) mod parameters_item {
    /// `ParametersItem.oneof`.
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub(crate) enum Oneof {
        #[prost(message, tag = "1")]
        Parameter(super::Parameter),
        #[prost(message, tag = "2")]
        JsonReference(super::JsonReference),
    }
}

/// `openapi.v2.JsonReference`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct JsonReference {
    #[prost(string, tag = "1")]
    pub(crate) ref_: String,
    #[prost(string, tag = "2")]
    pub(crate) description: String,
}

/// `openapi.v2.Parameter`: a body parameter or another one.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Parameter {
    #[prost(oneof = "parameter::Oneof", tags = "1, 2")]
    pub(crate) oneof: Option<parameter::Oneof>,
}

/// The alternatives of [`Parameter`].
pub(crate) mod parameter {
    /// `Parameter.oneof`.
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub(crate) enum Oneof {
        #[prost(message, tag = "1", boxed)]
        BodyParameter(Box<super::BodyParameter>),
        #[prost(message, tag = "2")]
        NonBodyParameter(super::NonBodyParameter),
    }
}

/// `openapi.v2.BodyParameter`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct BodyParameter {
    #[prost(string, tag = "1")]
    pub(crate) description: String,
    #[prost(string, tag = "2")]
    pub(crate) name: String,
    #[prost(string, tag = "3")]
    pub(crate) r#in: String,
    #[prost(bool, tag = "4")]
    pub(crate) required: bool,
    #[prost(message, optional, tag = "5")]
    pub(crate) schema: Option<Schema>,
    #[prost(message, repeated, tag = "6")]
    pub(crate) vendor_extension: Vec<NamedAny>,
}

/// `openapi.v2.NonBodyParameter`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct NonBodyParameter {
    #[prost(oneof = "non_body_parameter::Oneof", tags = "1, 2, 3, 4")]
    pub(crate) oneof: Option<non_body_parameter::Oneof>,
}

/// The alternatives of [`NonBodyParameter`].
pub(crate) mod non_body_parameter {
    /// `NonBodyParameter.oneof`. Header and path parameters have the same
    /// fields and numbers, and so have form and query parameters.
    // The variant names are gnostic's.
    #[allow(clippy::enum_variant_names)]
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub(crate) enum Oneof {
        #[prost(message, tag = "1", boxed)]
        HeaderParameterSubSchema(Box<super::PathParameterSubSchema>),
        #[prost(message, tag = "2", boxed)]
        FormDataParameterSubSchema(Box<super::QueryParameterSubSchema>),
        #[prost(message, tag = "3", boxed)]
        QueryParameterSubSchema(Box<super::QueryParameterSubSchema>),
        #[prost(message, tag = "4", boxed)]
        PathParameterSubSchema(Box<super::PathParameterSubSchema>),
    }
}

/// `openapi.v2.QueryParameterSubSchema` (also `FormDataParameterSubSchema`).
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct QueryParameterSubSchema {
    #[prost(bool, tag = "1")]
    pub(crate) required: bool,
    #[prost(string, tag = "2")]
    pub(crate) r#in: String,
    #[prost(string, tag = "3")]
    pub(crate) description: String,
    #[prost(string, tag = "4")]
    pub(crate) name: String,
    #[prost(bool, tag = "5")]
    pub(crate) allow_empty_value: bool,
    #[prost(string, tag = "6")]
    pub(crate) r#type: String,
    #[prost(string, tag = "7")]
    pub(crate) format: String,
    #[prost(message, optional, tag = "8")]
    pub(crate) items: Option<PrimitivesItems>,
    #[prost(string, tag = "9")]
    pub(crate) collection_format: String,
    #[prost(message, optional, tag = "10")]
    pub(crate) default: Option<Any>,
    #[prost(double, tag = "11")]
    pub(crate) maximum: f64,
    #[prost(bool, tag = "12")]
    pub(crate) exclusive_maximum: bool,
    #[prost(double, tag = "13")]
    pub(crate) minimum: f64,
    #[prost(bool, tag = "14")]
    pub(crate) exclusive_minimum: bool,
    #[prost(int64, tag = "15")]
    pub(crate) max_length: i64,
    #[prost(int64, tag = "16")]
    pub(crate) min_length: i64,
    #[prost(string, tag = "17")]
    pub(crate) pattern: String,
    #[prost(int64, tag = "18")]
    pub(crate) max_items: i64,
    #[prost(int64, tag = "19")]
    pub(crate) min_items: i64,
    #[prost(bool, tag = "20")]
    pub(crate) unique_items: bool,
    #[prost(message, repeated, tag = "21")]
    pub(crate) r#enum: Vec<Any>,
    #[prost(double, tag = "22")]
    pub(crate) multiple_of: f64,
    #[prost(message, repeated, tag = "23")]
    pub(crate) vendor_extension: Vec<NamedAny>,
}

/// `openapi.v2.PathParameterSubSchema` (also `HeaderParameterSubSchema`).
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct PathParameterSubSchema {
    #[prost(bool, tag = "1")]
    pub(crate) required: bool,
    #[prost(string, tag = "2")]
    pub(crate) r#in: String,
    #[prost(string, tag = "3")]
    pub(crate) description: String,
    #[prost(string, tag = "4")]
    pub(crate) name: String,
    #[prost(string, tag = "5")]
    pub(crate) r#type: String,
    #[prost(string, tag = "6")]
    pub(crate) format: String,
    #[prost(message, optional, tag = "7")]
    pub(crate) items: Option<PrimitivesItems>,
    #[prost(string, tag = "8")]
    pub(crate) collection_format: String,
    #[prost(message, optional, tag = "9")]
    pub(crate) default: Option<Any>,
    #[prost(double, tag = "10")]
    pub(crate) maximum: f64,
    #[prost(bool, tag = "11")]
    pub(crate) exclusive_maximum: bool,
    #[prost(double, tag = "12")]
    pub(crate) minimum: f64,
    #[prost(bool, tag = "13")]
    pub(crate) exclusive_minimum: bool,
    #[prost(int64, tag = "14")]
    pub(crate) max_length: i64,
    #[prost(int64, tag = "15")]
    pub(crate) min_length: i64,
    #[prost(string, tag = "16")]
    pub(crate) pattern: String,
    #[prost(int64, tag = "17")]
    pub(crate) max_items: i64,
    #[prost(int64, tag = "18")]
    pub(crate) min_items: i64,
    #[prost(bool, tag = "19")]
    pub(crate) unique_items: bool,
    #[prost(message, repeated, tag = "20")]
    pub(crate) r#enum: Vec<Any>,
    #[prost(double, tag = "21")]
    pub(crate) multiple_of: f64,
    #[prost(message, repeated, tag = "22")]
    pub(crate) vendor_extension: Vec<NamedAny>,
}

/// `openapi.v2.PrimitivesItems`: the items of an array parameter.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct PrimitivesItems {
    #[prost(string, tag = "1")]
    pub(crate) r#type: String,
    #[prost(string, tag = "2")]
    pub(crate) format: String,
    #[prost(message, optional, boxed, tag = "3")]
    pub(crate) items: Option<Box<PrimitivesItems>>,
    #[prost(string, tag = "4")]
    pub(crate) collection_format: String,
    #[prost(message, optional, tag = "5")]
    pub(crate) default: Option<Any>,
    #[prost(double, tag = "6")]
    pub(crate) maximum: f64,
    #[prost(bool, tag = "7")]
    pub(crate) exclusive_maximum: bool,
    #[prost(double, tag = "8")]
    pub(crate) minimum: f64,
    #[prost(bool, tag = "9")]
    pub(crate) exclusive_minimum: bool,
    #[prost(int64, tag = "10")]
    pub(crate) max_length: i64,
    #[prost(int64, tag = "11")]
    pub(crate) min_length: i64,
    #[prost(string, tag = "12")]
    pub(crate) pattern: String,
    #[prost(int64, tag = "13")]
    pub(crate) max_items: i64,
    #[prost(int64, tag = "14")]
    pub(crate) min_items: i64,
    #[prost(bool, tag = "15")]
    pub(crate) unique_items: bool,
    #[prost(message, repeated, tag = "16")]
    pub(crate) r#enum: Vec<Any>,
    #[prost(double, tag = "17")]
    pub(crate) multiple_of: f64,
    #[prost(message, repeated, tag = "18")]
    pub(crate) vendor_extension: Vec<NamedAny>,
}

/// `openapi.v2.Responses`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Responses {
    #[prost(message, repeated, tag = "1")]
    pub(crate) response_code: Vec<NamedResponseValue>,
    #[prost(message, repeated, tag = "2")]
    pub(crate) vendor_extension: Vec<NamedAny>,
}

/// `openapi.v2.NamedResponseValue`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct NamedResponseValue {
    #[prost(string, tag = "1")]
    pub(crate) name: String,
    #[prost(message, optional, tag = "2")]
    pub(crate) value: Option<ResponseValue>,
}

/// `openapi.v2.ResponseValue`: a response or a reference to one.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ResponseValue {
    #[prost(oneof = "response_value::Oneof", tags = "1, 2")]
    pub(crate) oneof: Option<response_value::Oneof>,
}

/// The alternatives of [`ResponseValue`].
pub(crate) mod response_value {
    /// `ResponseValue.oneof`.
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub(crate) enum Oneof {
        #[prost(message, tag = "1", boxed)]
        Response(Box<super::Response>),
        #[prost(message, tag = "2")]
        JsonReference(super::JsonReference),
    }
}

/// `openapi.v2.Response` (headers and examples are not used).
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Response {
    #[prost(string, tag = "1")]
    pub(crate) description: String,
    #[prost(message, optional, tag = "2")]
    pub(crate) schema: Option<SchemaItem>,
    #[prost(message, repeated, tag = "5")]
    pub(crate) vendor_extension: Vec<NamedAny>,
}

/// `openapi.v2.SchemaItem` (file schemas are not used).
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct SchemaItem {
    #[prost(oneof = "schema_item::Oneof", tags = "1")]
    pub(crate) oneof: Option<schema_item::Oneof>,
}

/// The alternatives of [`SchemaItem`].
pub(crate) mod schema_item {
    /// `SchemaItem.oneof`.
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub(crate) enum Oneof {
        #[prost(message, tag = "1", boxed)]
        Schema(Box<super::Schema>),
    }
}

/// `openapi.v2.Schema`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Schema {
    #[prost(string, tag = "1")]
    pub(crate) ref_: String,
    #[prost(string, tag = "2")]
    pub(crate) format: String,
    #[prost(string, tag = "3")]
    pub(crate) title: String,
    #[prost(string, tag = "4")]
    pub(crate) description: String,
    #[prost(message, optional, tag = "5")]
    pub(crate) default: Option<Any>,
    #[prost(double, tag = "6")]
    pub(crate) multiple_of: f64,
    #[prost(double, tag = "7")]
    pub(crate) maximum: f64,
    #[prost(bool, tag = "8")]
    pub(crate) exclusive_maximum: bool,
    #[prost(double, tag = "9")]
    pub(crate) minimum: f64,
    #[prost(bool, tag = "10")]
    pub(crate) exclusive_minimum: bool,
    #[prost(int64, tag = "11")]
    pub(crate) max_length: i64,
    #[prost(int64, tag = "12")]
    pub(crate) min_length: i64,
    #[prost(string, tag = "13")]
    pub(crate) pattern: String,
    #[prost(int64, tag = "14")]
    pub(crate) max_items: i64,
    #[prost(int64, tag = "15")]
    pub(crate) min_items: i64,
    #[prost(bool, tag = "16")]
    pub(crate) unique_items: bool,
    #[prost(int64, tag = "17")]
    pub(crate) max_properties: i64,
    #[prost(int64, tag = "18")]
    pub(crate) min_properties: i64,
    #[prost(string, repeated, tag = "19")]
    pub(crate) required: Vec<String>,
    #[prost(message, repeated, tag = "20")]
    pub(crate) r#enum: Vec<Any>,
    #[prost(message, optional, boxed, tag = "21")]
    pub(crate) additional_properties: Option<Box<AdditionalPropertiesItem>>,
    #[prost(message, optional, tag = "22")]
    pub(crate) r#type: Option<TypeItem>,
    #[prost(message, optional, tag = "23")]
    pub(crate) items: Option<ItemsItem>,
    #[prost(message, repeated, tag = "24")]
    pub(crate) all_of: Vec<Schema>,
    #[prost(message, optional, tag = "25")]
    pub(crate) properties: Option<Properties>,
    #[prost(string, tag = "26")]
    pub(crate) discriminator: String,
    #[prost(bool, tag = "27")]
    pub(crate) read_only: bool,
    #[prost(message, optional, tag = "28")]
    pub(crate) xml: Option<Xml>,
    #[prost(message, optional, tag = "29")]
    pub(crate) external_docs: Option<ExternalDocs>,
    #[prost(message, optional, tag = "30")]
    pub(crate) example: Option<Any>,
    #[prost(message, repeated, tag = "31")]
    pub(crate) vendor_extension: Vec<NamedAny>,
}

/// `openapi.v2.AdditionalPropertiesItem`: a schema or a boolean.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct AdditionalPropertiesItem {
    #[prost(oneof = "additional_properties_item::Oneof", tags = "1, 2")]
    pub(crate) oneof: Option<additional_properties_item::Oneof>,
}

/// The alternatives of [`AdditionalPropertiesItem`].
pub(crate) mod additional_properties_item {
    /// `AdditionalPropertiesItem.oneof`.
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub(crate) enum Oneof {
        #[prost(message, tag = "1", boxed)]
        Schema(Box<super::Schema>),
        #[prost(bool, tag = "2")]
        Boolean(bool),
    }
}

/// `openapi.v2.TypeItem`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct TypeItem {
    #[prost(string, repeated, tag = "1")]
    pub(crate) value: Vec<String>,
}

/// `openapi.v2.ItemsItem`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ItemsItem {
    #[prost(message, repeated, tag = "1")]
    pub(crate) schema: Vec<Schema>,
}

/// `openapi.v2.Properties`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Properties {
    #[prost(message, repeated, tag = "1")]
    pub(crate) additional_properties: Vec<NamedSchema>,
}

/// `openapi.v2.NamedSchema`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct NamedSchema {
    #[prost(string, tag = "1")]
    pub(crate) name: String,
    #[prost(message, optional, tag = "2")]
    pub(crate) value: Option<Schema>,
}

/// `openapi.v2.Definitions`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Definitions {
    #[prost(message, repeated, tag = "1")]
    pub(crate) additional_properties: Vec<NamedSchema>,
}

/// `openapi.v2.ParameterDefinitions`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ParameterDefinitions {
    #[prost(message, repeated, tag = "1")]
    pub(crate) additional_properties: Vec<NamedParameter>,
}

/// `openapi.v2.NamedParameter`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct NamedParameter {
    #[prost(string, tag = "1")]
    pub(crate) name: String,
    #[prost(message, optional, tag = "2")]
    pub(crate) value: Option<Parameter>,
}

/// `openapi.v2.ResponseDefinitions`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ResponseDefinitions {
    #[prost(message, repeated, tag = "1")]
    pub(crate) additional_properties: Vec<NamedResponse>,
}

/// `openapi.v2.NamedResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct NamedResponse {
    #[prost(string, tag = "1")]
    pub(crate) name: String,
    #[prost(message, optional, tag = "2")]
    pub(crate) value: Option<Response>,
}

/// `openapi.v2.ExternalDocs`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ExternalDocs {
    #[prost(string, tag = "1")]
    pub(crate) description: String,
    #[prost(string, tag = "2")]
    pub(crate) url: String,
    #[prost(message, repeated, tag = "3")]
    pub(crate) vendor_extension: Vec<NamedAny>,
}

/// `openapi.v2.Xml`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Xml {
    #[prost(string, tag = "1")]
    pub(crate) name: String,
    #[prost(string, tag = "2")]
    pub(crate) namespace: String,
    #[prost(string, tag = "3")]
    pub(crate) prefix: String,
    #[prost(bool, tag = "4")]
    pub(crate) attribute: bool,
    #[prost(bool, tag = "5")]
    pub(crate) wrapped: bool,
    #[prost(message, repeated, tag = "6")]
    pub(crate) vendor_extension: Vec<NamedAny>,
}

/// `openapi.v2.Tag`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Tag {
    #[prost(string, tag = "1")]
    pub(crate) name: String,
    #[prost(string, tag = "2")]
    pub(crate) description: String,
    #[prost(message, optional, tag = "3")]
    pub(crate) external_docs: Option<ExternalDocs>,
    #[prost(message, repeated, tag = "4")]
    pub(crate) vendor_extension: Vec<NamedAny>,
}

/// `openapi.v2.SecurityDefinitions`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct SecurityDefinitions {
    #[prost(message, repeated, tag = "1")]
    pub(crate) additional_properties: Vec<NamedSecurityDefinitionsItem>,
}

/// `openapi.v2.NamedSecurityDefinitionsItem`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct NamedSecurityDefinitionsItem {
    #[prost(string, tag = "1")]
    pub(crate) name: String,
    #[prost(message, optional, tag = "2")]
    pub(crate) value: Option<SecurityDefinitionsItem>,
}

/// `openapi.v2.SecurityDefinitionsItem` (the OAuth 2 flows are not used).
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct SecurityDefinitionsItem {
    #[prost(oneof = "security_definitions_item::Oneof", tags = "1, 2")]
    pub(crate) oneof: Option<security_definitions_item::Oneof>,
}

/// The alternatives of [`SecurityDefinitionsItem`].
pub(crate) mod security_definitions_item {
    /// `SecurityDefinitionsItem.oneof`.
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub(crate) enum Oneof {
        #[prost(message, tag = "1")]
        BasicAuthenticationSecurity(super::BasicAuthenticationSecurity),
        #[prost(message, tag = "2")]
        ApiKeySecurity(super::ApiKeySecurity),
    }
}

/// `openapi.v2.BasicAuthenticationSecurity`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct BasicAuthenticationSecurity {
    #[prost(string, tag = "1")]
    pub(crate) r#type: String,
    #[prost(string, tag = "2")]
    pub(crate) description: String,
    #[prost(message, repeated, tag = "3")]
    pub(crate) vendor_extension: Vec<NamedAny>,
}

/// `openapi.v2.ApiKeySecurity`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ApiKeySecurity {
    #[prost(string, tag = "1")]
    pub(crate) r#type: String,
    #[prost(string, tag = "2")]
    pub(crate) name: String,
    #[prost(string, tag = "3")]
    pub(crate) r#in: String,
    #[prost(string, tag = "4")]
    pub(crate) description: String,
    #[prost(message, repeated, tag = "5")]
    pub(crate) vendor_extension: Vec<NamedAny>,
}

/// `openapi.v2.SecurityRequirement`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct SecurityRequirement {
    #[prost(message, repeated, tag = "1")]
    pub(crate) additional_properties: Vec<NamedStringArray>,
}

/// `openapi.v2.NamedStringArray`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct NamedStringArray {
    #[prost(string, tag = "1")]
    pub(crate) name: String,
    #[prost(message, optional, tag = "2")]
    pub(crate) value: Option<StringArray>,
}

/// `openapi.v2.StringArray`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct StringArray {
    #[prost(string, repeated, tag = "1")]
    pub(crate) value: Vec<String>,
}

// ---------------------------------------------------------------------------
// JSON → messages

fn string(map: &Map<String, Value>, key: &str) -> String {
    map.get(key).and_then(Value::as_str).unwrap_or_default().to_owned()
}

fn strings(map: &Map<String, Value>, key: &str) -> Vec<String> {
    match map.get(key) {
        Some(Value::Array(values)) => values.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

fn boolean(map: &Map<String, Value>, key: &str) -> bool {
    map.get(key).and_then(Value::as_bool).unwrap_or_default()
}

fn number(map: &Map<String, Value>, key: &str) -> f64 {
    map.get(key).and_then(Value::as_f64).unwrap_or_default()
}

fn integer(map: &Map<String, Value>, key: &str) -> i64 {
    map.get(key).and_then(Value::as_i64).unwrap_or_default()
}

pub(crate) fn object(value: &Value) -> &Map<String, Value> {
    static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
    value.as_object().unwrap_or_else(|| EMPTY.get_or_init(Map::new))
}

/// A free-form value, as YAML (compact JSON is YAML) text.
fn any(value: &Value) -> Any {
    Any { value: None, yaml: format!("{value}\n") }
}

fn any_of(map: &Map<String, Value>, key: &str) -> Option<Any> {
    map.get(key).map(any)
}

fn anys(map: &Map<String, Value>, key: &str) -> Vec<Any> {
    match map.get(key) {
        Some(Value::Array(values)) => values.iter().map(any).collect(),
        _ => Vec::new(),
    }
}

/// The `x-…` fields of an object.
fn extensions(map: &Map<String, Value>) -> Vec<NamedAny> {
    map.iter()
        .filter(|(k, _)| k.starts_with("x-"))
        .map(|(k, v)| NamedAny { name: k.clone(), value: Some(any(v)) })
        .collect()
}

/// The protobuf message of a v2 JSON document.
pub(crate) fn document(doc: &Value) -> Document {
    let map = object(doc);
    let info = map.get("info").map(object).map(|m| Info {
        title: string(m, "title"),
        version: string(m, "version"),
        description: string(m, "description"),
        terms_of_service: string(m, "termsOfService"),
        vendor_extension: extensions(m),
    });
    let paths = map.get("paths").map(object).map(|m| Paths {
        vendor_extension: extensions(m),
        path: m
            .iter()
            .filter(|(k, _)| !k.starts_with("x-"))
            .map(|(k, v)| NamedPathItem { name: k.clone(), value: Some(path_item(object(v))) })
            .collect(),
    });
    let definitions =
        map.get("definitions").map(object).map(|m| Definitions { additional_properties: named_schemas(m) });
    let security_definitions = map.get("securityDefinitions").map(object).map(|m| SecurityDefinitions {
        additional_properties: m
            .iter()
            .map(|(k, v)| NamedSecurityDefinitionsItem { name: k.clone(), value: Some(security_definition(object(v))) })
            .collect(),
    });
    let tags = match map.get("tags") {
        Some(Value::Array(tags)) => tags
            .iter()
            .map(|t| {
                let m = object(t);
                Tag {
                    name: string(m, "name"),
                    description: string(m, "description"),
                    external_docs: m.get("externalDocs").map(|d| external_docs(object(d))),
                    vendor_extension: extensions(m),
                }
            })
            .collect(),
        _ => Vec::new(),
    };
    Document {
        swagger: string(map, "swagger"),
        info,
        host: string(map, "host"),
        base_path: string(map, "basePath"),
        schemes: strings(map, "schemes"),
        consumes: strings(map, "consumes"),
        produces: strings(map, "produces"),
        paths,
        definitions,
        parameters: map.get("parameters").map(object).map(|m| ParameterDefinitions {
            additional_properties: m
                .iter()
                .map(|(k, v)| NamedParameter { name: k.clone(), value: Some(parameter(object(v))) })
                .collect(),
        }),
        responses: map.get("responses").map(object).map(|m| ResponseDefinitions {
            additional_properties: m
                .iter()
                .map(|(k, v)| NamedResponse { name: k.clone(), value: Some(response(object(v))) })
                .collect(),
        }),
        security: security(map),
        security_definitions,
        tags,
        external_docs: map.get("externalDocs").map(|d| external_docs(object(d))),
        vendor_extension: extensions(map),
    }
}

fn security(map: &Map<String, Value>) -> Vec<SecurityRequirement> {
    match map.get("security") {
        Some(Value::Array(reqs)) => reqs
            .iter()
            .map(|r| SecurityRequirement {
                additional_properties: object(r)
                    .iter()
                    .map(|(k, v)| NamedStringArray {
                        name: k.clone(),
                        value: Some(StringArray {
                            value: v
                                .as_array()
                                .into_iter()
                                .flatten()
                                .filter_map(Value::as_str)
                                .map(str::to_owned)
                                .collect(),
                        }),
                    })
                    .collect(),
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn security_definition(m: &Map<String, Value>) -> SecurityDefinitionsItem {
    let oneof = if string(m, "type") == "basic" {
        security_definitions_item::Oneof::BasicAuthenticationSecurity(BasicAuthenticationSecurity {
            r#type: string(m, "type"),
            description: string(m, "description"),
            vendor_extension: extensions(m),
        })
    } else {
        security_definitions_item::Oneof::ApiKeySecurity(ApiKeySecurity {
            r#type: string(m, "type"),
            name: string(m, "name"),
            r#in: string(m, "in"),
            description: string(m, "description"),
            vendor_extension: extensions(m),
        })
    };
    SecurityDefinitionsItem { oneof: Some(oneof) }
}

fn external_docs(m: &Map<String, Value>) -> ExternalDocs {
    ExternalDocs { description: string(m, "description"), url: string(m, "url"), vendor_extension: extensions(m) }
}

pub(crate) fn path_item(m: &Map<String, Value>) -> PathItem {
    let op = |method: &str| m.get(method).map(|o| operation(object(o)));
    PathItem {
        ref_: string(m, "$ref"),
        get: op("get"),
        put: op("put"),
        post: op("post"),
        delete: op("delete"),
        options: op("options"),
        head: op("head"),
        patch: op("patch"),
        parameters: parameters_items(m),
        vendor_extension: extensions(m),
    }
}

fn parameters_items(m: &Map<String, Value>) -> Vec<ParametersItem> {
    let Some(Value::Array(params)) = m.get("parameters") else { return Vec::new() };
    params
        .iter()
        .map(|p| {
            let pm = object(p);
            let oneof = if pm.contains_key("$ref") {
                parameters_item::Oneof::JsonReference(JsonReference {
                    ref_: string(pm, "$ref"),
                    description: string(pm, "description"),
                })
            } else {
                parameters_item::Oneof::Parameter(parameter(pm))
            };
            ParametersItem { oneof: Some(oneof) }
        })
        .collect()
}

fn operation(m: &Map<String, Value>) -> Operation {
    Operation {
        tags: strings(m, "tags"),
        summary: string(m, "summary"),
        description: string(m, "description"),
        external_docs: m.get("externalDocs").map(|d| external_docs(object(d))),
        operation_id: string(m, "operationId"),
        produces: strings(m, "produces"),
        consumes: strings(m, "consumes"),
        parameters: parameters_items(m),
        responses: m.get("responses").map(object).map(|r| Responses {
            response_code: r
                .iter()
                .filter(|(k, _)| !k.starts_with("x-"))
                .map(|(code, v)| {
                    let vm = object(v);
                    let oneof = if vm.contains_key("$ref") {
                        response_value::Oneof::JsonReference(JsonReference {
                            ref_: string(vm, "$ref"),
                            description: string(vm, "description"),
                        })
                    } else {
                        response_value::Oneof::Response(Box::new(response(vm)))
                    };
                    NamedResponseValue { name: code.clone(), value: Some(ResponseValue { oneof: Some(oneof) }) }
                })
                .collect(),
            vendor_extension: extensions(r),
        }),
        schemes: strings(m, "schemes"),
        deprecated: boolean(m, "deprecated"),
        security: security(m),
        vendor_extension: extensions(m),
    }
}

fn response(m: &Map<String, Value>) -> Response {
    Response {
        description: string(m, "description"),
        schema: m
            .get("schema")
            .map(|s| SchemaItem { oneof: Some(schema_item::Oneof::Schema(Box::new(schema(object(s))))) }),
        vendor_extension: extensions(m),
    }
}

fn primitives_items(m: &Map<String, Value>) -> PrimitivesItems {
    PrimitivesItems {
        r#type: string(m, "type"),
        format: string(m, "format"),
        items: m.get("items").map(|i| Box::new(primitives_items(object(i)))),
        collection_format: string(m, "collectionFormat"),
        default: any_of(m, "default"),
        maximum: number(m, "maximum"),
        exclusive_maximum: boolean(m, "exclusiveMaximum"),
        minimum: number(m, "minimum"),
        exclusive_minimum: boolean(m, "exclusiveMinimum"),
        max_length: integer(m, "maxLength"),
        min_length: integer(m, "minLength"),
        pattern: string(m, "pattern"),
        max_items: integer(m, "maxItems"),
        min_items: integer(m, "minItems"),
        unique_items: boolean(m, "uniqueItems"),
        r#enum: anys(m, "enum"),
        multiple_of: number(m, "multipleOf"),
        vendor_extension: extensions(m),
    }
}

fn parameter(m: &Map<String, Value>) -> Parameter {
    let location = string(m, "in");
    let oneof = if location == "body" {
        parameter::Oneof::BodyParameter(Box::new(BodyParameter {
            description: string(m, "description"),
            name: string(m, "name"),
            r#in: location,
            required: boolean(m, "required"),
            schema: m.get("schema").map(|s| schema(object(s))),
            vendor_extension: extensions(m),
        }))
    } else {
        let sub = match location.as_str() {
            "query" | "formData" => {
                let q = Box::new(QueryParameterSubSchema {
                    required: boolean(m, "required"),
                    r#in: location.clone(),
                    description: string(m, "description"),
                    name: string(m, "name"),
                    allow_empty_value: boolean(m, "allowEmptyValue"),
                    r#type: string(m, "type"),
                    format: string(m, "format"),
                    items: m.get("items").map(|i| primitives_items(object(i))),
                    collection_format: string(m, "collectionFormat"),
                    default: any_of(m, "default"),
                    maximum: number(m, "maximum"),
                    exclusive_maximum: boolean(m, "exclusiveMaximum"),
                    minimum: number(m, "minimum"),
                    exclusive_minimum: boolean(m, "exclusiveMinimum"),
                    max_length: integer(m, "maxLength"),
                    min_length: integer(m, "minLength"),
                    pattern: string(m, "pattern"),
                    max_items: integer(m, "maxItems"),
                    min_items: integer(m, "minItems"),
                    unique_items: boolean(m, "uniqueItems"),
                    r#enum: anys(m, "enum"),
                    multiple_of: number(m, "multipleOf"),
                    vendor_extension: extensions(m),
                });
                if location == "query" {
                    non_body_parameter::Oneof::QueryParameterSubSchema(q)
                } else {
                    non_body_parameter::Oneof::FormDataParameterSubSchema(q)
                }
            }
            _ => {
                let p = Box::new(PathParameterSubSchema {
                    required: boolean(m, "required"),
                    r#in: location.clone(),
                    description: string(m, "description"),
                    name: string(m, "name"),
                    r#type: string(m, "type"),
                    format: string(m, "format"),
                    items: m.get("items").map(|i| primitives_items(object(i))),
                    collection_format: string(m, "collectionFormat"),
                    default: any_of(m, "default"),
                    maximum: number(m, "maximum"),
                    exclusive_maximum: boolean(m, "exclusiveMaximum"),
                    minimum: number(m, "minimum"),
                    exclusive_minimum: boolean(m, "exclusiveMinimum"),
                    max_length: integer(m, "maxLength"),
                    min_length: integer(m, "minLength"),
                    pattern: string(m, "pattern"),
                    max_items: integer(m, "maxItems"),
                    min_items: integer(m, "minItems"),
                    unique_items: boolean(m, "uniqueItems"),
                    r#enum: anys(m, "enum"),
                    multiple_of: number(m, "multipleOf"),
                    vendor_extension: extensions(m),
                });
                if location == "header" {
                    non_body_parameter::Oneof::HeaderParameterSubSchema(p)
                } else {
                    non_body_parameter::Oneof::PathParameterSubSchema(p)
                }
            }
        };
        parameter::Oneof::NonBodyParameter(NonBodyParameter { oneof: Some(sub) })
    };
    Parameter { oneof: Some(oneof) }
}

fn named_schemas(m: &Map<String, Value>) -> Vec<NamedSchema> {
    m.iter().map(|(k, v)| NamedSchema { name: k.clone(), value: Some(schema(object(v))) }).collect()
}

/// The protobuf message of a v2 JSON schema.
pub(crate) fn schema(m: &Map<String, Value>) -> Schema {
    let additional_properties = m.get("additionalProperties").map(|a| {
        let oneof = match a {
            Value::Bool(b) => additional_properties_item::Oneof::Boolean(*b),
            other => additional_properties_item::Oneof::Schema(Box::new(schema(object(other)))),
        };
        Box::new(AdditionalPropertiesItem { oneof: Some(oneof) })
    });
    let items = m.get("items").map(|i| ItemsItem {
        schema: match i {
            Value::Array(list) => list.iter().map(|s| schema(object(s))).collect(),
            other => vec![schema(object(other))],
        },
    });
    let all_of = match m.get("allOf") {
        Some(Value::Array(list)) => list.iter().map(|s| schema(object(s))).collect(),
        _ => Vec::new(),
    };
    let xml = m.get("xml").map(object).map(|x| Xml {
        name: string(x, "name"),
        namespace: string(x, "namespace"),
        prefix: string(x, "prefix"),
        attribute: boolean(x, "attribute"),
        wrapped: boolean(x, "wrapped"),
        vendor_extension: extensions(x),
    });
    Schema {
        ref_: string(m, "$ref"),
        format: string(m, "format"),
        title: string(m, "title"),
        description: string(m, "description"),
        default: any_of(m, "default"),
        multiple_of: number(m, "multipleOf"),
        maximum: number(m, "maximum"),
        exclusive_maximum: boolean(m, "exclusiveMaximum"),
        minimum: number(m, "minimum"),
        exclusive_minimum: boolean(m, "exclusiveMinimum"),
        max_length: integer(m, "maxLength"),
        min_length: integer(m, "minLength"),
        pattern: string(m, "pattern"),
        max_items: integer(m, "maxItems"),
        min_items: integer(m, "minItems"),
        unique_items: boolean(m, "uniqueItems"),
        max_properties: integer(m, "maxProperties"),
        min_properties: integer(m, "minProperties"),
        required: strings(m, "required"),
        r#enum: anys(m, "enum"),
        additional_properties,
        r#type: m.contains_key("type").then(|| TypeItem { value: strings(m, "type") }),
        items,
        all_of,
        properties: m.get("properties").map(object).map(|p| Properties { additional_properties: named_schemas(p) }),
        discriminator: string(m, "discriminator"),
        read_only: boolean(m, "readOnly"),
        xml,
        external_docs: m.get("externalDocs").map(|d| external_docs(object(d))),
        example: any_of(m, "example"),
        vendor_extension: extensions(m),
    }
}
