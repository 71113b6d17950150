//! Validation of custom resource definitions, as kube-apiserver does it.
//!
//! Error paths use the v1 field names (`spec.conversion.webhook.clientConfig`,
//! `additionalPrinterColumns[0].jsonPath`) where kube-apiserver reports those
//! of its internal version.

use std::collections::{BTreeSet, HashSet};

use super::{
    CustomResourceColumnDefinition, CustomResourceConversion, CustomResourceDefinition, CustomResourceDefinitionNames,
    CustomResourceDefinitionSpec, CustomResourceDefinitionVersion, CustomResourceSubresources, JSONSchemaProps,
    JSONSchemaPropsOrArray, KUBE_API_APPROVED_ANNOTATION, SelectableField, WebhookClientConfig, structural_errors,
};
use crate::validation::{
    DNS1035_LABEL_ERROR, DNS1123_SUBDOMAIN_ERROR, ErrorList, FieldError, NameRule, Path, Validate, is_dns1035_label,
    is_dns1123_subdomain, validate_immutable, validate_object_meta, validate_object_meta_update,
};

const PRINTER_COLUMN_TYPES: &str = "boolean,date,integer,number,string";
const PRINTER_COLUMN_FORMATS: &str = "byte,date,date-time,double,float,int32,int64,password";
const MAX_SELECTABLE_FIELDS: usize = 8;

impl Validate for CustomResourceDefinition {
    fn validate(&self) -> ErrorList {
        let mut errs = ErrorList::new();
        validate_object_meta(&self.metadata, false, NameRule::Subdomain, &mut errs);
        let required_name = format!("{}.{}", self.spec.names.plural, self.spec.group);
        if !self.metadata.name.is_empty() && self.metadata.name != required_name {
            errs.push(FieldError::invalid(
                &Path::new("metadata").child("name"),
                &self.metadata.name,
                r#"must be spec.names.plural+"."+spec.group"#,
            ));
        }
        validate_spec(&self.spec, &Options::create(), &Path::new("spec"), &mut errs);
        validate_status(self, &mut errs);
        validate_api_approval(self, None, &mut errs);
        validate_preserve_unknown_fields(self, None, &mut errs);
        errs
    }

    fn validate_update(&self, old: &Self) -> ErrorList {
        let mut errs = ErrorList::new();
        validate_object_meta_update(&self.metadata, &old.metadata, false, NameRule::Subdomain, &mut errs);
        let opts = Options::update(old);
        let spec = Path::new("spec");
        validate_spec(&self.spec, &opts, &spec, &mut errs);
        if old.condition_true("Established") {
            validate_immutable(&self.spec.scope, &old.spec.scope, &spec.child("scope"), &mut errs);
            validate_immutable(
                &self.spec.names.kind,
                &old.spec.names.kind,
                &spec.child("names").child("kind"),
                &mut errs,
            );
        }
        validate_immutable(&self.spec.group, &old.spec.group, &spec.child("group"), &mut errs);
        validate_immutable(
            &self.spec.names.plural,
            &old.spec.names.plural,
            &spec.child("names").child("plural"),
            &mut errs,
        );
        validate_status(self, &mut errs);
        validate_api_approval(self, Some(old), &mut errs);
        validate_preserve_unknown_fields(self, Some(old), &mut errs);
        errs
    }
}

/// What an update may keep from the old object (validation is never tightened
/// on data that was accepted before).
struct Options<'a> {
    /// Versions whose schema is unchanged from an old object whose schemas
    /// were not all valid: their schema is not checked again.
    ratcheted_schemas: BTreeSet<&'a str>,
    /// Whether webhook conversion must accept `v1` or `v1beta1` reviews.
    require_recognized_review_version: bool,
    /// Whether every version needs a schema.
    require_schema: bool,
}

impl<'a> Options<'a> {
    fn create() -> Self {
        Self { ratcheted_schemas: BTreeSet::new(), require_recognized_review_version: true, require_schema: true }
    }

    fn update(old: &'a CustomResourceDefinition) -> Self {
        let old_schemas_valid = old.spec.versions.iter().all(|v| {
            v.schema
                .as_ref()
                .and_then(|s| s.open_api_v3_schema.as_ref())
                .is_none_or(|s| structural_errors(s, &Path::default()).is_empty())
        });
        let ratcheted_schemas = if old_schemas_valid {
            BTreeSet::new()
        } else {
            old.spec.versions.iter().map(|v| v.name.as_str()).collect()
        };
        let review_versions =
            old.spec.conversion.as_ref().and_then(|c| c.webhook.as_ref()).map(|w| &w.conversion_review_versions);
        Self {
            ratcheted_schemas,
            require_recognized_review_version: review_versions
                .is_none_or(|v| v.is_empty() || v.iter().any(|v| v == "v1" || v == "v1beta1")),
            require_schema: old
                .spec
                .versions
                .iter()
                .all(|v| v.schema.as_ref().is_some_and(|s| s.open_api_v3_schema.is_some())),
        }
    }
}

fn has_defaults(s: &JSONSchemaProps) -> bool {
    s.default.is_some()
        || s.items_schema().is_some_and(has_defaults)
        || matches!(&s.items, Some(JSONSchemaPropsOrArray::Schemas(list)) if list.iter().any(has_defaults))
        || s.properties.values().any(has_defaults)
        || s.additional_properties_schema().is_some_and(has_defaults)
        || s.all_of.iter().chain(&s.any_of).chain(&s.one_of).any(has_defaults)
        || s.not.as_deref().is_some_and(has_defaults)
}

