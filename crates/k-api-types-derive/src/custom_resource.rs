//! The `CustomResource` derive.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::{DeriveInput, LitStr, meta::ParseNestedMeta};

#[derive(Default)]
struct PrinterColumn {
    name: String,
    type_: String,
    json_path: String,
    description: String,
    format: String,
    priority: i32,
}

#[derive(Default)]
struct Args {
    group: Option<String>,
    version: Option<String>,
    kind: Option<String>,
    plural: Option<String>,
    singular: Option<String>,
    namespaced: bool,
    status: Option<syn::Type>,
    short_names: Vec<String>,
    categories: Vec<String>,
    printer_columns: Vec<PrinterColumn>,
    scale: Option<(String, String, String)>,
    root: Option<String>,
}

fn string(meta: &ParseNestedMeta<'_>) -> syn::Result<String> {
    Ok(meta.value()?.parse::<LitStr>()?.value())
}

impl Args {
    fn parse(input: &DeriveInput) -> syn::Result<Self> {
        let mut args = Self::default();
        for attr in input.attrs.iter().filter(|a| a.path().is_ident("resource")) {
            attr.parse_nested_meta(|meta| {
                let key = meta.path.get_ident().map(ToString::to_string).unwrap_or_default();
                match key.as_str() {
                    "group" => args.group = Some(string(&meta)?),
                    "version" => args.version = Some(string(&meta)?),
                    "kind" => args.kind = Some(string(&meta)?),
                    "plural" => args.plural = Some(string(&meta)?),
                    "singular" => args.singular = Some(string(&meta)?),
                    "root" => args.root = Some(string(&meta)?),
                    "namespaced" => args.namespaced = true,
                    "status" => args.status = Some(syn::parse_str(&string(&meta)?)?),
                    "shortname" => args.short_names.push(string(&meta)?),
                    "category" => args.categories.push(string(&meta)?),
                    "printcolumn" => {
                        let mut col = PrinterColumn::default();
                        meta.parse_nested_meta(|m| {
                            let k = m.path.get_ident().map(ToString::to_string).unwrap_or_default();
                            match k.as_str() {
                                "name" => col.name = string(&m)?,
                                "type" => col.type_ = string(&m)?,
                                "json_path" => col.json_path = string(&m)?,
                                "description" => col.description = string(&m)?,
                                "format" => col.format = string(&m)?,
                                "priority" => col.priority = m.value()?.parse::<syn::LitInt>()?.base10_parse()?,
                                _ => {
                                    return Err(
                                        m.error("expected name, type, json_path, description, format or priority")
                                    );
                                }
                            }
                            Ok(())
                        })?;
                        if col.name.is_empty() || col.type_.is_empty() || col.json_path.is_empty() {
                            return Err(meta.error("printcolumn needs name, type and json_path"));
                        }
                        args.printer_columns.push(col);
                    }
                    "scale" => {
                        let (mut spec, mut status, mut selector) = (String::new(), String::new(), String::new());
                        meta.parse_nested_meta(|m| {
                            let k = m.path.get_ident().map(ToString::to_string).unwrap_or_default();
                            match k.as_str() {
                                "spec_replicas_path" => spec = string(&m)?,
                                "status_replicas_path" => status = string(&m)?,
                                "label_selector_path" => selector = string(&m)?,
                                _ => {
                                    return Err(m.error(
                                        "expected spec_replicas_path, status_replicas_path or label_selector_path",
                                    ));
                                }
                            }
                            Ok(())
                        })?;
                        if spec.is_empty() || status.is_empty() {
                            return Err(meta.error("scale needs spec_replicas_path and status_replicas_path"));
                        }
                        args.scale = Some((spec, status, selector));
                    }
                    _ => return Err(meta.error("unknown #[resource] key")),
                }
                Ok(())
            })?;
        }
        Ok(args)
    }
}

