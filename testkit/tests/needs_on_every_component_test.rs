//! Every test that drives a real component carries `#[harbor_testkit::needs(...)]`, so that
//! without the component it shows as ignored instead of passing having checked nothing.
//!
//! The check reads every `.rs` file under each workspace crate's `tests/` folder (the crate
//! folders directly under the workspace root, `fuzz/` and `target/` aside) with a small scanner,
//! not a Rust parser:
//!
//! 1. comments, string literals (also raw and byte strings) and character literals are blanked
//!    out, so that neither a word in them nor a brace counts;
//! 2. the attributes (`#[...]`) written directly before an `fn` belong to it; the function's
//!    body is its braces, matched;
//! 3. a function is a test when one of its attributes is `test` or ends in `::test`
//!    (`#[tokio::test]`); it is flagged when its body calls a component's guard or starter
//!    ([`guard_calls`]: `Registry::start*`, `NatsServer::start*`, `Prism::start`, and the
//!    functions `tool`, `require_tool`, `prism`, `require_prism`, `shared_prism`,
//!    `require_spec`) and none of its attributes is `needs`.
//!
//! A helper (any function without a test attribute) may call them freely; a test that calls a
//! helper *of the same file* whose body calls a guard directly is flagged as if it called the
//! guard. Helpers in other files (`common::registry()`), helpers of helpers and tests made by a
//! `macro_rules!` are not followed: the check finds the direct cases, the ones a reviewer looks
//! for, without a Rust parser.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

/// A function found by the scanner.
#[derive(Debug)]
struct Function {
    name: String,
    /// 1-based line of the `fn` keyword.
    line: usize,
    /// The text inside each of its attributes' brackets, trimmed.
    attributes: Vec<String>,
    /// The text between its braces, literals and comments blanked out.
    body: String,
}

impl Function {
    fn is_test(&self) -> bool {
        self.attributes.iter().any(|a| {
            let path = attribute_path(a);
            path == "test" || path.ends_with("::test")
        })
    }

    fn has_needs(&self) -> bool {
        self.attributes.iter().any(|a| {
            let path = attribute_path(a);
            path == "needs" || path.ends_with("::needs")
        })
    }
}

/// `tokio::test` of `tokio::test(flavor = "multi_thread")`, `ignore` of `ignore = "..."`.
fn attribute_path(attribute: &str) -> String {
    attribute
        .split(['(', '=', '['])
        .next()
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect()
}

/// `source` with comments, string and character literals replaced by spaces (line breaks kept,
/// so that lines still count), as characters.
fn blank_literals(source: &str) -> Vec<char> {
    let s: Vec<char> = source.chars().collect();
    let mut out = s.clone();
    let blank = |out: &mut Vec<char>, from: usize, to: usize| {
        for c in &mut out[from..to.min(s.len())] {
            if *c != '\n' {
                *c = ' ';
            }
        }
    };
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut i = 0;
    while i < s.len() {
        let next = s.get(i + 1).copied();
        match s[i] {
            '/' if next == Some('/') => {
                let end = (i..s.len()).find(|&j| s[j] == '\n').unwrap_or(s.len());
                blank(&mut out, i, end);
                i = end;
            }
            '/' if next == Some('*') => {
                let (mut depth, mut j) = (1, i + 2);
                while j < s.len() && depth > 0 {
                    if s[j] == '/' && s.get(j + 1) == Some(&'*') {
                        depth += 1;
                        j += 2;
                    } else if s[j] == '*' && s.get(j + 1) == Some(&'/') {
                        depth -= 1;
                        j += 2;
                    } else {
                        j += 1;
                    }
                }
                blank(&mut out, i, j);
                i = j;
            }
            // A raw string: `r"`, `r#"`, `br##"`, the `r` starting a word (or after that `b`).
            'r' if (i == 0
                || !ident(s[i - 1])
                || (s[i - 1] == 'b' && (i < 2 || !ident(s[i - 2]))))
                && {
                    let hashes = s[i + 1..].iter().take_while(|&&c| c == '#').count();
                    s.get(i + 1 + hashes) == Some(&'"')
                } =>
            {
                let hashes = s[i + 1..].iter().take_while(|&&c| c == '#').count();
                let open = i + 1 + hashes;
                let mut j = open + 1;
                while j < s.len() {
                    if s[j] == '"' && s[j + 1..].iter().take_while(|&&c| c == '#').count() >= hashes
                    {
                        break;
                    }
                    j += 1;
                }
                let end = (j + 1 + hashes).min(s.len());
                blank(&mut out, open, end);
                i = end;
            }
            '"' => {
                let mut j = i + 1;
                while j < s.len() && s[j] != '"' {
                    j += if s[j] == '\\' { 2 } else { 1 };
                }
                blank(&mut out, i, j + 1);
                i = j + 1;
            }
            // A character literal (`'x'`, `'\n'`, `'\u{1F600}'`), not a lifetime (`'a`).
            '\'' if next == Some('\\') || s.get(i + 2) == Some(&'\'') => {
                let mut j = i + 1;
                while j < s.len() && s[j] != '\'' {
                    j += if s[j] == '\\' { 2 } else { 1 };
                }
                blank(&mut out, i, j + 1);
                i = j + 1;
            }
            _ => i += 1,
        }
    }
    out
}