fn validate_spec(spec: &CustomResourceDefinitionSpec, opts: &Options<'_>, path: &Path, errs: &mut ErrorList) {
    let group = path.child("group");
    if spec.group.is_empty() {
        errs.push(FieldError::required(&group, ""));
    } else if !is_dns1123_subdomain(&spec.group) {
        errs.push(FieldError::invalid(&group, &spec.group, DNS1123_SUBDOMAIN_ERROR));
    } else if !spec.group.contains('.') {
        errs.push(FieldError::invalid(&group, &spec.group, "should be a domain with at least one dot"));
    }
    enum_string(&spec.scope, &["Cluster", "Namespaced"], &path.child("scope"), errs);

    let versions = path.child("versions");
    if opts.require_schema {
        for (i, v) in spec.versions.iter().enumerate() {
            if v.schema.as_ref().is_none_or(|s| s.open_api_v3_schema.is_none()) {
                errs.push(FieldError::required(
                    &versions.index(i).child("schema").child("openAPIV3Schema"),
                    "schemas are required",
                ));
            }
        }
    }
    let preserve_unknown = spec.preserve_unknown_fields == Some(true);
    let any_defaults =
        spec.versions.iter().filter_map(|v| v.schema.as_ref()?.open_api_v3_schema.as_ref()).any(has_defaults);
    if any_defaults && preserve_unknown {
        errs.push(FieldError::invalid(
            &path.child("preserveUnknownFields"),
            true,
            "must be false in order to use defaults in the schema",
        ));
    }

    let mut storage = 0;
    let mut names = HashSet::new();
    let mut unique = true;
    for (i, v) in spec.versions.iter().enumerate() {
        if v.storage {
            storage += 1;
        }
        unique &= names.insert(v.name.as_str());
        if !is_dns1035_label(&v.name) {
            errs.push(FieldError::invalid(&versions.index(i).child("name"), &v.name, DNS1035_LABEL_ERROR));
        }
        validate_version(v, opts, &versions.index(i), errs);
    }
    let version_names: Vec<&str> = spec.versions.iter().map(|v| v.name.as_str()).collect();
    if !unique {
        errs.push(FieldError::invalid(&versions, &version_names, "must contain unique version names"));
    }
    if storage != 1 {
        errs.push(FieldError::invalid(
            &versions,
            &version_names,
            "must have exactly one version marked as storage version",
        ));
    }

    let names_path = path.child("names");
    let n = &spec.names;
    for (field, empty) in [
        ("plural", n.plural.is_empty()),
        ("singular", n.singular.as_deref().is_none_or(str::is_empty)),
        ("kind", n.kind.is_empty()),
        ("listKind", n.list_kind.as_deref().is_none_or(str::is_empty)),
    ] {
        if empty {
            errs.push(FieldError::required(&names_path.child(field), ""));
        }
    }
    validate_names(n, &names_path, errs);

    if let Some(conversion) = &spec.conversion {
        if conversion.strategy != "None" && preserve_unknown {
            errs.push(FieldError::invalid(
                &path.child("conversion").child("strategy"),
                &conversion.strategy,
                "must be None if spec.preserveUnknownFields is true",
            ));
        }
        validate_conversion(conversion, opts.require_recognized_review_version, &path.child("conversion"), errs);
    }
}

/// `validateEnumStrings`: required, and one of `accepted`.
fn enum_string(value: &str, accepted: &[&str], path: &Path, errs: &mut ErrorList) {
    if value.is_empty() {
        errs.push(FieldError::required(path, ""));
    } else if !accepted.contains(&value) {
        errs.push(FieldError::not_supported(path, value, accepted));
    }
}

/// Syntax of the names (of the spec, and of `status.acceptedNames`).
fn validate_names(n: &CustomResourceDefinitionNames, path: &Path, errs: &mut ErrorList) {
    if !n.plural.is_empty() && !is_dns1035_label(&n.plural) {
        errs.push(FieldError::invalid(&path.child("plural"), &n.plural, DNS1035_LABEL_ERROR));
    }
    if let Some(s) = n.singular.as_deref()
        && !s.is_empty()
        && !is_dns1035_label(s)
    {
        errs.push(FieldError::invalid(&path.child("singular"), s, DNS1035_LABEL_ERROR));
    }
    let mixed = format!("may have mixed case, but should otherwise match: {DNS1035_LABEL_ERROR}");
    if !n.kind.is_empty() && !is_dns1035_label(&n.kind.to_lowercase()) {
        errs.push(FieldError::invalid(&path.child("kind"), &n.kind, &mixed));
    }
    let list_kind = n.list_kind.as_deref().unwrap_or("");
    if !list_kind.is_empty() && !is_dns1035_label(&list_kind.to_lowercase()) {
        errs.push(FieldError::invalid(&path.child("listKind"), list_kind, &mixed));
    }
    for (i, s) in n.short_names.iter().enumerate() {
        if !is_dns1035_label(s) {
            errs.push(FieldError::invalid(&path.child("shortNames").index(i), s, DNS1035_LABEL_ERROR));
        }
    }
    if !n.kind.is_empty() && n.kind == list_kind {
        errs.push(FieldError::invalid(&path.child("listKind"), list_kind, "kind and listKind may not be the same"));
    }
    for (i, c) in n.categories.iter().enumerate() {
        if !is_dns1035_label(c) {
            errs.push(FieldError::invalid(&path.child("categories").index(i), c, DNS1035_LABEL_ERROR));
        }
    }
}

