//! The `needs` attribute of `harbor-testkit` (re-exported there as `harbor_testkit::needs`;
//! its documentation is the user's guide). Dev-only, never published.
//!
//! The attribute decides at compile time, in the test crate's `rustc`: it looks each tool up on
//! the `PATH` that `rustc` sees (the one `cargo` was started with), and reads `CI`. To make
//! `cargo` rebuild the test when either changes, it also emits
//! `const _: Option<&str> = option_env!("PATH");` (and the same for `CI`) beside the test:
//! `rustc` records both as environment dependencies of the crate, and `cargo` compares them on
//! its next run.
//!
//! A `path = "..."` requirement is tracked through files: when the path is there, every file
//! under it is an `include_bytes!` dependency (deleting one rebuilds the test); when it is
//! absent, a stamp file dated in the future is (see `absent_stamp`), so `cargo` rebuilds the
//! test crate on each run until the path appears. Stable Rust has no way to make a proc macro
//! depend on a path that does not exist yet; rebuilding one small test crate is the price.

use proc_macro::{Delimiter, Group, Ident, Literal, Punct, Spacing, Span, TokenStream, TokenTree};
use std::path::{Path, PathBuf};

#[path = "../../src/lookup.rs"]
mod lookup;

/// What a test needs: tools on `PATH` (string literals), `spec` (Harbor's swagger) and
/// `path = "REL"` (a file or directory, relative to the workspace root).
///
/// `#[harbor_testkit::needs("docker-registry", "skopeo")]`, `#[harbor_testkit::needs("prism",
/// spec)]` or `#[harbor_testkit::needs(path = "../shared/fixtures/harbor-webhooks")]`, above
/// `#[test]` or `#[tokio::test]`. When a tool or the spec is missing and `CI` is not `true`,
/// the test is compiled as `#[ignore = "needs skopeo on PATH"]`; otherwise it is left as it is
/// (and its runtime guard, `harbor_testkit::tool`, fails it under `CI=true`). A missing `path`
/// ignores the test (`#[ignore = "REL not found"]`) also under `CI=true`: it names data from
/// outside the repository that CI cannot install, unlike a tool.
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
    let paths_missing: Vec<&str> = needs
        .paths
        .iter()
        .map(String::as_str)
        .filter(|p| !root.join(p).exists())
        .collect();
    // Under CI=true a missing tool or spec is the runtime guard's to fail; a missing path is
    // ignored all the same (CI cannot install it).
    let (tools, spec_missing) = if lookup::is_ci() {
        (Vec::new(), None)
    } else {
        (tools, spec_missing)
    };
    let mut out = TokenStream::new();
    if let Some(reason) = reason(&tools, spec_missing.as_deref(), &paths_missing) {
        out.extend(ignore_attribute(&reason));
    }
    out.extend(item);
    out.extend(env_tracking());
    if needs.spec && spec.is_file() {
        // Makes the spec a file dependency: deleting or changing it rebuilds the test.
        out.extend(include_tracking(&spec));
    }
    for path in &needs.paths {
        out.extend(path_tracking(&root.join(path)));
    }
    out
}

/// The parsed arguments.
#[derive(Debug, Default, PartialEq)]
struct Needs {
    tools: Vec<String>,
    spec: bool,
    /// Relative to the workspace root, as written.
    paths: Vec<String>,
}

const USAGE: &str = "`needs` takes tool names as plain string literals, the word `spec` and \
                     `path = \"RELATIVE/PATH\"`, separated by commas: \
                     #[needs(\"docker-registry\", \"skopeo\")]";

