//! Any `Authorization` header value: parsed or refused, never a panic; what parses renders
//! back to the same header.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_auth::{KeyId, SignatureHeader, parse_http_date};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = parse_http_date(text);
    let _ = KeyId::parse(text);
    if let Ok(header) = SignatureHeader::parse(text) {
        let rendered = header.to_header_value();
        let again = SignatureHeader::parse(&rendered).expect("rendered headers parse");
        assert_eq!(again.key_id, header.key_id);
        assert_eq!(again.signature, header.signature);
        assert_eq!(again.headers, header.headers);
    }
});
