//! Formatting through `rustfmt`, as `cargo fmt` would format the committed files.

use std::io::Write as _;
use std::process::{Command, Stdio};

use crate::{Error, Result};

/// The `rustfmt` to run: `$RUSTFMT`, else `rustfmt` on `PATH` (rustup's proxy picks the
/// toolchain of the workspace).
fn rustfmt() -> String {
    std::env::var("RUSTFMT").unwrap_or_else(|_| "rustfmt".to_owned())
}

/// Formats one file's source with the workspace's edition (2024).
///
/// # Errors
///
/// When `rustfmt` cannot be run or rejects the source (a generator bug: the message shows
/// rustfmt's complaint).
pub fn format_source(source: &str) -> Result<String> {
    let mut child = Command::new(rustfmt())
        .args(["--edition", "2024", "--emit", "stdout", "--quiet"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            Error::new(format!(
                "cannot run rustfmt ({e}); install it with `rustup component add rustfmt`"
            ))
        })?;
    let mut stdin = child
        .stdin
        .take()
        .ok_or_else(|| Error::new("rustfmt: no stdin"))?;
    let text = source.to_owned();
    let writer = std::thread::spawn(move || stdin.write_all(text.as_bytes()));
    let output = child
        .wait_with_output()
        .map_err(|e| Error::new(format!("rustfmt: {e}")))?;
    writer
        .join()
        .map_err(|_| Error::new("rustfmt: the writer thread failed"))?
        .map_err(|e| Error::new(format!("rustfmt: {e}")))?;
    if !output.status.success() {
        return Err(Error::new(format!(
            "rustfmt rejected generated code:\n{}",
            String::from_utf8_lossy(&output.stderr)
        )));
    }
    String::from_utf8(output.stdout).map_err(|e| Error::new(format!("rustfmt: {e}")))
}