pub(crate) fn expand(input: TokenStream) -> syn::Result<TokenStream> {
    let input: DeriveInput = syn::parse2(input)?;
    let args = Args::parse(&input)?;
    let spec_ty = &input.ident;
    let missing = |what: &str| syn::Error::new_spanned(spec_ty, format!("#[resource({what} = \"...\")] is required"));
    let group = args.group.clone().ok_or_else(|| missing("group"))?;
    let version = args.version.clone().ok_or_else(|| missing("version"))?;
    let kind = args.kind.clone().ok_or_else(|| missing("kind"))?;
    if !matches!(input.data, syn::Data::Struct(_)) {
        return Err(syn::Error::new_spanned(spec_ty, "CustomResource derives from a spec struct"));
    }
    let root_name = args.root.clone().unwrap_or_else(|| {
        let s = spec_ty.to_string();
        s.strip_suffix("Spec").filter(|r| !r.is_empty()).map(str::to_owned).unwrap_or_else(|| kind.clone())
    });
    let root = format_ident!("{}", root_name);
    let vis = &input.vis;
    let singular = args.singular.clone().unwrap_or_else(|| kind.to_lowercase());
    let plural = args.plural.clone().unwrap_or_else(|| format!("{}s", kind.to_lowercase()));
    let api_version = format!("{group}/{version}");
    let namespaced = args.namespaced;
    let short_names = &args.short_names;
    let categories = &args.categories;
    let mut subresources = Vec::new();
    if args.status.is_some() {
        subresources.push("status".to_owned());
    }
    if args.scale.is_some() {
        subresources.push("scale".to_owned());
    }
    let doc = format!("The `{kind}` custom resource ({api_version}), generated from [`{spec_ty}`].");

    let (status_field, status_schema) = match &args.status {
        Some(ty) => (
            quote! {
                /// Observed state.
                #[serde(default, skip_serializing_if = "::core::option::Option::is_none")]
                pub status: ::core::option::Option<#ty>,
            },
            quote!(::core::option::Option::Some(::k_api_types::schema::structural_schema::<#ty>())),
        ),
        None => (quote!(), quote!(::core::option::Option::None)),
    };
    let status_init = args.status.as_ref().map(|_| quote!(status: ::core::option::Option::None,));
    let columns = args.printer_columns.iter().map(|c| {
        let (n, t, j, d, f, p) = (&c.name, &c.type_, &c.json_path, &c.description, &c.format, c.priority);
        quote!(::k_api_types::custom_resource::PrinterColumn { name: #n, type_: #t, json_path: #j, description: #d, format: #f, priority: #p })
    });
    let scale = match &args.scale {
        Some((s, st, sel)) => quote!(::core::option::Option::Some(::k_api_types::custom_resource::ScalePaths {
            spec_replicas_path: #s, status_replicas_path: #st, label_selector_path: #sel })),
        None => quote!(::core::option::Option::None),
    };

    Ok(quote! {
        #[doc = #doc]
        #[derive(::core::clone::Clone, ::core::fmt::Debug, ::serde::Serialize, ::serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        #vis struct #root {
            /// `group/version` of the object.
            #[serde(default, skip_serializing_if = "::std::string::String::is_empty")]
            pub api_version: ::std::string::String,
            /// Kind of the object.
            #[serde(default, skip_serializing_if = "::std::string::String::is_empty")]
            pub kind: ::std::string::String,
            /// Standard object metadata.
            #[serde(default)]
            pub metadata: ::k_api_types::meta::ObjectMeta,
            /// Desired state.
            pub spec: #spec_ty,
            #status_field
        }

        impl #root {
            /// A new object with the given name and spec, `apiVersion` and `kind` set.
            pub fn new(name: impl ::core::convert::Into<::std::string::String>, spec: #spec_ty) -> Self {
                Self {
                    api_version: #api_version.to_owned(),
                    kind: #kind.to_owned(),
                    metadata: ::k_api_types::meta::ObjectMeta::named(name),
                    spec,
                    #status_init
                }
            }
        }

        impl ::core::default::Default for #root where #spec_ty: ::core::default::Default {
            fn default() -> Self {
                Self::new("", <#spec_ty as ::core::default::Default>::default())
            }
        }

        impl ::k_api_types::Resource for #root where #spec_ty: ::core::default::Default {
            const INFO: ::k_api_types::ResourceInfo = ::k_api_types::ResourceInfo {
                group: #group,
                version: #version,
                api_version: #api_version,
                kind: #kind,
                plural: #plural,
                singular: #singular,
                short_names: &[#(#short_names),*],
                categories: &[#(#categories),*],
                namespaced: #namespaced,
                verbs: ::k_api_types::resource::ALL_VERBS,
                subresources: &[#(#subresources),*],
                selectable_fields: &[],
            };
            fn metadata(&self) -> &::k_api_types::meta::ObjectMeta { &self.metadata }
            fn metadata_mut(&mut self) -> &mut ::k_api_types::meta::ObjectMeta { &mut self.metadata }
            fn type_meta(&self) -> ::k_api_types::meta::TypeMeta {
                ::k_api_types::meta::TypeMeta { api_version: self.api_version.clone(), kind: self.kind.clone() }
            }
            fn set_type_meta(&mut self) {
                self.api_version = #api_version.to_owned();
                self.kind = #kind.to_owned();
            }
        }

        impl ::k_api_types::CustomResourceExt for #root {
            fn crd() -> ::k_api_types::apiextensions::v1::CustomResourceDefinition {
                ::k_api_types::custom_resource::build_crd(&::k_api_types::custom_resource::CrdParams {
                    group: #group,
                    version: #version,
                    kind: #kind,
                    plural: #plural,
                    singular: #singular,
                    namespaced: #namespaced,
                    short_names: &[#(#short_names),*],
                    categories: &[#(#categories),*],
                    printer_columns: &[#(#columns),*],
                    scale: #scale,
                    spec_schema: ::k_api_types::schema::structural_schema::<#spec_ty>(),
                    status_schema: #status_schema,
                })
            }
        }
    })
}