/// The index of the bracket closing the one at `open` (`(`, `[` or `{`), in blanked text.
fn matching(s: &[char], open: usize) -> Option<usize> {
    let (o, c) = match s[open] {
        '(' => ('(', ')'),
        '[' => ('[', ']'),
        _ => ('{', '}'),
    };
    let mut depth = 0usize;
    for (j, &ch) in s.iter().enumerate().skip(open) {
        if ch == o {
            depth += 1;
        } else if ch == c {
            depth -= 1;
            if depth == 0 {
                return Some(j);
            }
        }
    }
    None
}

/// Every function with a body in `source`, with the attributes written directly before it.
fn functions(source: &str) -> Vec<Function> {
    let s = blank_literals(source);
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    let line_of = |at: usize| s[..at].iter().filter(|&&c| c == '\n').count() + 1;
    let mut found = Vec::new();
    let mut pending: Vec<String> = Vec::new();
    let mut i = 0;
    while i < s.len() {
        if s[i] == '#' {
            let open = if s.get(i + 1) == Some(&'!') {
                i + 2
            } else {
                i + 1
            };
            if s.get(open) == Some(&'[')
                && let Some(close) = matching(&s, open)
            {
                if open == i + 1 {
                    pending.push(
                        s[open + 1..close]
                            .iter()
                            .collect::<String>()
                            .trim()
                            .to_owned(),
                    );
                }
                i = close + 1;
                continue;
            }
        }
        let at_word = i == 0 || !ident(s[i - 1]);
        if at_word && s[i..].starts_with(&['f', 'n']) && s.get(i + 2).is_some_and(|&c| !ident(c)) {
            let name: String = s[i + 2..]
                .iter()
                .skip_while(|c| c.is_whitespace())
                .take_while(|&&c| ident(c))
                .collect();
            let attributes = std::mem::take(&mut pending);
            // The body opens at the first `{` after the parameters; a `;` first means none.
            let params = (i..s.len()).find(|&j| s[j] == '(');
            let after = params.and_then(|p| matching(&s, p)).unwrap_or(i);
            match (after..s.len()).find(|&j| s[j] == '{' || s[j] == ';') {
                Some(open) if s[open] == '{' => {
                    let close = matching(&s, open).unwrap_or(s.len() - 1);
                    found.push(Function {
                        name,
                        line: line_of(i),
                        attributes,
                        body: s[open + 1..close].iter().collect(),
                    });
                    i = close + 1;
                }
                Some(semi) => i = semi + 1,
                None => break,
            }
            continue;
        }
        if matches!(s[i], '{' | '}' | ';') {
            pending.clear();
        }
        i += 1;
    }
    found
}

/// The calls in `body` that start or look up a real component (see the module docs).
fn guard_calls(body: &str) -> Vec<String> {
    const FUNCTIONS: [&str; 6] = [
        "tool",
        "require_tool",
        "prism",
        "require_prism",
        "shared_prism",
        "require_spec",
    ];
    const STARTERS: [&str; 3] = ["Registry::start", "NatsServer::start", "Prism::start"];
    called_paths(body)
        .into_iter()
        .filter(|path| {
            let mut segments = path.rsplit("::");
            let last = segments.next().unwrap_or_default();
            let ty = segments.next();
            FUNCTIONS.contains(&last)
                || STARTERS.iter().any(|st| {
                    let (t, method) = st.split_once("::").unwrap_or_default();
                    ty == Some(t) && last.starts_with(method)
                })
        })
        .collect()
}

/// Every path called in `body` (`a::b::c(`), in order.
fn called_paths(body: &str) -> Vec<String> {
    let s: Vec<char> = body.chars().collect();
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut calls = Vec::new();
    let mut i = 0;
    while i < s.len() {
        if !ident(s[i]) || (i > 0 && ident(s[i - 1])) {
            i += 1;
            continue;
        }
        // A path of identifiers, `a::b::c`, then what follows it.
        let mut j = i;
        while j < s.len() && (ident(s[j]) || (s[j] == ':' && s.get(j + 1) == Some(&':'))) {
            j += if s[j] == ':' { 2 } else { 1 };
        }
        let path: String = s[i..j].iter().collect();
        let called = s[j..]
            .iter()
            .find(|c| !c.is_whitespace())
            .is_some_and(|&c| c == '(');
        if called {
            calls.push(path);
        }
        i = j.max(i + 1);
    }
    calls
}

