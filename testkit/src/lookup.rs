//! What a test needs from the machine, looked up the same way at run time (`harbor-testkit`'s
//! guards) and at compile time (`harbor-testkit-macros`' `needs` attribute, which includes this
//! file with `#[path]`): one home for "is the tool there", "is this CI" and "where is the spec".

use std::path::{Path, PathBuf};

/// Whether the environment variable `CI` is `true`.
pub(crate) fn is_ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

/// The file `name` in the first directory of `PATH` that has it.
pub(crate) fn find_on_path(name: &str) -> Option<PathBuf> {
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// Harbor's swagger, relative to the workspace root `root`: the copy vendored beside the API
/// generator (`codegen/spec`).
pub(crate) fn spec_under(root: &Path) -> PathBuf {
    root.join("codegen/spec/harbor-v2.0-swagger.yaml")
}
