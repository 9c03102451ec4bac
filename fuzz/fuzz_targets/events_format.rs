//! Fuzz each webhook format's reader on its own: the first byte picks the format (Harbor 1.x,
//! the documented 1.x shape, 2.x, CloudEvents, the registry notification envelope) and the
//! `Decoder` is told to read only that one, so a body that detection would route elsewhere
//! still reaches every reader. No input may panic; a body that decodes is in that format,
//! re-encodes to a body that decodes to the same payload, and each of its events converts,
//! summarises and encodes into every format without panicking, an encoding that succeeds
//! decoding back in that format.
#![no_main]

use harbor_events::{Decoder, Format};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let format = Format::ALL[usize::from(selector) % Format::ALL.len()];
    let decoder = Decoder::new().only_format(format);
    let Ok(payload) = decoder.decode(body) else {
        return;
    };
    assert_eq!(payload.format(), format);
    let json = payload.to_vec().expect("a decoded payload encodes");
    let again = decoder.decode(&json).expect("an encoded payload decodes");
    assert_eq!(
        again, payload,
        "a decoded payload changed through its encoding"
    );
    for event in payload.events() {
        assert_eq!(event.format, format);
        let _ = event.to_string();
        let _ = event.scan_summary();
        let _ = event.artifact().map(|a| a.resource_url());
        for target in Format::ALL {
            if let Ok(encoded) = event.encode(target) {
                let back = Decoder::new()
                    .only_format(target)
                    .decode(&encoded)
                    .expect("an encoded event decodes in its format");
                assert_eq!(back.format(), target);
            }
        }
    }
});