fn parse(args: TokenStream) -> Result<Needs, String> {
    let mut needs = Needs::default();
    let mut expect_item = true;
    let mut args = args.into_iter();
    while let Some(tree) = args.next() {
        match tree {
            TokenTree::Ident(id) if expect_item && id.to_string() == "path" => {
                match (args.next(), args.next()) {
                    (Some(TokenTree::Punct(eq)), Some(TokenTree::Literal(lit)))
                        if eq.as_char() == '=' =>
                    {
                        needs.paths.push(relative_path(&lit.to_string())?);
                    }
                    _ => return Err(format!("`path` wants `= \"RELATIVE/PATH\"`: {USAGE}")),
                }
                expect_item = false;
            }
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
    if needs.tools.is_empty() && !needs.spec && needs.paths.is_empty() {
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

/// The relative path inside a string literal's source text (`"../shared/fixtures/x"`): not
/// absolute (the workspace may live anywhere), no escapes or quotes (it is used as written).
fn relative_path(source: &str) -> Result<String, String> {
    let path = source
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .filter(|p| !p.is_empty() && !p.starts_with('/') && !p.contains(['\\', '"']))
        .ok_or_else(|| format!("`{source}` is not a relative path: {USAGE}"))?;
    Ok(path.to_owned())
}

/// Why the test is ignored, or `None` when nothing is missing.
fn reason(
    missing_tools: &[&str],
    missing_spec: Option<&str>,
    missing_paths: &[&str],
) -> Option<String> {
    let tools =
        (!missing_tools.is_empty()).then(|| format!("{} on PATH", missing_tools.join(", ")));
    let spec = missing_spec.map(|path| format!("Harbor's spec at {path}"));
    let needs = match (tools, spec) {
        (None, None) => None,
        (Some(t), None) => Some(format!("needs {t}")),
        (None, Some(s)) => Some(format!("needs {s}")),
        (Some(t), Some(s)) => Some(format!("needs {t} and {s}")),
    };
    let paths = missing_paths.iter().map(|p| format!("{p} not found"));
    let parts: Vec<String> = needs.into_iter().chain(paths).collect();
    (!parts.is_empty()).then(|| parts.join("; "))
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

/// The file dependencies that rebuild the test when `path` changes: every file under it when it
/// is there (sorted, so the output is stable), else [`absent_stamp`].
fn path_tracking(path: &Path) -> TokenStream {
    let files = if path.exists() {
        files_under(path)
    } else {
        absent_stamp(path).into_iter().collect()
    };
    files.iter().map(|f| include_tracking(f)).collect()
}

/// Every file under `path` (`path` itself when it is a file), sorted.
fn files_under(path: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![path.to_path_buf()];
    while let Some(p) = stack.pop() {
        match std::fs::read_dir(&p) {
            Ok(entries) => stack.extend(entries.filter_map(|e| e.ok().map(|e| e.path()))),
            Err(_) if p.is_file() => files.push(p),
            Err(_) => {}
        }
    }
    files.sort();
    files
}

/// A stamp file standing for the absent `path`, dated a century ahead: as a file dependency it
/// is always newer than the last build, so `cargo` rebuilds the test crate on every run and the
/// attribute looks for `path` again. `None` (no tracking) when the stamp cannot be written.
///
/// It lives in the system's temporary directory, one per absent path; a stamp that vanishes
/// (a cleaned `/tmp`) is a missing dependency, which also rebuilds.
fn absent_stamp(path: &Path) -> Option<PathBuf> {
    let name: String = path
        .display()
        .to_string()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let dir = std::env::temp_dir().join("harbor-testkit-needs");
    std::fs::create_dir_all(&dir).ok()?;
    let stamp = dir.join(format!("{name}.absent"));
    let file = std::fs::File::create(&stamp).ok()?;
    let century = std::time::Duration::from_secs(100 * 365 * 24 * 60 * 60);
    let future = std::time::SystemTime::now().checked_add(century)?;
    file.set_modified(future).ok()?;
    Some(stamp)
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
        assert_eq!(reason(&[], None, &[]), None);
        assert_eq!(
            reason(&["docker-registry", "skopeo"], None, &[]).as_deref(),
            Some("needs docker-registry, skopeo on PATH")
        );
        assert_eq!(
            reason(&[], Some("../shared/specs/x.yaml"), &[]).as_deref(),
            Some("needs Harbor's spec at ../shared/specs/x.yaml")
        );
        assert_eq!(
            reason(&["prism"], Some("s.yaml"), &[]).as_deref(),
            Some("needs prism on PATH and Harbor's spec at s.yaml")
        );
        assert_eq!(
            reason(&[], None, &["../shared/fixtures/harbor-webhooks"]).as_deref(),
            Some("../shared/fixtures/harbor-webhooks not found")
        );
        assert_eq!(
            reason(&["prism"], None, &["a", "b/c"]).as_deref(),
            Some("needs prism on PATH; a not found; b/c not found")
        );
    }

    #[test]
    fn paths_are_relative_plain_string_literals() {
        assert_eq!(
            relative_path("\"../shared/fixtures/harbor-webhooks\"").as_deref(),
            Ok("../shared/fixtures/harbor-webhooks")
        );
        assert_eq!(
            relative_path("\"codegen/spec\"").as_deref(),
            Ok("codegen/spec")
        );
        for bad in ["x", "\"\"", "\"/etc/passwd\"", "r\"a\"", "\"a\\nb\"", "'x'"] {
            assert!(relative_path(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn a_present_path_tracks_its_files_and_an_absent_one_a_future_stamp() {
        let dir = tempfile_dir("present");
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("a.json"), "{}").unwrap();
        std::fs::write(dir.join("sub/b.json"), "{}").unwrap();
        assert_eq!(
            files_under(&dir),
            [dir.join("a.json"), dir.join("sub/b.json")]
        );
        assert_eq!(files_under(&dir.join("a.json")), [dir.join("a.json")]);
        let stamp = absent_stamp(&dir.join("nope")).unwrap();
        let modified = std::fs::metadata(&stamp).unwrap().modified().unwrap();
        assert!(modified > std::time::SystemTime::now());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A fresh directory under the system's temporary one (no `tempfile` here: no dependencies).
    fn tempfile_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "harbor-testkit-macros-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
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
