//! Webhook decoding: the typed decode beside its floor, in the same run.
//!
//! For every payload of the corpus (every format, small and large) three contenders read the
//! same bytes:
//! - `floor`: `serde_json` skipping the bytes (`IgnoredAny`): what JSON parsing alone costs;
//! - `value`: `serde_json::Value`, the untyped tree most hand-written receivers start with;
//! - `typed`: `harbor_events::decode`, format detection plus the borrowed typed payload;
//! - `typed_owned`: the same, then `into_owned()` for a `'static` payload to store or send on.
//!
//! Each group decodes a whole corpus (all formats, then one format at a time; small payloads,
//! then large ones) once per iteration: `typed` is the figure to compare with `floor`. The
//! group `real-v2` is the real Harbor 2.x payloads of `../shared/fixtures` (when present).
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use harbor_benches::{Sample, shared_v2_corpus, webhook_corpus};
use serde::de::IgnoredAny;

fn floor(body: &[u8]) -> bool {
    serde_json::from_slice::<IgnoredAny>(body).is_ok()
}

fn value(body: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(body).is_ok()
}

fn typed(body: &[u8]) -> bool {
    harbor_events::decode(body).is_ok()
}

fn typed_owned(body: &[u8]) -> bool {
    harbor_events::decode(body).map(|p| p.into_owned()).is_ok()
}

/// A way to read a payload; `true` when it decoded.
type Contender = fn(&[u8]) -> bool;

const CONTENDERS: [(&str, Contender); 4] = [
    ("floor", floor),
    ("value", value),
    ("typed", typed),
    ("typed_owned", typed_owned),
];

fn whole_corpus(c: &mut Criterion, name: &str, corpus: &[&Sample]) {
    let bytes: usize = corpus.iter().map(|s| s.body.len()).sum();
    let mut group = c.benchmark_group(format!("corpus/{name}"));
    group.throughput(Throughput::Bytes(bytes as u64));
    for (contender, decode) in CONTENDERS {
        group.bench_function(contender, |b| {
            b.iter(|| {
                for sample in corpus {
                    assert!(decode(black_box(&sample.body)), "{} failed", sample.name);
                }
            });
        });
    }
    group.finish();
}

fn bench(c: &mut Criterion) {
    let corpus = webhook_corpus();
    assert!(!corpus.is_empty(), "no fixtures found: the corpus is empty");
    let real = shared_v2_corpus();
    if real.is_empty() {
        eprintln!("notice: ../shared/fixtures/harbor-webhooks/v2 not found; no `real-v2` group");
    } else {
        whole_corpus(c, "real-v2/small", &real.iter().collect::<Vec<_>>());
    }
    for size in ["small", "large"] {
        let of_size: Vec<&Sample> = corpus
            .iter()
            .filter(|s| s.name.starts_with("large/") == (size == "large"))
            .collect();
        whole_corpus(c, &format!("all/{size}"), &of_size);
        // The same per format, so a slow format cannot hide behind a fast one.
        let mut formats: Vec<String> = of_size.iter().map(|s| format_of(s)).collect();
        formats.sort();
        formats.dedup();
        for format in formats {
            let of_format: Vec<&Sample> = of_size
                .iter()
                .copied()
                .filter(|s| format_of(s) == format)
                .collect();
            whole_corpus(c, &format!("{format}/{size}"), &of_format);
        }
    }
}

fn format_of(sample: &Sample) -> String {
    harbor_events::decode(&sample.body)
        .map(|payload| payload.format().to_string())
        .unwrap_or_default()
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2));
    targets = bench
}
criterion_main!(benches);
