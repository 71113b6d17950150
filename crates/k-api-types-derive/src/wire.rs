//! The `#[wire]` attribute.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Attribute, Fields, ItemStruct, Type, parse::Parser, punctuated::Punctuated};

/// Which omission rule a field gets.
enum Omit {
    Never,
    IfNone,
    IfEmptyCollection,
    IfDefault,
}

pub(crate) fn expand(args: TokenStream, input: TokenStream) -> syn::Result<TokenStream> {
    let mut derive_default = true;
    let mut derive_eq = false;
    let parser = Punctuated::<syn::Ident, syn::Token![,]>::parse_terminated;
    for arg in parser.parse2(args)? {
        match arg.to_string().as_str() {
            "no_default" => derive_default = false,
            "eq" => derive_eq = true,
            _ => return Err(syn::Error::new(arg.span(), "expected `no_default` or `eq`")),
        }
    }
    let mut item: ItemStruct = syn::parse2(input)?;
    let is_default_fn = quote::format_ident!("__wire_is_default_{}", item.ident);
    let Fields::Named(fields) = &mut item.fields else {
        return Err(syn::Error::new_spanned(&item, "#[wire] needs a struct with named fields"));
    };
    for field in &mut fields.named {
        let marker = take_marker(&mut field.attrs)?;
        let omit = match marker.as_deref() {
            Some("always") => Omit::Never,
            Some("omitempty") => Omit::IfDefault,
            Some(other) => {
                return Err(syn::Error::new_spanned(
                    &field.ty,
                    format!("unknown field marker `{other}`; expected `always` or `omitempty`"),
                ));
            }
            None => match last_segment(&field.ty).as_deref() {
                Some("Option") => Omit::IfNone,
                // `ResourceList` is the crate's alias of a SortedMap.
                Some("Vec") | Some("BTreeMap") | Some("SortedMap") | Some("ResourceList") => Omit::IfEmptyCollection,
                _ => Omit::Never,
            },
        };
        let attr: Option<Attribute> = match omit {
            Omit::Never => None,
            Omit::IfNone => Some(syn::parse_quote!(#[serde(skip_serializing_if = "::core::option::Option::is_none")])),
            Omit::IfEmptyCollection => {
                let ty = &field.ty;
                let path = format!("<{}>::is_empty", quote!(#ty));
                Some(syn::parse_quote!(#[serde(skip_serializing_if = #path)]))
            }
            Omit::IfDefault => {
                let path = is_default_fn.to_string();
                Some(syn::parse_quote!(#[serde(skip_serializing_if = #path)]))
            }
        };
        if let Some(attr) = attr {
            field.attrs.push(attr);
        }
        // Lists are decoded to their exact size (and `null` as empty, as Go
        // does): a cache holds many objects, and a vector grown by doubling
        // wastes up to three quarters of its items' size.
        if last_segment(&field.ty).as_deref() == Some("Vec") && !has_serde_deserializer(&field.attrs) {
            field.attrs.push(syn::parse_quote!(#[serde(deserialize_with = "::k_api_types::wire_support::exact_vec")]));
        }
    }
    let default = derive_default.then(|| quote!(::core::default::Default,));
    let eq = derive_eq.then(|| quote!(::core::cmp::Eq,));
    let vis = &item.vis;
    Ok(quote! {
        #[doc(hidden)]
        #[allow(non_snake_case, dead_code)]
        #vis fn #is_default_fn<T: ::core::default::Default + ::core::cmp::PartialEq>(v: &T) -> bool {
            *v == T::default()
        }
        #[derive(::core::clone::Clone, ::core::fmt::Debug, #default ::core::cmp::PartialEq, #eq
                 ::serde::Serialize, ::serde::Deserialize, ::schemars::JsonSchema)]
        #[serde(rename_all = "camelCase", default)]
        #item
    })
}

/// Removes a `#[wire(...)]` marker from a field's attributes and returns its word.
fn take_marker(attrs: &mut Vec<Attribute>) -> syn::Result<Option<String>> {
    let mut found = None;
    let mut error = None;
    attrs.retain(|attr| {
        if !attr.path().is_ident("wire") {
            return true;
        }
        match attr.parse_args::<syn::Ident>() {
            Ok(ident) => found = Some(ident.to_string()),
            Err(e) => error = Some(e),
        }
        false
    });
    match error {
        Some(e) => Err(e),
        None => Ok(found),
    }
}

/// Whether a field already says how serde decodes it.
fn has_serde_deserializer(attrs: &[Attribute]) -> bool {
    attrs.iter().filter(|a| a.path().is_ident("serde")).any(|a| {
        let text = quote!(#a).to_string();
        text.contains("deserialize_with") || text.contains("with =") || text.contains("with=")
    })
}

fn last_segment(ty: &Type) -> Option<String> {
    match ty {
        Type::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
        _ => None,
    }
}
