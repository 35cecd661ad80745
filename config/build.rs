//! Extracts the doc comments of the config file structs so that the annotated example and
//! the reference are generated from the code they describe.

use std::{env, fmt::Write as _, fs, path::Path};

use quote::ToTokens;

fn doc_of(attrs: &[syn::Attribute]) -> String {
    let mut lines = Vec::new();
    for attr in attrs {
        if !attr.path().is_ident("doc") {
            continue;
        }
        if let syn::Meta::NameValue(nv) = &attr.meta
            && let syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s),
                ..
            }) = &nv.value
        {
            lines.push(s.value().trim().to_owned());
        }
    }
    lines.join("\n")
}

fn main() {
    let source_path = "src/file.rs";
    println!("cargo::rerun-if-changed={source_path}");
    let source = fs::read_to_string(source_path).expect("src/file.rs is readable");
    let file = syn::parse_file(&source).expect("src/file.rs parses");
    let mut out = String::from("static STRUCTS: &[StructDoc] = &[\n");
    for item in &file.items {
        let syn::Item::Struct(item) = item else {
            continue;
        };
        let _ = writeln!(
            out,
            "    StructDoc {{ name: {:?}, doc: {:?}, fields: &[",
            item.ident.to_string(),
            doc_of(&item.attrs)
        );
        for field in &item.fields {
            let Some(ident) = &field.ident else { continue };
            let ty = field.ty.to_token_stream().to_string().replace(' ', "");
            let _ = writeln!(
                out,
                "        FieldDoc {{ name: {:?}, doc: {:?}, ty: {:?} }},",
                ident.to_string(),
                doc_of(&field.attrs),
                ty
            );
        }
        out.push_str("    ] },\n");
    }
    out.push_str("];\n");
    let dest = Path::new(&env::var("OUT_DIR").expect("OUT_DIR is set")).join("docs.rs");
    fs::write(dest, out).expect("OUT_DIR is writable");
}