/// `file:line name calls ...` for each test in `source` that calls a guard without `needs`.
fn unmarked_tests(file: &str, source: &str) -> Vec<String> {
    let functions = functions(source);
    // Helpers of this file that call a guard directly: calling one counts as a guard call.
    let helpers: Vec<&str> = functions
        .iter()
        .filter(|f| !f.is_test() && !guard_calls(&f.body).is_empty())
        .map(|f| f.name.as_str())
        .collect();
    functions
        .iter()
        .filter(|f| f.is_test() && !f.has_needs())
        .filter_map(|f| {
            let mut calls = guard_calls(&f.body);
            let via_helpers: Vec<String> = called_paths(&f.body)
                .into_iter()
                .filter(|p| helpers.contains(&p.as_str()) && !calls.contains(p))
                .map(|p| format!("{p} (a helper that does)"))
                .collect();
            calls.extend(via_helpers);
            (!calls.is_empty()).then(|| {
                format!(
                    "{file}:{} {} calls {} without #[harbor_testkit::needs(...)]",
                    f.line,
                    f.name,
                    calls.join(", ")
                )
            })
        })
        .collect()
}

/// Every `.rs` file under `dir`, recursively, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "rs") {
                files.push(p);
            }
        }
    }
    files.sort();
    files
}

#[test]
fn every_test_that_drives_a_real_component_carries_needs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut crates: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("Cargo.toml").is_file())
        .filter(|p| !p.ends_with("fuzz") && !p.ends_with("target"))
        .collect();
    crates.sort();
    let mut scanned = 0;
    let mut unmarked = Vec::new();
    for krate in &crates {
        for file in rust_files(&krate.join("tests")) {
            let source = std::fs::read_to_string(&file).unwrap();
            let shown = file
                .strip_prefix(&root)
                .unwrap_or(&file)
                .display()
                .to_string();
            unmarked.extend(unmarked_tests(&shown, &source));
            scanned += 1;
        }
    }
    assert!(
        scanned > 50,
        "only {scanned} test files found under {}",
        root.display()
    );
    assert!(
        unmarked.is_empty(),
        "{} test(s) drive a real component without `needs` (outside CI they would pass \
         having checked nothing):\n{}",
        unmarked.len(),
        unmarked.join("\n")
    );
}

#[test]
fn the_scanner_finds_unmarked_tests_and_nothing_else() {
    let source = r####"
/// A helper may call guards: its callers name what they need.
fn registry() -> Option<Registry> { Registry::start("") }

#[test]
fn unmarked() {
    let _ = harbor_testkit::tool("skopeo");
}

#[harbor_testkit::needs("docker-registry")]
#[tokio::test(flavor = "multi_thread")]
async fn marked() {
    let Some(_r) = harbor_testkit::Registry::start_at(ip, "") else { return };
}

#[test]
fn words_in_literals_and_comments_do_not_count() {
    // tool("x") and Registry::start("")
    /* nested /* NatsServer::start() */ prism() */
    let _ = "require_prism() { unbalanced";
    let _ = r#"tool("x") }"#;
    let _ = b'{';
    let _ = '}';
    let _: &'static str = "";
    let _ = my_tool("x"); // not a guard: another function
    let _ = toolbox.tool; // not a call
}

mod inner {
    #[test]
    #[ignore = "why"]
    fn nested_unmarked() {
        let _nats = NatsServer::start_with(&[]);
        let _ = Prism::start(&p, None);
    }
}

#[test]
fn after_a_declaration_only() {}
fn declared(x: u8);
#[test]
fn calls_a_helper() { let _ = registry(); }
#[test]
fn calls_another_files_helper() { let _ = common::registry(); }
"####;
    let found = unmarked_tests("x.rs", source);
    assert_eq!(
        found,
        [
            "x.rs:6 unmarked calls harbor_testkit::tool without #[harbor_testkit::needs(...)]",
            "x.rs:32 nested_unmarked calls NatsServer::start_with, Prism::start without \
             #[harbor_testkit::needs(...)]",
            "x.rs:42 calls_a_helper calls registry (a helper that does) without \
             #[harbor_testkit::needs(...)]",
        ]
    );
    let names: Vec<String> = functions(source).into_iter().map(|f| f.name).collect();
    assert_eq!(
        names,
        [
            "registry",
            "unmarked",
            "marked",
            "words_in_literals_and_comments_do_not_count",
            "nested_unmarked",
            "after_a_declaration_only",
            "calls_a_helper",
            "calls_another_files_helper",
        ]
    );
}
