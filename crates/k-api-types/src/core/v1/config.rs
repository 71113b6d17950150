//! ConfigMap, Secret and ServiceAccount.

use crate::SortedMap;

use super::{LocalObjectReference, ObjectReference};
use crate::ByteString;
use crate::defaults::default_str;
use crate::meta::ObjectMeta;
use crate::resource::{ALL_VERBS, Resource, metadata_field};
use crate::validation::{
    ErrorList, FieldError, NameRule, Path, validate_immutable, validate_object_meta, validate_object_meta_update,
};
use crate::{ApplyDefaults, Validate, wire};

/// Largest total size of a Secret's or ConfigMap's data (1 MiB).
pub const MAX_SECRET_SIZE: usize = 1024 * 1024;
const CONFIG_KEY_ERROR: &str = "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')";
const IMMUTABLE_SET: &str = "field is immutable when `immutable` is set";

/// Annotation of a service account token secret naming its service account.
pub const SERVICE_ACCOUNT_NAME_KEY: &str = "kubernetes.io/service-account.name";

/// Problems of a ConfigMap or Secret key (`[-._a-zA-Z0-9]+`, not `.` or `..`,
/// not starting with `..`, at most 253 characters).
pub fn config_map_key_errors(key: &str) -> Vec<&'static str> {
    let mut errs = Vec::new();
    if key.len() > 253 {
        errs.push("must be no more than 253 characters");
    }
    if key.is_empty() || !key.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.')) {
        errs.push(CONFIG_KEY_ERROR);
    }
    if key == "." {
        errs.push("must not be '.'");
    } else if key == ".." {
        errs.push("must not be '..'");
    } else if key.starts_with("..") {
        errs.push("must not start with '..'");
    }
    errs
}

fn validate_keys<'a>(keys: impl Iterator<Item = &'a String>, path: &Path, errors: &mut ErrorList) {
    for key in keys {
        for msg in config_map_key_errors(key) {
            errors.push(FieldError::invalid(&path.key(key), key, msg));
        }
    }
}

// ---------------------------------------------------------------------------
// ConfigMap
// ---------------------------------------------------------------------------

/// Non-confidential configuration data for pods to consume.
#[wire]
pub struct ConfigMap {
    /// APIVersion of the object (`v1`).
    #[wire(omitempty)]
    pub api_version: String,
    /// Kind of the object (`ConfigMap`).
    #[wire(omitempty)]
    pub kind: String,
    /// Standard object metadata.
    #[wire(omitempty)]
    pub metadata: ObjectMeta,
    /// UTF-8 configuration data; keys must not also be in `binaryData`.
    pub data: SortedMap<String, String>,
    /// Binary configuration data (base64 on the wire).
    pub binary_data: SortedMap<String, ByteString>,
    /// When true, `data` and `binaryData` can no longer change.
    pub immutable: Option<bool>,
}
crate::impl_resource!(ConfigMap {
    group: "",
    version: "v1",
    kind: "ConfigMap",
    plural: "configmaps",
    singular: "configmap",
    short_names: ["cm"],
    categories: [],
    namespaced: true,
    verbs: ALL_VERBS,
    subresources: [],
    selectable_fields: []
});
/// A list of config maps.
pub type ConfigMapList = crate::meta::ObjectList<ConfigMap>;

impl ApplyDefaults for ConfigMap {
    /// Kubernetes has no ConfigMap defaults.
    fn apply_defaults(&mut self) {}
}

fn validate_config_map_data(cm: &ConfigMap, errors: &mut ErrorList) {
    let data = Path::new("data");
    validate_keys(cm.data.keys(), &data, errors);
    validate_keys(cm.binary_data.keys(), &Path::new("binaryData"), errors);
    for key in cm.binary_data.keys() {
        if cm.data.contains_key(key) {
            errors.push(FieldError::invalid(&data.key(key), key, "duplicate of key present in binaryData"));
        }
    }
    let total: usize =
        cm.data.values().map(String::len).sum::<usize>() + cm.binary_data.values().map(|v| v.0.len()).sum::<usize>();
    if total > MAX_SECRET_SIZE {
        errors.push(FieldError::too_long(&Path::new(""), MAX_SECRET_SIZE));
    }
}

impl Validate for ConfigMap {
    fn validate(&self) -> ErrorList {
        let mut errors = ErrorList::new();
        validate_object_meta(&self.metadata, true, NameRule::Subdomain, &mut errors);
        validate_config_map_data(self, &mut errors);
        errors
    }