fn validate_version(v: &CustomResourceDefinitionVersion, opts: &Options<'_>, path: &Path, errs: &mut ErrorList) {
    let deprecated = v.deprecated == Some(true);
    if let Some(w) = &v.deprecation_warning {
        let p = path.child("deprecationWarning");
        if !deprecated {
            errs.push(FieldError::invalid(&p, w, "can only be set for deprecated versions"));
        } else {
            if w.len() > 256 {
                errs.push(FieldError::invalid(&p, w, "must be <= 256 characters long"));
            }
            if w.is_empty() {
                errs.push(FieldError::invalid(&p, w, "must not be an empty string"));
            }
            if let Some((i, _)) = w.char_indices().find(|(_, c)| c.is_control()) {
                errs.push(FieldError::invalid(
                    &p,
                    w,
                    format!("must only contain printable UTF-8 characters; control character found at index {i}"),
                ));
            }
        }
    }
    let schema = v.schema.as_ref().and_then(|s| s.open_api_v3_schema.as_ref());
    let status_enabled = v.subresources.as_ref().is_some_and(|s| s.status.is_some());
    if let Some(schema) = schema
        && !opts.ratcheted_schemas.contains(v.name.as_str())
    {
        let schema_path = path.child("schema");
        if status_enabled {
            validate_root_with_status(schema, &schema_path, errs);
        }
        errs.extend(structural_errors(schema, &schema_path.child("openAPIV3Schema")));
    }
    if let Some(sub) = &v.subresources {
        validate_subresources(sub, &path.child("subresources"), errs);
    }
    for (i, col) in v.additional_printer_columns.iter().enumerate() {
        validate_column(col, &path.child("additionalPrinterColumns").index(i), errs);
    }
    if !v.selectable_fields.is_empty() {
        match schema {
            None => errs.push(FieldError::invalid(
                &path.child("selectableFields"),
                "",
                "selectableFields may only be set when version.schema.openAPIV3Schema is not included",
            )),
            Some(schema) => {
                validate_selectable_fields(&v.selectable_fields, schema, &path.child("selectableFields"), errs)
            }
        }
    }
}

/// With the status subresource, the root schema may only use keywords that
/// survive extracting `properties.status`.
fn validate_root_with_status(s: &JSONSchemaProps, path: &Path, errs: &mut ErrorList) {
    let set = |b: bool| b;
    // (name, set, allowed) in the order of Go's struct fields.
    let fields: [(&str, bool, bool); 44] = [
        ("ID", s.id.is_some(), false),
        ("Schema", s.schema.is_some(), false),
        ("Ref", s.ref_.is_some(), false),
        ("Description", s.description.is_some(), true),
        ("Type", s.type_.is_some(), true),
        ("Format", s.format.is_some(), true),
        ("Title", s.title.is_some(), true),
        ("Default", s.default.is_some(), false),
        ("Maximum", s.maximum.is_some(), true),
        ("ExclusiveMaximum", s.exclusive_maximum == Some(true), true),
        ("Minimum", s.minimum.is_some(), true),
        ("ExclusiveMinimum", s.exclusive_minimum == Some(true), true),
        ("MaxLength", s.max_length.is_some(), true),
        ("MinLength", s.min_length.is_some(), true),
        ("Pattern", s.pattern.is_some(), true),
        ("MaxItems", s.max_items.is_some(), true),
        ("MinItems", s.min_items.is_some(), true),
        ("UniqueItems", s.unique_items == Some(true), true),
        ("MultipleOf", s.multiple_of.is_some(), true),
        ("Enum", !s.enum_.is_empty(), false),
        ("MaxProperties", s.max_properties.is_some(), false),
        ("MinProperties", s.min_properties.is_some(), false),
        ("Required", !s.required.is_empty(), true),
        ("Items", s.items.is_some(), true),
        ("AllOf", !s.all_of.is_empty(), false),
        ("OneOf", !s.one_of.is_empty(), false),
        ("AnyOf", !s.any_of.is_empty(), false),
        ("Not", s.not.is_some(), false),
        ("Properties", !s.properties.is_empty(), true),
        ("AdditionalProperties", s.additional_properties.is_some(), false),
        ("PatternProperties", !s.pattern_properties.is_empty(), false),
        ("Dependencies", !s.dependencies.is_empty(), false),
        ("AdditionalItems", s.additional_items.is_some(), false),
        ("Definitions", !s.definitions.is_empty(), false),
        ("ExternalDocs", s.external_docs.is_some(), true),
        ("Example", s.example.is_some(), true),
        ("Nullable", s.nullable == Some(true), false),
        ("XPreserveUnknownFields", s.x_kubernetes_preserve_unknown_fields.is_some(), true),
        ("XEmbeddedResource", s.x_kubernetes_embedded_resource == Some(true), false),
        ("XIntOrString", s.x_kubernetes_int_or_string == Some(true), false),
        ("XListMapKeys", !s.x_kubernetes_list_map_keys.is_empty(), false),
        ("XListType", s.x_kubernetes_list_type.is_some(), false),
        ("XMapType", s.x_kubernetes_map_type.is_some(), false),
        ("XValidations", !s.x_kubernetes_validations.is_empty(), true),
    ];
    for (name, is_set, allowed) in fields {
        if !set(is_set) {
            continue;
        }
        if name == "Type" {
            if s.type_.as_deref() != Some("object") {
                errs.push(FieldError::invalid(
                    &path.child("openAPIV3Schema").child("type"),
                    &s.type_,
                    r#"only "object" is allowed as the type at the root of the schema if the status subresource is enabled"#,
                ));
                break;
            }
            continue;
        }
        if !allowed {
            let allowed_list: Vec<&str> = fields.iter().filter(|f| f.2).map(|f| f.0).collect();
            errs.push(FieldError::invalid(
                &path.child("openAPIV3Schema"),
                s,
                format!(
                    "only [{}] fields are allowed at the root of the schema if the status subresource is enabled",
                    allowed_list.join(" ")
                ),
            ));
            break;
        }
    }
}

