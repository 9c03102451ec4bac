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

use harbor_events::Decoder;
use http::{HeaderMap, HeaderValue, header};

const USAGE: &str = "usage: events_decode [--json] [--content-type CT] [FILE]";

struct Args {
    json: bool,
    content_type: Option<String>,
    file: Option<String>,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let mut parsed = Args {
        json: false,
        content_type: None,
        file: None,
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--json" => parsed.json = true,
            "--content-type" => {
                let value = args.next().ok_or("--content-type needs a value")?;
                parsed.content_type = Some(value);
            }
            flag if flag.starts_with("--") => return Err(format!("unknown option {flag}")),
            file => {
                if parsed.file.replace(file.to_owned()).is_some() {
                    return Err("more than one FILE given".to_owned());
                }
            }
        }
    }
    Ok(Some(parsed))
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
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(Some(args)) => args,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("events_decode: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let body = match read_input(args.file.as_deref()) {
        Ok(body) => body,
        Err(err) => {
            eprintln!("events_decode: cannot read the payload: {err}");
            return ExitCode::from(1);
        }
    };
    let mut headers = HeaderMap::new();
    if let Some(content_type) = &args.content_type {
        match HeaderValue::from_str(content_type) {
            Ok(value) => {
                headers.insert(header::CONTENT_TYPE, value);
            }
            Err(_) => {
                eprintln!("events_decode: --content-type is not a valid header value\n{USAGE}");
                return ExitCode::from(2);
            }
        }
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
