//! `#[herald_test_macros::test(...)]`: the attribute that puts an `async fn` of herald's
//! integration suite on its runner's list (`crates/herald/tests/it/harness.rs`), together
//! with the services it needs, so that the runner can report a test whose service is
//! unreachable as ignored instead of letting it pass without running.
//!
//! The suite runs without libtest (`harness = false`), so `#[test]` and `#[tokio::test]`
//! mean nothing there; this attribute is how a test exists.

use proc_macro::TokenStream;
use proc_macro2::Span;
use quote::quote;
use syn::{parse::Parser, punctuated::Punctuated, Ident, ItemFn, Token};

/// Registers `async fn name()` (or a plain `fn name()`) as a test. Its arguments name the services it needs:
/// none, `postgres`, `rabbitmq`, or both.
#[proc_macro_attribute]
pub fn test(attr: TokenStream, item: TokenStream) -> TokenStream {
    match expand(attr.into(), item.into()) {
        Ok(tokens) => tokens.into(),
        Err(error) => error.to_compile_error().into(),
    }
}

fn expand(
    attr: proc_macro2::TokenStream,
    item: proc_macro2::TokenStream,
) -> syn::Result<proc_macro2::TokenStream> {
    let services = Punctuated::<Ident, Token![,]>::parse_terminated.parse2(attr)?;
    let mut needs = Vec::new();
    for service in &services {
        needs.push(match service.to_string().as_str() {
            "postgres" => quote!(crate::harness::Service::Postgres),
            "rabbitmq" => quote!(crate::harness::Service::RabbitMq),
            _ => return Err(syn::Error::new(service.span(), "expected `postgres` or `rabbitmq`")),
        });
    }
    let function: ItemFn = syn::parse2(item)?;
    let signature = &function.sig;
    if !signature.inputs.is_empty() || !signature.generics.params.is_empty() {
        return Err(syn::Error::new(Span::call_site(), "a test is a `fn` without parameters or generics"));
    }
    let name = &signature.ident;
    let body = match signature.asyncness {
        Some(_) => quote!(crate::harness::Body::Async(|| ::std::boxed::Box::pin(#name()))),
        None => quote!(crate::harness::Body::Sync(#name)),
    };
    Ok(quote! {
        #function

        ::inventory::submit! {
            crate::harness::Test {
                module: ::core::module_path!(),
                name: ::core::stringify!(#name),
                needs: &[#(#needs),*],
                body: #body,
            }
        }
    })
}
