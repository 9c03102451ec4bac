//! Decode one Harbor webhook payload and say what it means.
//!
//! ```text
//! events_decode [--json] [--content-type CT] [FILE]
//! ```
//!
//! Reads the payload from `FILE`, or from standard input when `FILE` is absent or `-`, detects
//! its format (Harbor 1.x, the 1.x docs shape, Harbor 2.x, CloudEvents, registry notification),
//! and prints one line per event for a person, or the unified events as JSON with `--json`.
//! `--content-type` passes the request's `Content-Type` as Harbor sent it, which is how
//! CloudEvents are told apart at the HTTP edge.
//!
//! Exit status: 0 when the payload decoded, 1 with the error on stderr when it is bad,
//! 2 on a usage error.

use std::io::Read as _;
use std::process::ExitCode;

use clap::Parser;
use harbor_events::Decoder;
use http::{HeaderMap, HeaderValue, header};

/// Decode one Harbor webhook payload and say what it means.
///
/// Detects the format (Harbor 1.x, the 1.x docs shape, Harbor 2.x, CloudEvents, registry
/// notification). Exit status: 0 when the payload decoded, 1 when it is bad, 2 on a usage error.
#[derive(Debug, Parser)]
#[command(name = "events_decode", version)]
struct Args {
    /// Print the unified events as JSON instead of one line per event.
    #[arg(long)]
    json: bool,
    /// The request's `Content-Type` as Harbor sent it (tells CloudEvents apart).
    #[arg(long, value_name = "CT", value_parser = parse_content_type)]
    content_type: Option<HeaderValue>,
    /// The payload file; standard input when absent or `-`.
    file: Option<String>,
}

fn parse_content_type(text: &str) -> Result<HeaderValue, String> {
    HeaderValue::from_str(text).map_err(|_| "not a valid header value".to_owned())
}

/// Installs the log subscriber: `RUST_LOG` (default `warn`), to stderr.
fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::builder()
        .with_default_directive(tracing_subscriber::filter::LevelFilter::WARN.into())
        .from_env_lossy();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
}

fn read_input(file: Option<&str>) -> std::io::Result<Vec<u8>> {
    match file {
        None | Some("-") => {
            let mut body = Vec::new();
            std::io::stdin().read_to_end(&mut body)?;
            Ok(body)
        }
        Some(path) => std::fs::read(path),
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    init_logs();
    let body = match read_input(args.file.as_deref()) {
        Ok(body) => body,
        Err(err) => {
            eprintln!("events_decode: cannot read the payload: {err}");
            return ExitCode::from(1);
        }
    };
    let mut headers = HeaderMap::new();
    if let Some(content_type) = args.content_type {
        headers.insert(header::CONTENT_TYPE, content_type);
    }
    // A file on disk may be larger than a webhook body would be; allow up to 64 MiB here.
    let decoder = Decoder::new().max_body_bytes(64 << 20);
    let payload = match decoder.decode_with_headers(&headers, &body) {
        Ok(payload) => payload,
        Err(err) => {
            eprintln!("events_decode: {err}");
            return ExitCode::from(1);
        }
    };
    let events = payload.events();
    if args.json {
        match serde_json::to_string_pretty(&events) {
            Ok(json) => println!("{json}"),
            Err(err) => {
                eprintln!("events_decode: cannot print the events as JSON: {err}");
                return ExitCode::from(1);
            }
        }
    } else {
        println!("format: {}", payload.format());
        for event in &events {
            println!("{event}");
        }
    }
    ExitCode::SUCCESS
}
