//! Authentication primitives for Portcullis, with no I/O: OCI request signatures
//! (draft-cavage-08), RSA API keys and their fingerprints, and auth-token hashing.

mod keys;
mod signature;
mod token;

pub use keys::{ApiPrivateKey, ApiPublicKey, KeyError, MIN_RSA_BITS};
pub use signature::{
    BODY_HEADERS, GENERIC_HEADERS, HeaderSource, KeyId, MAX_CLOCK_SKEW, RequestSigner,
    SignatureError, SignatureHeader, SignedHeaders, SignedRequest, content_sha256,
    format_http_date, parse_http_date, prepare_verification, signing_string, signs_body,
    verify_request,
};
pub use token::{AuthToken, TOKEN_LENGTH, TokenHash};

/// Compares two secrets in time that depends only on their lengths
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq as _;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}
