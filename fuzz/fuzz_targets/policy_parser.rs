//! Any text: the policy parser returns a statement or an error, never panics; what it
//! accepts prints back to the same statement.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_iam::policy::parse_statement;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(statement) = parse_statement(text) {
        let printed = statement.to_string();
        let reparsed = parse_statement(&printed).expect("printed statements parse");
        assert_eq!(reparsed, statement, "{printed}");
    }
});