/// `validateSimpleJSONPath`: non-empty, starting with `.`.
fn simple_json_path(s: &str, path: &Path, errs: &mut ErrorList) -> bool {
    if s.is_empty() {
        errs.push(FieldError::invalid(path, s, "must not be empty"));
        false
    } else if !s.starts_with('.') {
        errs.push(FieldError::invalid(path, s, "must be a simple json path starting with ."));
        false
    } else {
        true
    }
}

fn validate_subresources(sub: &CustomResourceSubresources, path: &Path, errs: &mut ErrorList) {
    let Some(scale) = &sub.scale else { return };
    let scale_path = path.child("scale");
    let spec_path = scale_path.child("specReplicasPath");
    if scale.spec_replicas_path.is_empty() {
        errs.push(FieldError::required(&spec_path, ""));
    } else if simple_json_path(&scale.spec_replicas_path, &spec_path, errs)
        && !scale.spec_replicas_path.starts_with(".spec.")
    {
        errs.push(FieldError::invalid(&spec_path, &scale.spec_replicas_path, "should be a json path under .spec"));
    }
    let status_path = scale_path.child("statusReplicasPath");
    if scale.status_replicas_path.is_empty() {
        errs.push(FieldError::required(&status_path, ""));
    } else if simple_json_path(&scale.status_replicas_path, &status_path, errs)
        && !scale.status_replicas_path.starts_with(".status.")
    {
        errs.push(FieldError::invalid(
            &status_path,
            &scale.status_replicas_path,
            "should be a json path under .status",
        ));
    }
    if let Some(sel) = scale.label_selector_path.as_deref().filter(|s| !s.is_empty()) {
        let sel_path = scale_path.child("labelSelectorPath");
        if simple_json_path(sel, &sel_path, errs) && !sel.starts_with(".spec.") && !sel.starts_with(".status.") {
            errs.push(FieldError::invalid(&sel_path, sel, "should be a json path under either .spec or .status"));
        }
    }
}

fn validate_column(col: &CustomResourceColumnDefinition, path: &Path, errs: &mut ErrorList) {
    if col.name.is_empty() {
        errs.push(FieldError::required(&path.child("name"), ""));
    }
    let types_msg = format!("must be one of {PRINTER_COLUMN_TYPES}");
    if col.type_.is_empty() {
        errs.push(FieldError::required(&path.child("type"), types_msg));
    } else if !PRINTER_COLUMN_TYPES.split(',').any(|t| t == col.type_) {
        errs.push(FieldError::invalid(&path.child("type"), &col.type_, types_msg));
    }
    if let Some(f) = col.format.as_deref()
        && !f.is_empty()
        && !PRINTER_COLUMN_FORMATS.split(',').any(|x| x == f)
    {
        errs.push(FieldError::invalid(&path.child("format"), f, format!("must be one of {PRINTER_COLUMN_FORMATS}")));
    }
    let jp = path.child("jsonPath");
    if col.json_path.is_empty() {
        errs.push(FieldError::required(&jp, ""));
    } else {
        simple_json_path(&col.json_path, &jp, errs);
    }
}

fn validate_selectable_fields(fields: &[SelectableField], schema: &JSONSchemaProps, path: &Path, errs: &mut ErrorList) {
    let mut unique = BTreeSet::new();
    for (i, f) in fields.iter().enumerate() {
        let p = path.index(i).child("jsonPath");
        if f.json_path.is_empty() {
            errs.push(FieldError::required(&p, ""));
            continue;
        }
        let Some(segments) = f
            .json_path
            .strip_prefix('.')
            .map(|r| r.split('.').collect::<Vec<_>>())
            .filter(|s| s.iter().all(|x| !x.is_empty()))
        else {
            errs.push(FieldError::invalid(
                &p,
                &f.json_path,
                "is an invalid path: must be a simple json path starting with .",
            ));
            continue;
        };
        let mut node = Some(schema);
        for seg in &segments {
            node = node.and_then(|n| n.properties.get(*seg).or(n.additional_properties_schema()));
        }
        let Some(node) = node else {
            errs.push(FieldError::invalid(
                &p,
                &f.json_path,
                format!("is an invalid path: does not refer to a valid field: {}", f.json_path),
            ));
            continue;
        };
        if segments.first() == Some(&"metadata") {
            errs.push(FieldError::invalid(&p, &f.json_path, "must not point to fields in metadata"));
        }
        if !matches!(node.type_.as_deref(), Some("string" | "boolean" | "integer")) {
            errs.push(FieldError::invalid(
                &p,
                &f.json_path,
                "must point to a field of type string, boolean or integer. Enum string fields and strings with formats are allowed.",
            ));
        }
        if !unique.insert(f.json_path.as_str()) {
            errs.push(FieldError::duplicate(&p, &f.json_path));
        }
    }
    if unique.len() > MAX_SELECTABLE_FIELDS {
        errs.push(FieldError::too_many(path, unique.len(), MAX_SELECTABLE_FIELDS));
    }
}