    /// Once `immutable` is true, it stays true and the data cannot change.
    fn validate_update(&self, old: &Self) -> ErrorList {
        let mut errors = ErrorList::new();
        validate_object_meta_update(&self.metadata, &old.metadata, true, NameRule::Subdomain, &mut errors);
        if old.immutable == Some(true) {
            if self.immutable != Some(true) {
                errors.push(FieldError::forbidden(&Path::new("immutable"), IMMUTABLE_SET));
            }
            if self.data != old.data {
                errors.push(FieldError::forbidden(&Path::new("data"), IMMUTABLE_SET));
            }
            if self.binary_data != old.binary_data {
                errors.push(FieldError::forbidden(&Path::new("binaryData"), IMMUTABLE_SET));
            }
        }
        validate_config_map_data(self, &mut errors);
        errors
    }
}

// ---------------------------------------------------------------------------
// Secret
// ---------------------------------------------------------------------------

/// Confidential data (passwords, tokens, keys), base64 on the wire.
#[wire]
pub struct Secret {
    /// APIVersion of the object (`v1`).
    #[wire(omitempty)]
    pub api_version: String,
    /// Kind of the object (`Secret`).
    #[wire(omitempty)]
    pub kind: String,
    /// Standard object metadata.
    #[wire(omitempty)]
    pub metadata: ObjectMeta,
    /// The secret data.
    pub data: SortedMap<String, ByteString>,
    /// Write-only convenience field: plain strings merged into `data` on write
    /// (overriding keys of `data`); never returned by the server.
    pub string_data: SortedMap<String, String>,
    /// Type of the secret: `Opaque` (default), `kubernetes.io/tls`, `kubernetes.io/dockerconfigjson`, …
    #[serde(rename = "type")]
    pub type_: Option<String>,
    /// When true, the data can no longer change.
    pub immutable: Option<bool>,
}
crate::impl_resource!(Secret {
    group: "",
    version: "v1",
    kind: "Secret",
    plural: "secrets",
    singular: "secret",
    short_names: [],
    categories: [],
    namespaced: true,
    verbs: ALL_VERBS,
    subresources: [],
    selectable_fields: ["type"],
    field_value: secret_field_value
});
/// A list of secrets.
pub type SecretList = crate::meta::ObjectList<Secret>;

fn secret_field_value(s: &Secret, field: &str) -> Option<String> {
    match field {
        "type" => Some(s.type_.clone().unwrap_or_default()),
        _ => metadata_field(s.metadata(), field),
    }
}

impl Secret {
    /// `data` with `stringData` merged in, as the server stores it.
    pub fn effective_data(&self) -> SortedMap<String, ByteString> {
        let mut data = self.data.clone();
        for (k, v) in &self.string_data {
            data.insert(k.clone(), ByteString::from(v.as_str()));
        }
        data
    }

    /// Folds `stringData` into `data`, as the server does when it stores a
    /// Secret (`stringData` is write-only: never stored, never read back).
    pub fn fold_string_data(&mut self) {
        if !self.string_data.is_empty() {
            self.data = self.effective_data();
            self.string_data.clear();
        }
    }
}

impl ApplyDefaults for Secret {
    /// Type `Opaque`.
    fn apply_defaults(&mut self) {
        default_str(&mut self.type_, "Opaque");
    }
}

fn validate_secret_data(s: &Secret, errors: &mut ErrorList) {
    let data_path = Path::new("data");
    validate_keys(s.data.keys(), &data_path, errors);
    validate_keys(s.string_data.keys(), &Path::new("stringData"), errors);
    let data = s.effective_data();
    let total: usize = data.values().map(|v| v.0.len()).sum();
    if total > MAX_SECRET_SIZE {
        errors.push(FieldError::too_long(&data_path, MAX_SECRET_SIZE));
    }
    let require = |key: &str, errors: &mut ErrorList| {
        if !data.contains_key(key) {
            errors.push(FieldError::required(&data_path.key(key), ""));
            false
        } else {
            true
        }
    };
    match s.type_.as_deref().unwrap_or_default() {
        "kubernetes.io/service-account-token"
            if s.metadata.annotations.get(SERVICE_ACCOUNT_NAME_KEY).is_none_or(String::is_empty) =>
        {
            errors.push(FieldError::required(
                &Path::new("metadata").child("annotations").key(SERVICE_ACCOUNT_NAME_KEY),
                "",
            ));
        }
        t @ ("kubernetes.io/dockercfg" | "kubernetes.io/dockerconfigjson") => {
            let key = if t == "kubernetes.io/dockercfg" { ".dockercfg" } else { ".dockerconfigjson" };
            if require(key, errors)
                && let Some(v) = data.get(key)
                && let Err(e) = serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&v.0)
            {
                errors.push(FieldError::invalid(&data_path.key(key), "<secret contents redacted>", e.to_string()));
            }
        }
        "kubernetes.io/basic-auth" if !data.contains_key("username") && !data.contains_key("password") => {
            errors.push(FieldError::required(&data_path.key("username"), ""));
            errors.push(FieldError::required(&data_path.key("password"), ""));
        }
        "kubernetes.io/ssh-auth" if data.get("ssh-privatekey").is_none_or(|v| v.0.is_empty()) => {
            errors.push(FieldError::required(&data_path.key("ssh-privatekey"), ""));
        }
        "kubernetes.io/tls" => {
            require("tls.crt", errors);
            require("tls.key", errors);
        }
        _ => {}
    }
}

