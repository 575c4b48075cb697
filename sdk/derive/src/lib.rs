//! The derive macros of the emoscope step contract (`emoscope_sdk::step`).
//!
//! One Rust item defines one script function: `#[derive(Options, Step)]` on the struct of its
//! options reads the struct's doc comment (the summary), its `#[step(...)]` attribute (name,
//! positional parameters, returns, study section, example) and each field's doc comment and
//! `#[opt(...)]` attribute (default), and generates the function's `FnSpec` and the parser of its
//! options map from that one place. `#[derive(Choice)]` turns a fieldless enum into a
//! choice-valued option whose valid values (and their doc comments) reach errors and docs.
//!
//! A proc macro rather than a declarative one because the documentation lives in doc comments
//! and the defaults must be rendered as script literals from the same expressions the parser
//! uses; `macro_rules!` cannot read attributes off fields.
use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as Tokens};
use quote::{quote, ToTokens};
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;
use syn::{Attribute, Data, DeriveInput, Error, Expr, Fields, Ident, LitStr, Token};

/// The doc comment of an item as one string: lines joined with spaces, blank lines kept as
/// paragraph breaks.
fn doc_of(attrs: &[Attribute]) -> String {
    let mut paragraphs: Vec<String> = vec![String::new()];
    for a in attrs {
        if !a.path().is_ident("doc") {
            continue;
        }
        if let syn::Meta::NameValue(nv) = &a.meta {
            if let Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s),
                ..
            }) = &nv.value
            {
                let line = s.value();
                let line = line.trim();
                let last = paragraphs.last_mut().expect("one paragraph");
                if line.is_empty() {
                    if !last.is_empty() {
                        paragraphs.push(String::new());
                    }
                } else {
                    if !last.is_empty() {
                        last.push(' ');
                    }
                    last.push_str(line);
                }
            }
        }
    }
    paragraphs.retain(|p| !p.is_empty());
    paragraphs.join("\n\n")
}

/// `snake_case` from `CamelCase`, for function and choice names not given explicitly.
fn snake(name: &str) -> String {
    let mut s = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_uppercase() {
            if i > 0 {
                s.push('_');
            }
            s.extend(c.to_lowercase());
        } else {
            s.push(c);
        }
    }
    s
}

struct FieldOpt {
    ident: Ident,
    ty: syn::Type,
    key: String,
    doc: String,
    default: Option<Expr>,
    doc_default: Option<String>,
    ty_override: Option<Ident>,
    flatten: bool,
}

fn field_opts(data: &Data, span: Span) -> syn::Result<Vec<FieldOpt>> {
    let Data::Struct(s) = data else {
        return Err(Error::new(span, "Options and Step derive on structs only"));
    };
    let fields = match &s.fields {
        Fields::Named(f) => f.named.iter().collect::<Vec<_>>(),
        Fields::Unit => Vec::new(),
        Fields::Unnamed(f) => {
            return Err(Error::new(
                f.span(),
                "options are named fields (each name is a key of the options map)",
            ))
        }
    };
    let mut out = Vec::new();
    for f in fields {
        let ident = f.ident.clone().expect("named");
        let mut o = FieldOpt {
            key: ident.to_string().trim_start_matches("r#").to_string(),
            ident,
            ty: f.ty.clone(),
            doc: doc_of(&f.attrs),
            default: None,
            doc_default: None,
            ty_override: None,
            flatten: false,
        };
        for a in f.attrs.iter().filter(|a| a.path().is_ident("opt")) {
            a.parse_nested_meta(|meta| {
                if meta.path.is_ident("default") {
                    o.default = Some(meta.value()?.parse()?);
                } else if meta.path.is_ident("doc_default") {
                    o.doc_default = Some(meta.value()?.parse::<LitStr>()?.value());
                } else if meta.path.is_ident("name") {
                    o.key = meta.value()?.parse::<LitStr>()?.value();
                } else if meta.path.is_ident("ty") {
                    o.ty_override = Some(meta.value()?.parse()?);
                } else if meta.path.is_ident("flatten") {
                    o.flatten = true;
                } else {
                    return Err(meta.error(
                        "unknown opt attribute: expected default = <expr>, doc_default = \"…\", name = \"…\", ty = <Ty variant> or flatten",
                    ));
                }
                Ok(())
            })?;
        }
        if o.doc.is_empty() && !o.flatten {
            return Err(Error::new(
                o.ident.span(),
                format!(
                    "option `{}` needs a doc comment: it is the option's documentation in :help and docs/reference.md",
                    o.key
                ),
            ));
        }
        out.push(o);
    }
    Ok(out)
}