fn validate_conversion(c: &CustomResourceConversion, require_recognized: bool, path: &Path, errs: &mut ErrorList) {
    enum_string(&c.strategy, &["None", "Webhook"], &path.child("strategy"), errs);
    let webhook_path = path.child("webhook");
    let cc_path = webhook_path.child("clientConfig");
    let versions_path = webhook_path.child("conversionReviewVersions");
    let client_config = c.webhook.as_ref().and_then(|w| w.client_config.as_ref());
    let review_versions: &[String] = c.webhook.as_ref().map_or(&[], |w| &w.conversion_review_versions);
    if c.strategy == "Webhook" {
        match client_config {
            None => errs.push(FieldError::required(&cc_path, "required when strategy is set to Webhook")),
            Some(cc) => validate_client_config(cc, &cc_path, errs),
        }
        if review_versions.is_empty() {
            errs.push(FieldError::required(&versions_path, ""));
        } else {
            let mut seen = HashSet::new();
            for (i, v) in review_versions.iter().enumerate() {
                if !seen.insert(v) {
                    errs.push(FieldError::invalid(&versions_path.index(i), v, "duplicate version"));
                    continue;
                }
                if !is_dns1035_label(v) {
                    errs.push(FieldError::invalid(&versions_path.index(i), v, DNS1035_LABEL_ERROR));
                }
            }
            if require_recognized && !review_versions.iter().any(|v| v == "v1" || v == "v1beta1") {
                errs.push(FieldError::invalid(
                    &versions_path,
                    review_versions,
                    "must include at least one of v1, v1beta1",
                ));
            }
        }
    } else {
        if client_config.is_some() {
            errs.push(FieldError::forbidden(&cc_path, "should not be set when strategy is not set to Webhook"));
        }
        if !review_versions.is_empty() {
            errs.push(FieldError::forbidden(&versions_path, "should not be set when strategy is not set to Webhook"));
        }
    }
}

fn validate_client_config(cc: &WebhookClientConfig, path: &Path, errs: &mut ErrorList) {
    match (&cc.url, &cc.service) {
        (Some(url), None) => validate_webhook_url(url, &path.child("url"), errs),
        (None, Some(svc)) => {
            let p = path.child("service");
            if svc.name.is_empty() {
                errs.push(FieldError::required(&p.child("name"), "service name is required"));
            }
            if svc.namespace.is_empty() {
                errs.push(FieldError::required(&p.child("namespace"), "service namespace is required"));
            }
            let port = svc.port.unwrap_or(443);
            if !(1..=65535).contains(&port) {
                errs.push(FieldError::invalid(
                    &p.child("port"),
                    port,
                    "port is not valid: must be between 1 and 65535, inclusive",
                ));
            }
            if let Some(url_path) = svc.path.as_deref() {
                validate_service_path(url_path, &p.child("path"), errs);
            }
        }
        _ => errs.push(FieldError::required(path, "exactly one of url or service is required")),
    }
}

fn validate_service_path(url_path: &str, path: &Path, errs: &mut ErrorList) {
    if url_path.is_empty() || url_path == "/" {
        return;
    }
    if url_path == "//" {
        errs.push(FieldError::invalid(path, url_path, "segment[0] may not be empty"));
        return;
    }
    if !url_path.starts_with('/') {
        errs.push(FieldError::invalid(path, url_path, "must start with a '/'"));
    }
    let check = url_path.strip_prefix('/').unwrap_or(url_path);
    let check = check.strip_suffix('/').unwrap_or(check);
    for (i, step) in check.split('/').enumerate() {
        if step.is_empty() {
            errs.push(FieldError::invalid(path, url_path, format!("segment[{i}] may not be empty")));
        } else if !is_dns1123_subdomain(step) {
            errs.push(FieldError::invalid(path, url_path, format!("segment[{i}]: {DNS1123_SUBDOMAIN_ERROR}")));
        }
    }
}

