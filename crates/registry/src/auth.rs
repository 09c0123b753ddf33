//! Registry tokens, as `docker login` and skopeo expect them: a 401 names a token realm; the
//! client trades Basic credentials there (`<tenancy>/<user>` and an IAM auth token, as in
//! OCIR) for a short-lived bearer token; IAM then decides each request.
//!
//! A token is `pcr1.<base64url(JSON claims)>.<base64url(HMAC-SHA256)>`. The claims name
//! the user, or nobody for anonymous pulls of public repositories; scopes are not carried,
//! because IAM is asked on every request and a policy change applies at once.

use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

/// How long a token lasts (OCIR: 5 minutes)
pub const TOKEN_SECONDS: i64 = 300;
const PREFIX: &str = "pcr1.";

/// The claims of a registry token
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
pub struct Claims {
    /// The user's OCID; `None` for an anonymous token
    pub sub: Option<String>,
    /// Expiry, seconds since the epoch
    pub exp: i64,
}

/// Issues and verifies registry tokens
pub struct TokenIssuer {
    key: hmac::Key,
}

impl std::fmt::Debug for TokenIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenIssuer(..)")
    }
}

impl TokenIssuer {
    /// Tokens signed with `key` (derived from the root key file by the caller)
    pub fn new(key: &[u8]) -> TokenIssuer {
        TokenIssuer {
            key: hmac::Key::new(hmac::HMAC_SHA256, key),
        }
    }

    /// A token for `user` (or anonymous) valid from `now` for [`TOKEN_SECONDS`]
    pub fn issue(&self, user: Option<&str>, now: i64) -> String {
        let claims = Claims {
            sub: user.map(str::to_owned),
            exp: now.saturating_add(TOKEN_SECONDS),
        };
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap_or_default());
        let tag = hmac::sign(&self.key, body.as_bytes());
        format!("{PREFIX}{body}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
    }

    /// The claims of a valid, unexpired token (signature checked in constant time)
    pub fn verify(&self, token: &str, now: i64) -> Option<Claims> {
        let (body, tag) = token.strip_prefix(PREFIX)?.split_once('.')?;
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        hmac::verify(&self.key, body.as_bytes(), &tag).ok()?;
        let claims: Claims = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(body).ok()?).ok()?;
        (claims.exp > now).then_some(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_until_they_expire_and_not_when_altered() {
        let issuer = TokenIssuer::new(b"k");
        let token = issuer.issue(Some("ocid1.user.oc1..u"), 1000);
        assert_eq!(
            issuer.verify(&token, 1001).unwrap().sub.as_deref(),
            Some("ocid1.user.oc1..u")
        );
        assert!(issuer.verify(&token, 1000 + TOKEN_SECONDS).is_none());
        assert!(TokenIssuer::new(b"other").verify(&token, 1001).is_none());
        let mut altered = token.clone();
        altered.insert(8, 'x');
        assert!(issuer.verify(&altered, 1001).is_none());
        assert!(issuer.verify("pcr1.", 0).is_none());
        assert!(issuer.issue(None, 0).starts_with(PREFIX));
    }
}
