//! Differential fuzzing of `harbor_events::decode`'s two readers: whenever the hand-written
//! fast reader answers, the serde path (the reference) must accept the same body and give
//! the same value, field by field and in the same order.
#![no_main]

use harbor_events::Format;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first byte picks the format hint (a `Decoder` with a format, or Content-Type).
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    // 0 is no hint (detection), 1 to 5 a format.
    let hint = usize::from(selector)
        .checked_rem(Format::ALL.len() + 1)
        .and_then(|i| i.checked_sub(1))
        .map(|i| Format::ALL[i]);
    if let Some((Some(fast), reference)) = harbor_events::decode_both(body, hint) {
        let reference = reference.expect("the fast reader took a body the reference refuses");
        assert_eq!(format!("{fast:?}"), format!("{reference:?}"));
        assert_eq!(fast, reference);
    }
});