/// `https://host[:port][/path]`: no user info, query or fragment.
fn validate_webhook_url(url: &str, path: &Path, errs: &mut ErrorList) {
    const FORM: &str = "; desired format: https://host[/path]";
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    if scheme != "https" {
        errs.push(FieldError::invalid(path, scheme, format!("'https' is the only allowed URL scheme{FORM}")));
    }
    let (rest, fragment) = rest.split_once('#').unwrap_or((rest, ""));
    let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
    let authority = rest.split('/').next().unwrap_or("");
    let (user, host) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    if host.is_empty() || url.split_once("://").is_none() {
        errs.push(FieldError::invalid(path, host, format!("host must be specified{FORM}")));
    }
    if let Some(u) = user {
        errs.push(FieldError::invalid(path, u, "user information is not permitted in the URL"));
    }
    if !fragment.is_empty() {
        errs.push(FieldError::invalid(path, fragment, "fragments are not permitted in the URL"));
    }
    if !query.is_empty() {
        errs.push(FieldError::invalid(path, query, "query parameters are not permitted in the URL"));
    }
}

fn validate_status(crd: &CustomResourceDefinition, errs: &mut ErrorList) {
    let Some(status) = &crd.status else { return };
    let path = Path::new("status");
    validate_names(&status.accepted_names, &path.child("acceptedNames"), errs);
    // On create the server fills storedVersions; only check what is given.
    let stored = &status.stored_versions;
    if stored.is_empty() {
        return;
    }
    let sv_path = path.child("storedVersions");
    for v in &crd.spec.versions {
        if v.storage && !stored.contains(&v.name) {
            errs.push(FieldError::invalid(&sv_path, stored, format!("must have the storage version {}", v.name)));
        }
    }
    for (i, s) in stored.iter().enumerate() {
        if !crd.spec.versions.iter().any(|v| &v.name == s) {
            errs.push(FieldError::invalid(
                &sv_path.index(i),
                s,
                format!("missing from spec.versions; {s} was previously a storage version, and must remain in spec.versions until a storage migration ensures no data remains persisted in {s} and removes {s} from status.storedVersions"),
            ));
        }
    }
}

/// Groups under `k8s.io` and `kubernetes.io` need the API approval annotation.
fn validate_api_approval(crd: &CustomResourceDefinition, old: Option<&CustomResourceDefinition>, errs: &mut ErrorList) {
    let g = crd.spec.group.as_str();
    let protected = g == "k8s.io" || g.ends_with(".k8s.io") || g == "kubernetes.io" || g.ends_with(".kubernetes.io");
    if !protected {
        return;
    }
    let state = approval_state(crd);
    if old.is_some_and(|o| approval_state(o) == state) {
        return;
    }
    let path = Path::new("metadata").child("annotations").key(KUBE_API_APPROVED_ANNOTATION);
    match state {
        Approval::Missing => errs.push(FieldError::required(
            &path,
            format!("protected groups must have approval annotation {KUBE_API_APPROVED_ANNOTATION:?}, see https://github.com/kubernetes/enhancements/pull/1111"),
        )),
        Approval::Invalid => errs.push(FieldError::invalid(
            &path,
            &crd.metadata.annotations[KUBE_API_APPROVED_ANNOTATION],
            format!("protected groups must have approval annotation {KUBE_API_APPROVED_ANNOTATION:?} with either a URL or a reason starting with \"unapproved\", see https://github.com/kubernetes/enhancements/pull/1111"),
        )),
        Approval::Approved | Approval::Bypassed => {}
    }
}

#[derive(PartialEq, Eq)]
enum Approval {
    Missing,
    Bypassed,
    Approved,
    Invalid,
}

fn approval_state(crd: &CustomResourceDefinition) -> Approval {
    let value = crd.metadata.annotations.get(KUBE_API_APPROVED_ANNOTATION).map_or("", String::as_str);
    if value.is_empty() {
        Approval::Missing
    } else if value.starts_with("unapproved") {
        Approval::Bypassed
    } else if value
        .split_once("://")
        .is_some_and(|(scheme, rest)| !scheme.is_empty() && !rest.is_empty() && !rest.starts_with('/'))
    {
        Approval::Approved
    } else {
        Approval::Invalid
    }
}

