//! Property tests for the signature-header parser (the cargo-fuzz target explores it longer).

#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

use portcullis_auth::{KeyId, SignatureHeader, parse_http_date};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn arbitrary_headers_never_panic(text in "\\PC{0,300}") {
        let _ = SignatureHeader::parse(&text);
        let _ = KeyId::parse(&text);
        let _ = parse_http_date(&text);
    }

    #[test]
    fn signature_shaped_headers_never_panic(
        params in prop::collection::vec(("[a-zA-Z]{1,10}", "[ -~]{0,40}"), 0..7),
        separators in prop::collection::vec("[ ,=\"]{0,3}", 7),
    ) {
        let mut text = "Signature ".to_owned();
        for (i, (name, value)) in params.iter().enumerate() {
            text.push_str(name);
            text.push('=');
            text.push('"');
            text.push_str(value);
            text.push('"');
            text.push_str(&separators[i]);
        }
        let _ = SignatureHeader::parse(&text);
    }

    #[test]
    fn render_then_parse_is_identity(
        tenancy in "[a-z0-9.]{1,20}",
        user in "[a-z0-9.]{1,20}",
        fingerprint in "([0-9a-f]{2}:){15}[0-9a-f]{2}",
        headers in prop::collection::vec(prop_oneof![
            Just("date"), Just("(request-target)"), Just("host"), Just("content-length"),
            Just("content-type"), Just("x-content-sha256"), Just("x-date")
        ], 1..7),
        signature in prop::collection::vec(any::<u8>(), 0..512),
    ) {
        let header = SignatureHeader {
            key_id: format!("{tenancy}/{user}/{fingerprint}"),
            algorithm: "rsa-sha256".to_owned(),
            headers: headers.iter().map(|h| (*h).to_owned()).collect(),
            signature,
            version: Some("1".to_owned()),
        };
        let reparsed = SignatureHeader::parse(&header.to_header_value()).unwrap();
        prop_assert_eq!(&reparsed, &header);
        let key = KeyId::parse(&reparsed.key_id).unwrap();
        prop_assert_eq!(key.to_string(), reparsed.key_id);
    }
}
