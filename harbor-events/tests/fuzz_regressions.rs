//! Inputs the fuzz targets (`fuzz/`) once failed on, kept under
//! `tests/fixtures/fuzz-regressions/TARGET/` and replayed here in plain `cargo test` (the fuzz
//! step in CI replays them too, as part of each target's corpus).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use harbor_events::{Decoder, Error, Format};

fn reproducer(target: &str, name: &str) -> Vec<u8> {
    harbor_testkit::fuzz_reproducer(env!("CARGO_MANIFEST_DIR"), target, name)
}

/// `events_format` (the 2026-12-01 campaign, after 1.57 M runs) found a documented-1.x body
/// whose `trigger_time` is in milliseconds (1583283222332): read as Unix seconds it is in the
/// year 52142, and encoding that event as CloudEvents wrote `"time":"+52142-04-01T07:05:32Z"`,
/// which is not RFC 3339, so the body did not decode back. Encoding it in a format with RFC
/// 3339 times (CloudEvents, registry notifications) now fails with `Error::Encode` naming the
/// time; the formats with Unix seconds still encode it.
#[test]
fn an_event_in_the_year_52142_does_not_encode_to_a_time_no_reader_takes() {
    let data = reproducer("events_format", "trigger-time-in-milliseconds");
    let (&selector, body) = data.split_first().unwrap();
    let format = Format::ALL[usize::from(selector) % Format::ALL.len()];
    let payload = Decoder::new().only_format(format).decode(body).unwrap();
    let mut encoded = 0;
    for event in payload.events() {
        for target in Format::ALL {
            match event.encode(target) {
                Ok(bytes) => {
                    let back = Decoder::new().only_format(target).decode(&bytes);
                    assert!(
                        back.is_ok(),
                        "{target:?} wrote what it cannot read: {back:?}"
                    );
                    encoded += 1;
                }
                Err(Error::Encode(e)) => {
                    assert!(e.to_string().contains("+52142"), "{e}");
                    assert!(
                        matches!(target, Format::CloudEvents | Format::Distribution),
                        "only the formats with RFC 3339 times refuse it, not {target:?}"
                    );
                }
                Err(_) => {}
            }
        }
    }
    assert!(encoded > 0, "the formats with Unix seconds still encode it");
}