fn validate_preserve_unknown_fields(
    crd: &CustomResourceDefinition,
    old: Option<&CustomResourceDefinition>,
    errs: &mut ErrorList,
) {
    if old.is_some_and(|o| o.spec.preserve_unknown_fields == Some(true)) {
        return;
    }
    if crd.spec.preserve_unknown_fields == Some(true) {
        errs.push(FieldError::invalid(
            &Path::new("spec").child("preserveUnknownFields"),
            true,
            "cannot set to true, set x-kubernetes-preserve-unknown-fields to true in spec.versions[*].schema instead",
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::databases_crd;
    use super::*;
    use crate::ApplyDefaults;
    use serde_json::{Value, json};

    fn causes(errs: &ErrorList) -> Vec<(String, &'static str)> {
        errs.iter().map(|e| (e.field.clone(), e.type_.cause())).collect()
    }

    fn expect(pairs: &[(&str, &'static str)]) -> Vec<(String, &'static str)> {
        pairs.iter().map(|(f, c)| ((*f).to_owned(), *c)).collect()
    }

    fn crd() -> CustomResourceDefinition {
        serde_json::from_value(databases_crd()).unwrap()
    }

    fn v1_schema(c: &mut CustomResourceDefinition) -> &mut JSONSchemaProps {
        c.spec.versions[0].schema.as_mut().and_then(|s| s.open_api_v3_schema.as_mut()).unwrap()
    }

    fn set_schema(c: &mut CustomResourceDefinition, i: usize, v: Value) {
        c.spec.versions[i].schema = Some(super::super::CustomResourceValidation {
            open_api_v3_schema: Some(serde_json::from_value(v).unwrap()),
        });
    }

    #[test]
    fn validation_table() {
        type Case = (&'static str, Box<dyn Fn(&mut CustomResourceDefinition)>, Vec<(String, &'static str)>);
        let cases: Vec<Case> = vec![
            ("valid", Box::new(|_| {}), expect(&[])),
            (
                "name mismatch",
                Box::new(|c| c.metadata.name = "dbs.example.com".into()),
                expect(&[("metadata.name", "FieldValueInvalid")]),
            ),
            (
                "group without dot",
                Box::new(|c| {
                    c.spec.group = "example".into();
                    c.metadata.name = "databases.example".into();
                }),
                expect(&[("spec.group", "FieldValueInvalid")]),
            ),
            (
                "bad scope",
                Box::new(|c| c.spec.scope = "Global".into()),
                expect(&[("spec.scope", "FieldValueNotSupported")]),
            ),
            (
                "two storage versions",
                Box::new(|c| c.spec.versions[1].storage = true),
                expect(&[("spec.versions", "FieldValueInvalid"), ("status.storedVersions", "FieldValueInvalid")]),
            ),
            (
                "no storage version",
                Box::new(|c| {
                    c.spec.versions[0].storage = false;
                    c.status = None;
                }),
                expect(&[("spec.versions", "FieldValueInvalid")]),
            ),
            (
                "duplicate version names",
                Box::new(|c| c.spec.versions[1].name = "v1".into()),
                expect(&[("spec.versions", "FieldValueInvalid")]),
            ),
            (
                "version name",
                Box::new(|c| {
                    c.spec.versions[1].name = "V2".into();
                }),
                expect(&[("spec.versions[1].name", "FieldValueInvalid")]),
            ),
            (
                "missing schema",
                Box::new(|c| c.spec.versions[1].schema = None),
                expect(&[("spec.versions[1].schema.openAPIV3Schema", "FieldValueRequired")]),
            ),
            (
                "missing root type",
                Box::new(|c| v1_schema(c).type_ = None),
                expect(&[("spec.versions[0].schema.openAPIV3Schema.type", "FieldValueRequired")]),
            ),
            (
                "$ref",
                Box::new(|c| {
                    set_schema(c, 1, json!({"type": "object", "properties": {"spec": {"$ref": "#/definitions/Spec"}}}))
                }),
                expect(&[("spec.versions[1].schema.openAPIV3Schema.properties[spec].$ref", "FieldValueForbidden")]),
            ),
            (
                "additionalProperties with properties",
                Box::new(|c| {
                    let spec = v1_schema(c).properties.get_mut("spec").unwrap();
                    spec.additional_properties = Some(super::super::JSONSchemaPropsOrBool::Bool(false));
                }),
                expect(&[(
                    "spec.versions[0].schema.openAPIV3Schema.properties[spec].additionalProperties",
                    "FieldValueForbidden",
                )]),
            ),
            (
                "root enum with status",
                Box::new(|c| v1_schema(c).enum_ = vec![json!({})]),
                expect(&[("spec.versions[0].schema.openAPIV3Schema", "FieldValueInvalid")]),
            ),
            (
                "scale path outside spec",
                Box::new(|c| {
                    let scale = c.spec.versions[0].subresources.as_mut().and_then(|s| s.scale.as_mut()).unwrap();
                    scale.spec_replicas_path = ".status.replicas".into();
                    scale.status_replicas_path = "status.replicas".into();
                }),
                expect(&[
                    ("spec.versions[0].subresources.scale.specReplicasPath", "FieldValueInvalid"),
                    ("spec.versions[0].subresources.scale.statusReplicasPath", "FieldValueInvalid"),
                ]),
            ),
            (
                "printer columns",
                Box::new(|c| {
                    let cols = &mut c.spec.versions[0].additional_printer_columns;
                    cols[0].type_ = "text".into();
                    cols[1].json_path.clear();
                    cols[2].format = Some("uuid".into());
                }),
                expect(&[
                    ("spec.versions[0].additionalPrinterColumns[0].type", "FieldValueInvalid"),
                    ("spec.versions[0].additionalPrinterColumns[1].jsonPath", "FieldValueRequired"),
                    ("spec.versions[0].additionalPrinterColumns[2].format", "FieldValueInvalid"),
                ]),
            ),
            (
                "selectable fields",
                Box::new(|c| {
                    c.spec.versions[0].selectable_fields = vec![
                        SelectableField { json_path: ".spec.replicas".into() },
                        SelectableField { json_path: ".spec.options".into() },
                        SelectableField { json_path: ".spec.nope".into() },
                    ];
                }),
                expect(&[
                    ("spec.versions[0].selectableFields[1].jsonPath", "FieldValueInvalid"),
                    ("spec.versions[0].selectableFields[2].jsonPath", "FieldValueInvalid"),
                ]),
            ),
            (
                "names",
                Box::new(|c| {
                    c.spec.names.kind = "Data_base".into();
                    c.spec.names.short_names.push("DB".into());
                    c.spec.names.list_kind = Some("Data_base".into());
                }),
                expect(&[
                    ("spec.names.kind", "FieldValueInvalid"),
                    ("spec.names.listKind", "FieldValueInvalid"),
                    ("spec.names.shortNames[1]", "FieldValueInvalid"),
                    ("spec.names.listKind", "FieldValueInvalid"),
                ]),
            ),
            (
                "names not defaulted",
                Box::new(|c| {
                    c.spec.names.singular = None;
                    c.spec.names.list_kind = None;
                }),
                expect(&[("spec.names.singular", "FieldValueRequired"), ("spec.names.listKind", "FieldValueRequired")]),
            ),
            (
                "deprecation warning on a current version",
                Box::new(|c| c.spec.versions[0].deprecation_warning = Some("old".into())),
                expect(&[("spec.versions[0].deprecationWarning", "FieldValueInvalid")]),
            ),
            (
                "webhook without review versions and with a URL",
                Box::new(|c| {
                    let w = c.spec.conversion.as_mut().and_then(|c| c.webhook.as_mut()).unwrap();
                    w.conversion_review_versions.clear();
                    let cc = w.client_config.as_mut().unwrap();
                    cc.service = None;
                    cc.url = Some("http://example.com/convert?x=1".into());
                }),
                expect(&[
                    ("spec.conversion.webhook.clientConfig.url", "FieldValueInvalid"),
                    ("spec.conversion.webhook.clientConfig.url", "FieldValueInvalid"),
                    ("spec.conversion.webhook.conversionReviewVersions", "FieldValueRequired"),
                ]),
            ),
            (
                "webhook settings without the Webhook strategy",
                Box::new(|c| c.spec.conversion.as_mut().unwrap().strategy = "None".into()),
                expect(&[
                    ("spec.conversion.webhook.clientConfig", "FieldValueForbidden"),
                    ("spec.conversion.webhook.conversionReviewVersions", "FieldValueForbidden"),
                ]),
            ),
            (
                "preserveUnknownFields",
                Box::new(|c| c.spec.preserve_unknown_fields = Some(true)),
                expect(&[
                    ("spec.preserveUnknownFields", "FieldValueInvalid"),
                    ("spec.conversion.strategy", "FieldValueInvalid"),
                    ("spec.preserveUnknownFields", "FieldValueInvalid"),
                ]),
            ),
            (
                "protected group",
                Box::new(|c| {
                    c.spec.group = "example.k8s.io".into();
                    c.metadata.name = "databases.example.k8s.io".into();
                }),
                expect(&[("metadata.annotations[api-approved.kubernetes.io]", "FieldValueRequired")]),
            ),
            (
                "stored version removed",
                Box::new(|c| c.status.as_mut().unwrap().stored_versions.push("v0".into())),
                expect(&[("status.storedVersions[1]", "FieldValueInvalid")]),
            ),
        ];
        for (name, mutate, want) in cases {
            let mut c = crd();
            mutate(&mut c);
            assert_eq!(causes(&c.validate()), want, "{name}");
        }
    }

    #[test]
    fn protected_groups_accept_approval() {
        let mut c = crd();
        c.spec.group = "example.k8s.io".into();
        c.metadata.name = "databases.example.k8s.io".into();
        c.metadata
            .annotations
            .insert(KUBE_API_APPROVED_ANNOTATION.into(), "https://github.com/kubernetes/kubernetes/pull/78458".into());
        assert_eq!(causes(&c.validate()), expect(&[]));
        c.metadata.annotations.insert(KUBE_API_APPROVED_ANNOTATION.into(), "unapproved, experimental-only".into());
        assert_eq!(causes(&c.validate()), expect(&[]));
        c.metadata.annotations.insert(KUBE_API_APPROVED_ANNOTATION.into(), "yes".into());
        assert_eq!(
            causes(&c.validate()),
            expect(&[("metadata.annotations[api-approved.kubernetes.io]", "FieldValueInvalid")])
        );
    }

    #[test]
    fn update_rules() {
        let old = crd();
        let mut new = old.clone();
        new.spec.versions[1].served = false;
        assert_eq!(causes(&new.validate_update(&old)), expect(&[]));
        new.spec.scope = "Cluster".into();
        new.spec.names.kind = "Db".into();
        new.spec.names.list_kind = Some("DbList".into());
        new.spec.names.plural = "dbs".into();
        assert_eq!(
            causes(&new.validate_update(&old)),
            expect(&[
                ("spec.scope", "FieldValueInvalid"),
                ("spec.names.kind", "FieldValueInvalid"),
                ("spec.names.plural", "FieldValueInvalid")
            ])
        );
        // Not yet established: scope and kind may still change.
        let mut old = old;
        old.status = None;
        assert_eq!(causes(&new.validate_update(&old)), expect(&[("spec.names.plural", "FieldValueInvalid")]));
    }

    #[test]
    fn defaulted_minimal_crd_is_valid() {
        let mut c: CustomResourceDefinition = serde_json::from_value(json!({
            "metadata": {"name": "widgets.example.com"},
            "spec": {
                "group": "example.com",
                "names": {"plural": "widgets", "kind": "Widget"},
                "scope": "Cluster",
                "versions": [{"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]
            }
        }))
        .unwrap();
        assert_eq!(
            causes(&c.validate()),
            expect(&[("spec.names.singular", "FieldValueRequired"), ("spec.names.listKind", "FieldValueRequired")])
        );
        c.apply_defaults();
        assert_eq!(causes(&c.validate()), expect(&[]));
    }
}
