//! `harbor-codegen`: regenerate harbor-client's API code, or check it for drift.
//!
//! ```text
//! cargo run -p harbor-codegen                 # write the generated files
//! cargo run -p harbor-codegen -- check        # regenerate into a temporary directory and
//!                                             # fail when anything differs from the tree
//! ```
//!
//! Options: `--spec FILE` (default `codegen/spec/harbor-v2.0-swagger.yaml`), `--root DIR`
//! (the workspace, default: the one this crate is in).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use harbor_codegen::output::{GENERATED_DIRS, MARKER};
use harbor_codegen::{Error, Result};

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("harbor-codegen: {e}");
            ExitCode::FAILURE
        }
    }
}

struct Options {
    command: String,
    spec: Option<PathBuf>,
    root: PathBuf,
    harbor_git: Option<PathBuf>,
}

fn parse_args(args: Vec<String>) -> Result<Options> {
    let mut o = Options {
        command: "generate".into(),
        spec: None,
        root: harbor_codegen::workspace_root(),
        harbor_git: None,
    };
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .ok_or_else(|| Error::new(format!("{name} needs a value")))
        };
        match a.as_str() {
            "generate" | "check" | "since" => o.command = a,
            "--harbor-git" => o.harbor_git = Some(PathBuf::from(value("--harbor-git")?)),
            "--spec" => o.spec = Some(PathBuf::from(value("--spec")?)),
            "--root" => o.root = PathBuf::from(value("--root")?),
            "-h" | "--help" => {
                o.command = "help".into();
            }
            other => {
                return Err(Error::new(format!(
                    "unknown argument `{other}` (see --help)"
                )));
            }
        }
    }
    Ok(o)
}

fn run(args: Vec<String>) -> Result<()> {
    let o = parse_args(args)?;
    match o.command.as_str() {
        "help" => {
            println!(
                "harbor-codegen [generate|check] [--spec FILE] [--root DIR]\nharbor-codegen since --harbor-git DIR\n\n  generate  write harbor-client's generated API files (the default)\n  check     regenerate into a temporary directory; fail when the tree differs\n  since     derive data/since.yaml from the release tags of a goharbor/harbor git directory"
            );
            Ok(())
        }
        "check" => check(&o),
        "since" => since(&o),
        _ => {
            let files = harbor_codegen::generate_formatted(&o.root, o.spec.as_deref())?;
            let (written, removed) = write_tree(&o.root, &files)?;
            println!(
                "harbor-codegen: {} files generated ({written} changed, {removed} stale removed)",
                files.len()
            );
            Ok(())
        }
    }
}

/// Derives `data/since.yaml` from a goharbor/harbor clone.
fn since(o: &Options) -> Result<()> {
    use harbor_codegen::since::{SinceTable, derive, render};
    let git_dir = o.harbor_git.as_deref().ok_or_else(|| {
        Error::new("since needs --harbor-git DIR (a goharbor/harbor git directory)")
    })?;
    let inputs = harbor_codegen::Inputs::from_workspace(&o.root, o.spec.as_deref())?;
    let spec = harbor_codegen::spec::Spec::parse(&inputs.spec)?;
    let previous = SinceTable::parse(&inputs.since)?;
    let derived = derive(git_dir, &spec, previous.baseline())?;
    let path = o.root.join(harbor_codegen::SINCE_FILE);
    std::fs::write(&path, render(&previous, &derived))
        .map_err(|e| Error::new(format!("{}: {e}", path.display())))?;
    println!(
        "harbor-codegen: {} operations and {} later parameters over {} tags written to {}",
        derived.since.len(),
        derived.params.values().map(BTreeMap::len).sum::<usize>(),
        derived.tags.len(),
        harbor_codegen::SINCE_FILE
    );
    Ok(())
}

/// Writes the files that changed and removes generated files that are no longer produced.
fn write_tree(root: &Path, files: &BTreeMap<PathBuf, String>) -> Result<(usize, usize)> {
    let mut written = 0;
    for (rel, text) in files {
        let path = root.join(rel);
        if std::fs::read_to_string(&path).ok().as_deref() == Some(text.as_str()) {
            continue;
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::new(format!("{}: {e}", dir.display())))?;
        }
        std::fs::write(&path, text).map_err(|e| Error::new(format!("{}: {e}", path.display())))?;
        written += 1;
    }
    let stale = stale_files(root, files)?;
    for rel in &stale {
        let path = root.join(rel);
        std::fs::remove_file(&path).map_err(|e| Error::new(format!("{}: {e}", path.display())))?;
    }
    Ok((written, stale.len()))
}

/// Generated files (by their marker) in the generated directories that the generator no
/// longer produces.
fn stale_files(root: &Path, files: &BTreeMap<PathBuf, String>) -> Result<Vec<PathBuf>> {
    let mut stale = Vec::new();
    for dir in GENERATED_DIRS {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        for entry in entries.flatten() {
            let rel = Path::new(dir).join(entry.file_name());
            if files.contains_key(&rel) {
                continue;
            }
            let head = std::fs::read_to_string(entry.path()).unwrap_or_default();
            if head.lines().take(2).any(|l| l.contains(MARKER)) {
                stale.push(rel);
            }
        }
    }
    stale.sort();
    Ok(stale)
}

/// Regenerates into a temporary directory and compares it with the tree.
fn check(o: &Options) -> Result<()> {
    let files = harbor_codegen::generate_formatted(&o.root, o.spec.as_deref())?;
    let tmp = std::env::temp_dir().join(format!("harbor-codegen-check-{}", std::process::id()));
    let result = (|| {
        write_tree(&tmp, &files)?;
        let mut problems = Vec::new();
        for rel in files.keys() {
            let fresh = harbor_codegen::read(&tmp.join(rel))?;
            match std::fs::read_to_string(o.root.join(rel)) {
                Ok(committed) if committed == fresh => {}
                Ok(committed) => problems.push(format!(
                    "{} differs from a fresh generation:\n{}",
                    rel.display(),
                    first_difference(&committed, &fresh)
                )),
                Err(_) => problems.push(format!("{} is missing", rel.display())),
            }
        }
        for rel in stale_files(&o.root, &files)? {
            problems.push(format!(
                "{} is marked {MARKER} but no longer generated",
                rel.display()
            ));
        }
        if problems.is_empty() {
            println!(
                "harbor-codegen: the {} generated files match the spec and the data",
                files.len()
            );
            Ok(())
        } else {
            Err(Error::new(format!(
                "the generated files drifted ({} problems); run `cargo run -p harbor-codegen` and commit the result:\n{}",
                problems.len(),
                problems.join("\n")
            )))
        }
    })();
    let _ = std::fs::remove_dir_all(&tmp);
    result
}

/// The first differing line of two texts, with its number.
fn first_difference(committed: &str, fresh: &str) -> String {
    let (mut a, mut b) = (committed.lines(), fresh.lines());
    let mut n = 1;
    loop {
        match (a.next(), b.next()) {
            (Some(x), Some(y)) if x == y => n += 1,
            (x, y) => {
                return format!(
                    "  line {n}\n  - committed: {}\n  + generated: {}",
                    x.unwrap_or("<end of file>"),
                    y.unwrap_or("<end of file>")
                );
            }
        }
    }
}