impl Validate for Secret {
    fn validate(&self) -> ErrorList {
        let mut errors = ErrorList::new();
        validate_object_meta(&self.metadata, true, NameRule::Subdomain, &mut errors);
        validate_secret_data(self, &mut errors);
        errors
    }

    /// `type` is immutable; once `immutable` is true, it stays true and the
    /// data (including through `stringData`) cannot change.
    fn validate_update(&self, old: &Self) -> ErrorList {
        let mut errors = ErrorList::new();
        validate_object_meta_update(&self.metadata, &old.metadata, true, NameRule::Subdomain, &mut errors);
        // An unset type is defaulted to Opaque.
        let new_type = self.type_.as_deref().filter(|t| !t.is_empty()).unwrap_or("Opaque");
        let old_type = old.type_.as_deref().filter(|t| !t.is_empty()).unwrap_or("Opaque");
        validate_immutable(&new_type, &old_type, &Path::new("type"), &mut errors);
        if old.immutable == Some(true) {
            if self.immutable != Some(true) {
                errors.push(FieldError::forbidden(&Path::new("immutable"), IMMUTABLE_SET));
            }
            if self.effective_data() != old.effective_data() {
                let field = if self.data != old.data { "data" } else { "stringData" };
                errors.push(FieldError::forbidden(&Path::new(field), IMMUTABLE_SET));
            }
        }
        validate_secret_data(self, &mut errors);
        errors
    }
}

// ---------------------------------------------------------------------------
// ServiceAccount
// ---------------------------------------------------------------------------

/// An identity for processes running in pods.
#[wire]
pub struct ServiceAccount {
    /// APIVersion of the object (`v1`).
    #[wire(omitempty)]
    pub api_version: String,
    /// Kind of the object (`ServiceAccount`).
    #[wire(omitempty)]
    pub kind: String,
    /// Standard object metadata.
    #[wire(omitempty)]
    pub metadata: ObjectMeta,
    /// Secrets pods running as this account may use (legacy token secrets).
    pub secrets: Vec<ObjectReference>,
    /// Image pull secrets added to pods running as this account.
    pub image_pull_secrets: Vec<LocalObjectReference>,
    /// Whether pods running as this account get an API token mounted.
    pub automount_service_account_token: Option<bool>,
}
crate::impl_resource!(ServiceAccount {
    group: "",
    version: "v1",
    kind: "ServiceAccount",
    plural: "serviceaccounts",
    singular: "serviceaccount",
    short_names: ["sa"],
    categories: [],
    namespaced: true,
    verbs: ALL_VERBS,
    subresources: ["token"],
    selectable_fields: []
});
/// A list of service accounts.
pub type ServiceAccountList = crate::meta::ObjectList<ServiceAccount>;

impl ApplyDefaults for ServiceAccount {
    /// Kubernetes has no ServiceAccount defaults.
    fn apply_defaults(&mut self) {}
}

impl Validate for ServiceAccount {
    fn validate(&self) -> ErrorList {
        let mut errors = ErrorList::new();
        validate_object_meta(&self.metadata, true, NameRule::Subdomain, &mut errors);
        errors
    }