/// A default written as a string literal is converted with `Into` (so `default = "cpu"` fills a
/// `String`); anything else is taken as written.
fn default_expr(o: &FieldOpt) -> Tokens {
    let ty = &o.ty;
    match &o.default {
        Some(Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(s),
            ..
        })) => quote! { { let d: #ty = ::core::convert::Into::into(#s); d } },
        Some(e) => quote! { { let d: #ty = #e; d } },
        None => quote! { { let d: #ty = ::core::default::Default::default(); d } },
    }
}

/// `#[derive(Options)]`: the options map of a step (or a group of options shared by several
/// steps, included with `#[opt(flatten)]`). Field attributes: `#[opt(default = <expr>)]` (else
/// `Default::default()`, i.e. `None` for an `Option`), `#[opt(doc_default = "…")]` (how the
/// default reads in the docs when it is computed at run time), `#[opt(name = "…")]`,
/// `#[opt(ty = Tensor)]` (the script type shown and checked, when the field's own type is
/// wider, e.g. a `Value` that must be a list), `#[opt(flatten)]`. Every option needs a doc
/// comment.
#[proc_macro_derive(Options, attributes(opt))]
pub fn derive_options(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as DeriveInput);
    match options_impl(&input) {
        Ok(t) => t.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

fn options_impl(input: &DeriveInput) -> syn::Result<Tokens> {
    let name = &input.ident;
    let fields = field_opts(&input.data, input.ident.span())?;
    let mut specs = Vec::new();
    let mut keys = Vec::new();
    let mut takes = Vec::new();
    for o in &fields {
        let ident = &o.ident;
        let ty = &o.ty;
        if o.flatten {
            specs.push(quote! { v.extend(<#ty as ::emoscope_sdk::step::Options>::specs()); });
            keys.push(quote! { <#ty as ::emoscope_sdk::step::Options>::keys(out); });
            takes.push(quote! { #ident: <#ty as ::emoscope_sdk::step::Options>::take(map)? });
            continue;
        }
        let key = &o.key;
        let doc = &o.doc;
        let default = default_expr(o);
        let shown = match &o.doc_default {
            Some(s) => quote! { ::std::string::String::from(#s) },
            None => quote! { ::emoscope_sdk::step::Literal::literal(&#default) },
        };
        match &o.ty_override {
            Some(t) => specs.push(quote! {
                v.push({
                    let mut o = ::emoscope_sdk::step::opt_spec::<#ty>(#key, #doc, #shown);
                    o.ty = ::emoscope_sdk::Ty::#t;
                    o
                });
            }),
            None => specs.push(quote! {
                v.push(::emoscope_sdk::step::opt_spec::<#ty>(#key, #doc, #shown));
            }),
        }
        keys.push(quote! { out.push(#key); });
        takes.push(quote! {
            #ident: match map.get(#key) {
                // `()` in a script means "not given", as the host's type check treats it.
                ::core::option::Option::Some(value) if !::core::matches!(value, ::emoscope_sdk::Value::Null) => {
                    ::emoscope_sdk::step::field::<#ty>(value, #key)?
                }
                _ => #default,
            }
        });
    }
    let (ig, tg, wc) = input.generics.split_for_impl();
    Ok(quote! {
        impl #ig ::emoscope_sdk::step::Options for #name #tg #wc {
            fn specs() -> ::std::vec::Vec<::emoscope_sdk::OptSpec> {
                #[allow(unused_mut)]
                let mut v = ::std::vec::Vec::new();
                #(#specs)*
                v
            }
            fn keys(out: &mut ::std::vec::Vec<&'static str>) {
                let _ = &out;
                #(#keys)*
            }
            fn take(map: &::emoscope_sdk::Map) -> ::emoscope_sdk::Result<Self> {
                let _ = map;
                ::core::result::Result::Ok(Self { #(#takes),* })
            }
        }
    })
}

/// One positional parameter: `name: Ty = "doc"`, or `name?: Ty = "doc"` when it may be left out.
struct Param {
    name: Ident,
    optional: bool,
    ty: Ident,
    doc: LitStr,
}

impl Parse for Param {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let name: Ident = input.call(syn::ext::IdentExt::parse_any)?;
        let optional = input.parse::<Option<Token![?]>>()?.is_some();
        input.parse::<Token![:]>()?;
        let ty: Ident = input.parse()?;
        const TYS: [&str; 9] = [
            "Any", "Bool", "Int", "Float", "Str", "Tensor", "List", "Map", "Object",
        ];
        if !TYS.contains(&ty.to_string().as_str()) {
            return Err(Error::new(
                ty.span(),
                format!("unknown parameter type: expected one of {}", TYS.join(", ")),
            ));
        }
        input.parse::<Token![=]>()?;
        let doc: LitStr = input.parse()?;
        Ok(Param {
            name,
            optional,
            ty,
            doc,
        })
    }
}

/// `#[derive(Step)]`: one script function. The struct's doc comment is its summary; its
/// `#[step(...)]` attribute gives `name = "…"` (else the struct's name in snake case),
/// `param(name: Ty = "doc")` per positional parameter in order (`name?:` when optional),
/// `returns = "…"`, `section = "…"` (the part of the study it implements) and `example = "…"`
/// (each a literal or a `&str` constant).
/// The struct must also derive `Options`, and implement `emoscope_sdk::step::Step`, which runs it.
#[proc_macro_derive(Step, attributes(step))]
pub fn derive_step(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as DeriveInput);
    match step_impl(&input) {
        Ok(t) => t.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

fn step_impl(input: &DeriveInput) -> syn::Result<Tokens> {
    let name = &input.ident;
    let mut fname = snake(&name.to_string());
    let mut params: Vec<Param> = Vec::new();
    let empty = || quote! { "" };
    let (mut returns, mut section, mut example) = (empty(), empty(), empty());
    for a in input.attrs.iter().filter(|a| a.path().is_ident("step")) {
        a.parse_nested_meta(|meta| {
            let lit = |m: &syn::meta::ParseNestedMeta| -> syn::Result<String> {
                Ok(m.value()?.parse::<LitStr>()?.value())
            };
            // A literal, or a `&str` constant that several steps share (one return description
            // for every figure, one study section for a step and its merge).
            let text = |m: &syn::meta::ParseNestedMeta| -> syn::Result<Tokens> {
                Ok(m.value()?.parse::<Expr>()?.to_token_stream())
            };
            if meta.path.is_ident("name") {
                fname = lit(&meta)?;
            } else if meta.path.is_ident("returns") {
                returns = text(&meta)?;
            } else if meta.path.is_ident("section") {
                section = text(&meta)?;
            } else if meta.path.is_ident("example") {
                example = text(&meta)?;
            } else if meta.path.is_ident("param") {
                let content;
                syn::parenthesized!(content in meta.input);
                params.push(content.parse()?);
            } else {
                return Err(meta.error(
                    "unknown step attribute: expected name, param(…), returns, section or example",
                ));
            }
            Ok(())
        })?;
    }
    let summary = doc_of(&input.attrs);
    if summary.is_empty() {
        return Err(Error::new(
            name.span(),
            "a step needs a doc comment: it is the function's summary",
        ));
    }
    let mut seen_optional = false;
    for p in &params {
        if seen_optional && !p.optional {
            return Err(Error::new(
                p.name.span(),
                "a required parameter cannot follow an optional one",
            ));
        }
        seen_optional |= p.optional;
    }
    let params = params.iter().map(|p| {
        let n = p.name.to_string();
        let ty = &p.ty;
        let doc = &p.doc;
        let optional = p.optional;
        quote! {
            ::emoscope_sdk::ParamSpec {
                name: ::std::string::String::from(#n),
                ty: ::emoscope_sdk::Ty::#ty,
                doc: ::std::string::String::from(#doc),
                optional: #optional,
            }
        }
    });
    let (ig, tg, wc) = input.generics.split_for_impl();
    Ok(quote! {
        impl #ig ::emoscope_sdk::step::StepSpec for #name #tg #wc {
            const NAME: &'static str = #fname;
            fn spec() -> ::emoscope_sdk::FnSpec {
                ::emoscope_sdk::FnSpec {
                    name: ::std::string::String::from(#fname),
                    summary: ::std::string::String::from(#summary),
                    params: ::std::vec![#(#params),*],
                    options: <Self as ::emoscope_sdk::step::Options>::specs(),
                    returns: ::std::string::String::from(#returns),
                    section: ::std::string::String::from(#section),
                    example: ::std::string::String::from(#example),
                }
            }
        }
    })
}

/// `#[derive(Choice)]`: a fieldless enum as a choice-valued option. Each variant's script name
/// is its name in snake case, or `#[choice(name = "…")]`; its doc comment says what it does.
/// The enum must be `Clone + Copy`.
#[proc_macro_derive(Choice, attributes(choice))]
pub fn derive_choice(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as DeriveInput);
    match choice_impl(&input) {
        Ok(t) => t.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

fn choice_impl(input: &DeriveInput) -> syn::Result<Tokens> {
    let name = &input.ident;
    let Data::Enum(e) = &input.data else {
        return Err(Error::new(name.span(), "Choice derives on enums only"));
    };
    let mut entries = Vec::new();
    let mut variants = Vec::new();
    let mut arms = Vec::new();
    for v in &e.variants {
        if !matches!(v.fields, Fields::Unit) {
            return Err(Error::new(v.span(), "a choice is a variant without fields"));
        }
        let mut script = snake(&v.ident.to_string());
        for a in v.attrs.iter().filter(|a| a.path().is_ident("choice")) {
            a.parse_nested_meta(|meta| {
                if meta.path.is_ident("name") {
                    script = meta.value()?.parse::<LitStr>()?.value();
                    Ok(())
                } else {
                    Err(meta.error("unknown choice attribute: expected name = \"…\""))
                }
            })?;
        }
        let doc = doc_of(&v.attrs);
        if doc.is_empty() {
            return Err(Error::new(
                v.ident.span(),
                "a choice needs a doc comment: it says what the value does, in errors and docs",
            ));
        }
        let ident = &v.ident;
        entries.push(quote! { (#script, #doc) });
        variants.push(quote! { Self::#ident });
        arms.push(quote! { Self::#ident => #script });
    }
    let ty = name.to_token_stream();
    Ok(quote! {
        impl ::emoscope_sdk::step::Choice for #ty {
            const CHOICES: &'static [(&'static str, &'static str)] = &[#(#entries),*];
            const ALL: &'static [Self] = &[#(#variants),*];
            fn name(&self) -> &'static str {
                match self { #(#arms),* }
            }
        }
        impl<'de> ::emoscope_sdk::__serde::Deserialize<'de> for #ty {
            fn deserialize<D: ::emoscope_sdk::__serde::Deserializer<'de>>(d: D) -> ::core::result::Result<Self, D::Error> {
                ::emoscope_sdk::step::deserialize_choice(d)
            }
        }
        impl ::emoscope_sdk::step::OptionType for #ty {
            fn ty() -> ::emoscope_sdk::Ty { ::emoscope_sdk::Ty::Str }
            fn choices() -> ::std::vec::Vec<(&'static str, &'static str)> {
                <Self as ::emoscope_sdk::step::Choice>::CHOICES.to_vec()
            }
        }
        impl ::emoscope_sdk::step::Literal for #ty {
            fn literal(&self) -> ::std::string::String {
                ::std::format!("\"{}\"", ::emoscope_sdk::step::Choice::name(self))
            }
        }
        impl ::core::fmt::Display for #ty {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.write_str(::emoscope_sdk::step::Choice::name(self))
            }
        }
    })
}
