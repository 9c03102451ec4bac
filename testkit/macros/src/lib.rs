//! The `needs` attribute of `harbor-testkit` (re-exported there as `harbor_testkit::needs`;
//! its documentation is the user's guide). Dev-only, never published.
//!
//! The attribute decides at compile time, in the test crate's `rustc`: it looks each tool up on
//! the `PATH` that `rustc` sees (the one `cargo` was started with), and reads `CI`. To make
//! `cargo` rebuild the test when either changes, it also emits
//! `const _: Option<&str> = option_env!("PATH");` (and the same for `CI`) beside the test:
//! `rustc` records both as environment dependencies of the crate, and `cargo` compares them on
//! its next run.

use proc_macro::{Delimiter, Group, Ident, Literal, Punct, Spacing, Span, TokenStream, TokenTree};
use std::path::{Path, PathBuf};

#[path = "../../src/lookup.rs"]
mod lookup;

/// What a test needs: tools on `PATH` (string literals) and `spec`, Harbor's swagger.
///
/// `#[harbor_testkit::needs("docker-registry", "skopeo")]` or `#[harbor_testkit::needs("prism",
/// spec)]`, above `#[test]` or `#[tokio::test]`. When something is missing and `CI` is not
/// `true`, the test is compiled as `#[ignore = "needs skopeo on PATH"]`; otherwise it is left
/// as it is (and its runtime guard, `harbor_testkit::tool`, fails it under `CI=true`).
#[proc_macro_attribute]
pub fn needs(args: TokenStream, item: TokenStream) -> TokenStream {
    let needs = match parse(args) {
        Ok(needs) => needs,
        Err(message) => return compile_error(&message),
    };
    let root = workspace_root();
    let spec = lookup::spec_under(&root);
    let tools: Vec<&str> = needs
        .tools
        .iter()
        .map(String::as_str)
        .filter(|t| lookup::find_on_path(t).is_none())
        .collect();
    let spec_missing = (needs.spec && !spec.is_file()).then(|| display_under(&spec, &root));
    let mut out = TokenStream::new();
    if !lookup::is_ci()
        && let Some(reason) = reason(&tools, spec_missing.as_deref())
    {
        out.extend(ignore_attribute(&reason));
    }
    out.extend(item);
    out.extend(env_tracking());
    if needs.spec && spec.is_file() {
        // Makes the spec a file dependency: deleting or changing it rebuilds the test.
        out.extend(include_tracking(&spec));
    }
    out
}

/// The parsed arguments.
#[derive(Debug, Default, PartialEq)]
struct Needs {
    tools: Vec<String>,
    spec: bool,
}

const USAGE: &str = "`needs` takes tool names as plain string literals and the word `spec`, \
                     separated by commas: #[needs(\"docker-registry\", \"skopeo\")]";

fn parse(args: TokenStream) -> Result<Needs, String> {
    let mut needs = Needs::default();
    let mut expect_item = true;
    for tree in args {
        match tree {
            TokenTree::Punct(p) if p.as_char() == ',' && !expect_item => expect_item = true,
            TokenTree::Literal(lit) if expect_item => {
                needs.tools.push(tool_name(&lit.to_string())?);
                expect_item = false;
            }
            TokenTree::Ident(id) if expect_item && id.to_string() == "spec" => {
                needs.spec = true;
                expect_item = false;
            }
            other => return Err(format!("unexpected `{other}`: {USAGE}")),
        }
    }
    if needs.tools.is_empty() && !needs.spec {
        return Err(format!("nothing is needed: {USAGE}"));
    }
    Ok(needs)
}

/// The tool name inside a string literal's source text (`"docker-registry"`).
fn tool_name(source: &str) -> Result<String, String> {
    let name = source
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .filter(|n| !n.is_empty() && !n.contains(['\\', '/', '"', ' ']))
        .ok_or_else(|| format!("`{source}` is not a tool name: {USAGE}"))?;
    Ok(name.to_owned())
}

/// Why the test is ignored, or `None` when nothing is missing.
fn reason(missing_tools: &[&str], missing_spec: Option<&str>) -> Option<String> {
    let tools =
        (!missing_tools.is_empty()).then(|| format!("{} on PATH", missing_tools.join(", ")));
    let spec = missing_spec.map(|path| format!("Harbor's spec at {path}"));
    match (tools, spec) {
        (None, None) => None,
        (Some(t), None) => Some(format!("needs {t}")),
        (None, Some(s)) => Some(format!("needs {s}")),
        (Some(t), Some(s)) => Some(format!("needs {t} and {s}")),
    }
}

/// The workspace root: this crate is `testkit/macros`.
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `path` relative to `root` when it is under it (as it is: `../shared/...`), else whole.
fn display_under(path: &Path, root: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// `#[ignore = "REASON"]`
fn ignore_attribute(reason: &str) -> TokenStream {
    tokens(&format!("#[ignore = {}]", Literal::string(reason)))
}

/// `const _: Option<&str> = option_env!("VAR");` for `PATH` and `CI`: `rustc` records both as
/// environment dependencies of the test crate.
fn env_tracking() -> TokenStream {
    tokens(
        "const _: Option<&str> = option_env!(\"PATH\");\n\
         const _: Option<&str> = option_env!(\"CI\");",
    )
}

/// `const _: &[u8] = include_bytes!("PATH");`: `rustc` records the file as a dependency.
fn include_tracking(path: &Path) -> TokenStream {
    tokens(&format!(
        "const _: &[u8] = include_bytes!({});",
        Literal::string(&path.display().to_string())
    ))
}

/// Rust source of our own making as tokens (a `compile_error!` should it not lex).
fn tokens(source: &str) -> TokenStream {
    source.parse().unwrap_or_else(|e| {
        compile_error(&format!(
            "harbor-testkit-macros made tokens that do not lex ({e}): {source}"
        ))
    })
}

/// `compile_error!("MESSAGE");`
fn compile_error(message: &str) -> TokenStream {
    [
        TokenTree::Ident(Ident::new("compile_error", Span::call_site())),
        TokenTree::Punct(Punct::new('!', Spacing::Alone)),
        TokenTree::Group(Group::new(
            Delimiter::Parenthesis,
            TokenTree::Literal(Literal::string(message)).into(),
        )),
        TokenTree::Punct(Punct::new(';', Spacing::Alone)),
    ]
    .into_iter()
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_names_only_what_is_missing() {
        assert_eq!(reason(&[], None), None);
        assert_eq!(
            reason(&["docker-registry", "skopeo"], None).as_deref(),
            Some("needs docker-registry, skopeo on PATH")
        );
        assert_eq!(
            reason(&[], Some("../shared/specs/x.yaml")).as_deref(),
            Some("needs Harbor's spec at ../shared/specs/x.yaml")
        );
        assert_eq!(
            reason(&["prism"], Some("s.yaml")).as_deref(),
            Some("needs prism on PATH and Harbor's spec at s.yaml")
        );
    }

    #[test]
    fn tool_names_are_plain_string_literals() {
        assert_eq!(
            tool_name("\"docker-registry\"").as_deref(),
            Ok("docker-registry")
        );
        for bad in ["docker", "\"\"", "r\"x\"", "\"a/b\"", "\"a\\nb\"", "'x'"] {
            assert!(tool_name(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn the_spec_is_shown_relative_to_the_workspace() {
        let root = workspace_root();
        assert_eq!(
            display_under(&lookup::spec_under(&root), &root),
            "codegen/spec/harbor-v2.0-swagger.yaml"
        );
    }
}