    fn validate_update(&self, old: &Self) -> ErrorList {
        let mut errors = ErrorList::new();
        validate_object_meta_update(&self.metadata, &old.metadata, true, NameRule::Subdomain, &mut errors);
        errors
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::test_support::{causes, expect};
    use super::*;

    fn cm() -> ConfigMap {
        serde_json::from_value(json!({
            "metadata": {"name": "settings", "namespace": "work"},
            "data": {"app.properties": "a=1", "LOG_LEVEL": "debug"},
            "binaryData": {"logo.png": "iVBORw0K"}
        }))
        .unwrap()
    }

    fn secret() -> Secret {
        serde_json::from_value(json!({
            "metadata": {"name": "creds", "namespace": "work"},
            "type": "Opaque",
            "data": {"password": "aHVudGVyMg=="}
        }))
        .unwrap()
    }

    #[test]
    fn round_trips() {
        let v = json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "settings", "namespace": "work"},
            "data": {"app.properties": "a=1\nb=2\n"},
            "binaryData": {"logo.png": "iVBORw0KGgo="},
            "immutable": true
        });
        let c: ConfigMap = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(c.binary_data["logo.png"].0, b"\x89PNG\r\n\x1a\n");
        assert_eq!(serde_json::to_value(&c).unwrap(), v);

        let v = json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "tls", "namespace": "work"},
            "data": {"tls.crt": "Y2VydA==", "tls.key": "a2V5"},
            "stringData": {"extra": "plain"},
            "type": "kubernetes.io/tls",
            "immutable": false
        });
        let s: Secret = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(s.data["tls.key"].0, b"key");
        assert_eq!(serde_json::to_value(&s).unwrap(), v);
        assert!(s.validate().is_empty(), "{:?}", s.validate());
        assert_eq!(s.effective_data()["extra"].0, b"plain");

        let v = json!({
            "apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": "builder", "namespace": "ci"},
            "secrets": [{"name": "builder-token"}, {"kind": "Secret", "namespace": "ci", "name": "other", "uid": "u", "apiVersion": "v1", "resourceVersion": "3", "fieldPath": "x"}],
            "imagePullSecrets": [{"name": "registry"}],
            "automountServiceAccountToken": false
        });
        let sa: ServiceAccount = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(serde_json::to_value(&sa).unwrap(), v);
        assert!(sa.validate().is_empty());
    }

    #[test]
    fn resource_info() {
        assert_eq!(ConfigMap::INFO.short_names, ["cm"]);
        assert_eq!(ServiceAccount::INFO.short_names, ["sa"]);
        assert_eq!(ServiceAccount::INFO.subresources, ["token"]);
        assert_eq!(Secret::INFO.selectable_fields, ["type"]);
        assert_eq!(SecretList::new(vec![]).kind, "SecretList");
    }

    #[test]
    fn defaults_and_fields() {
        let mut s = Secret::default();
        s.apply_defaults();
        assert_eq!(s.type_.as_deref(), Some("Opaque"));
        let mut tls = Secret { type_: Some("kubernetes.io/tls".into()), ..Secret::default() };
        tls.apply_defaults();
        assert_eq!(tls.type_.as_deref(), Some("kubernetes.io/tls"));
        let mut c = cm();
        c.apply_defaults();
        assert_eq!(c, cm());

        let s = secret();
        assert_eq!(s.field_value("type").as_deref(), Some("Opaque"));
        assert_eq!(s.field_value("metadata.name").as_deref(), Some("creds"));
        assert_eq!(s.field_value("metadata.namespace").as_deref(), Some("work"));
        assert_eq!(s.field_value("data"), None);
        assert_eq!(cm().field_value("metadata.name").as_deref(), Some("settings"));
    }

    #[test]
    fn config_map_validation() {
        type Case = (&'static str, fn(&mut ConfigMap), &'static [(&'static str, &'static str)]);
        let cases: &[Case] = &[
            ("valid", |_| {}, &[]),
            (
                "bad key",
                |c| {
                    c.data.insert("a/b".into(), String::new());
                },
                &[("data[a/b]", "FieldValueInvalid")],
            ),
            (
                "dot-dot key",
                |c| {
                    c.binary_data.insert("..data".into(), ByteString::default());
                },
                &[("binaryData[..data]", "FieldValueInvalid")],
            ),
            (
                "duplicate key",
                |c| {
                    c.data.insert("logo.png".into(), String::new());
                },
                &[("data[logo.png]", "FieldValueInvalid")],
            ),
            (
                "too big",
                |c| {
                    c.data.insert("big".into(), "x".repeat(MAX_SECRET_SIZE));
                },
                &[("", "FieldValueTooLong")],
            ),
            ("bad name", |c| c.metadata.name = "Settings".into(), &[("metadata.name", "FieldValueInvalid")]),
        ];
        for (name, mutate, want) in cases {
            let mut c = cm();
            mutate(&mut c);
            assert_eq!(causes(&c.validate()), expect(want), "{name}");
        }
    }

    #[test]
    fn secret_validation() {
        type Case = (&'static str, fn(&mut Secret), &'static [(&'static str, &'static str)]);
        let cases: &[Case] = &[
            ("valid", |_| {}, &[]),
            (
                "bad data key",
                |s| {
                    s.data.insert("a b".into(), ByteString::default());
                },
                &[("data[a b]", "FieldValueInvalid")],
            ),
            (
                "bad stringData key",
                |s| {
                    s.string_data.insert("..x".into(), String::new());
                },
                &[("stringData[..x]", "FieldValueInvalid")],
            ),
            (
                "too big",
                |s| {
                    s.data.insert("a".into(), ByteString(vec![0; MAX_SECRET_SIZE / 2]));
                    s.string_data.insert("b".into(), "x".repeat(MAX_SECRET_SIZE / 2 + 1));
                },
                &[("data", "FieldValueTooLong")],
            ),
            (
                "tls without key",
                |s| {
                    s.type_ = Some("kubernetes.io/tls".into());
                    s.data = SortedMap::from([("tls.crt".into(), ByteString::from("c"))]);
                },
                &[("data[tls.key]", "FieldValueRequired")],
            ),
            (
                "dockerconfigjson not json",
                |s| {
                    s.type_ = Some("kubernetes.io/dockerconfigjson".into());
                    s.data.insert(".dockerconfigjson".into(), ByteString::from("{nope"));
                },
                &[("data[.dockerconfigjson]", "FieldValueInvalid")],
            ),
            (
                "dockerconfigjson from stringData",
                |s| {
                    s.type_ = Some("kubernetes.io/dockerconfigjson".into());
                    s.string_data.insert(".dockerconfigjson".into(), "{\"auths\":{}}".into());
                },
                &[],
            ),
            (
                "sa token without annotation",
                |s| s.type_ = Some("kubernetes.io/service-account-token".into()),
                &[("metadata.annotations[kubernetes.io/service-account.name]", "FieldValueRequired")],
            ),
            (
                "basic auth without fields",
                |s| {
                    s.type_ = Some("kubernetes.io/basic-auth".into());
                    s.data.clear();
                },
                &[("data[username]", "FieldValueRequired"), ("data[password]", "FieldValueRequired")],
            ),
            (
                "ssh without key",
                |s| s.type_ = Some("kubernetes.io/ssh-auth".into()),
                &[("data[ssh-privatekey]", "FieldValueRequired")],
            ),
            ("custom type", |s| s.type_ = Some("example.com/anything".into()), &[]),
        ];
        for (name, mutate, want) in cases {
            let mut s = secret();
            mutate(&mut s);
            assert_eq!(causes(&s.validate()), expect(want), "{name}");
        }
    }

    #[test]
    fn immutable_updates() {
        let mut old = cm();
        old.immutable = Some(true);
        assert!(old.clone().validate_update(&old).is_empty());
        let mut changed = old.clone();
        changed.data.insert("LOG_LEVEL".into(), "info".into());
        changed.binary_data.clear();
        changed.immutable = None;
        let errs = changed.validate_update(&old);
        assert_eq!(
            causes(&errs),
            expect(&[
                ("immutable", "FieldValueForbidden"),
                ("data", "FieldValueForbidden"),
                ("binaryData", "FieldValueForbidden")
            ])
        );
        assert_eq!(errs[1].to_string(), "data: Forbidden: field is immutable when `immutable` is set");
        // Mutable maps may change and become immutable.
        let mut open = cm();
        open.immutable = Some(false);
        let mut closing = open.clone();
        closing.data.clear();
        closing.immutable = Some(true);
        assert!(closing.validate_update(&open).is_empty());

        let mut old = secret();
        old.immutable = Some(true);
        let mut via_string_data = old.clone();
        via_string_data.string_data.insert("password".into(), "new".into());
        assert_eq!(causes(&via_string_data.validate_update(&old)), expect(&[("stringData", "FieldValueForbidden")]));
        let mut same_value = old.clone();
        same_value.string_data.insert("password".into(), "hunter2".into());
        assert!(same_value.validate_update(&old).is_empty());
        let mut retyped = secret();
        retyped.type_ = Some("kubernetes.io/basic-auth".into());
        assert_eq!(causes(&retyped.validate_update(&secret())), expect(&[("type", "FieldValueInvalid")]));
        let mut untyped = secret();
        untyped.type_ = None;
        assert!(untyped.validate_update(&secret()).is_empty());
    }
}
