//! Service-account tokens: ES256 JWTs signed by a per-cluster key.
//!
//! The signing key is kept in the store sealed with AES-256-GCM under the server's root key,
//! so a copy of the store alone cannot mint tokens. Bound tokens (TokenRequest) carry an
//! audience and an expiry; legacy tokens (Secrets of type
//! `kubernetes.io/service-account-token`) do not expire but die with their Secret.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::rand::{SecureRandom as _, SystemRandom};
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _,
    UnparsedPublicKey,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::KubeError;

/// A token lifetime shorter than this is refused (kube-apiserver's rule)
pub const MIN_EXPIRATION_SECONDS: i64 = 600;

/// The default TokenRequest lifetime
pub const DEFAULT_EXPIRATION_SECONDS: i64 = 3600;

/// The issuer of legacy tokens, as upstream writes it
pub const LEGACY_ISSUER: &str = "kubernetes/serviceaccount";

/// The server's root key: 32 bytes that seal every other secret at rest
#[derive(Clone)]
pub struct RootKey([u8; 32]);

impl std::fmt::Debug for RootKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RootKey(<redacted>)")
    }
}

impl Drop for RootKey {
    fn drop(&mut self) {
        // Best effort: overwrite before the memory is freed.
        self.0 = [0; 32];
    }
}

impl RootKey {
    /// Wraps 32 bytes read from the root key file
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        RootKey(bytes)
    }

    /// A fresh random key
    pub fn generate() -> Result<Self, KubeError> {
        let mut bytes = [0u8; 32];
        SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| KubeError::Internal("no secure randomness".into()))?;
        Ok(RootKey(bytes))
    }

    /// The raw bytes, to write to the key file
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    fn key(&self) -> Result<LessSafeKey, KubeError> {
        UnboundKey::new(&AES_256_GCM, &self.0)
            .map(LessSafeKey::new)
            .map_err(|_| KubeError::Internal("bad root key".into()))
    }

    /// Seals `plaintext`, bound to `context` (so a sealed blob cannot be moved to another key)
    pub fn seal(&self, plaintext: &[u8], context: &str) -> Result<Vec<u8>, KubeError> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| KubeError::Internal("no secure randomness".into()))?;
        let mut sealed = plaintext.to_vec();
        self.key()?
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context.as_bytes()),
                &mut sealed,
            )
            .map_err(|_| KubeError::Internal("sealing failed".into()))?;
        let mut out = nonce.to_vec();
        out.extend(sealed);
        Ok(out)
    }

    /// Opens what [`RootKey::seal`] sealed with the same `context`
    pub fn open(&self, sealed: &[u8], context: &str) -> Result<Vec<u8>, KubeError> {
        let (nonce, body) = sealed
            .split_at_checked(NONCE_LEN)
            .ok_or_else(|| KubeError::Internal("sealed data is truncated".into()))?;
        let nonce: [u8; NONCE_LEN] = nonce
            .try_into()
            .map_err(|_| KubeError::Internal("bad nonce".into()))?;
        let mut buffer = body.to_vec();
        let plain = self
            .key()?
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context.as_bytes()),
                &mut buffer,
            )
            .map_err(|_| {
                KubeError::Internal("sealed data does not open with this root key".into())
            })?;
        Ok(plain.to_vec())
    }
}

/// A cluster's token signing key
pub struct SigningKey {
    pair: EcdsaKeyPair,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}

impl SigningKey {
    /// A new P-256 key, as PKCS#8 (to seal and store) and the key itself
    pub fn generate() -> Result<(Vec<u8>, SigningKey), KubeError> {
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .map_err(|_| KubeError::Internal("key generation failed".into()))?;
        let bytes = pkcs8.as_ref().to_vec();
        let key = SigningKey::from_pkcs8(&bytes)?;
        Ok((bytes, key))
    }

    /// Loads a PKCS#8 key
    pub fn from_pkcs8(pkcs8: &[u8]) -> Result<SigningKey, KubeError> {
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8)
            .map(|pair| SigningKey { pair })
            .map_err(|_| KubeError::Internal("the stored signing key is corrupt".into()))
    }

    /// Signs claims into a compact JWT
    pub fn sign(&self, claims: &Value) -> Result<String, KubeError> {
        let header = json!({"alg": "ES256", "kid": self.key_id()});
        let encode = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string().as_bytes());
        let signing_input = format!("{}.{}", encode(&header), encode(claims));
        let signature = self
            .pair
            .sign(&SystemRandom::new(), signing_input.as_bytes())
            .map_err(|_| KubeError::Internal("signing failed".into()))?;
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature.as_ref())
        ))
    }

    /// A short, stable id for the key (`kid`)
    pub fn key_id(&self) -> String {
        let digest =
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, self.pair.public_key().as_ref());
        URL_SAFE_NO_PAD.encode(digest.as_ref().get(..16).unwrap_or_default())
    }

    /// Verifies a JWT's signature and returns its claims (expiry is the caller's business)
    pub fn verify(&self, token: &str) -> Option<Value> {
        let mut parts = token.split('.');
        let (header, payload, signature) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || token.len() > 16 * 1024 {
            return None;
        }
        let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()?;
        if header.get("alg").and_then(Value::as_str) != Some("ES256") {
            return None;
        }
        let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, self.pair.public_key().as_ref())
            .verify(
                format!("{}.{}", header_part(token)?, payload).as_bytes(),
                &signature,
            )
            .ok()?;
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()
    }
}

fn header_part(token: &str) -> Option<&str> {
    token.split('.').next()
}

/// Whether a bearer token looks like a JWT (three base64url parts)
pub fn looks_like_jwt(token: &str) -> bool {
    let parts: Vec<&str> = token.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
}

/// Claims of a legacy token stored in a Secret
pub fn legacy_claims(namespace: &str, secret: &str, account: &str, account_uid: &str) -> Value {
    json!({
        "iss": LEGACY_ISSUER,
        "kubernetes.io/serviceaccount/namespace": namespace,
        "kubernetes.io/serviceaccount/secret.name": secret,
        "kubernetes.io/serviceaccount/service-account.name": account,
        "kubernetes.io/serviceaccount/service-account.uid": account_uid,
        "sub": format!("system:serviceaccount:{namespace}:{account}"),
    })
}

/// What a verified service-account token is bound to
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct AccountClaims {
    /// The namespace
    pub namespace: String,
    /// The ServiceAccount's name
    pub account: String,
    /// The ServiceAccount's uid when the token was issued
    pub account_uid: String,
    /// For legacy tokens: the Secret that holds the token
    pub secret: Option<String>,
    /// Audiences (empty for legacy tokens)
    pub audiences: Vec<String>,
}

/// Reads the service-account claims of either token kind, checking the issuer and time
pub fn account_claims(claims: &Value, issuer: &str, now: i64) -> Option<AccountClaims> {
    let text = |pointer: &str| {
        claims
            .pointer(pointer)
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    match claims.get("iss").and_then(Value::as_str)? {
        LEGACY_ISSUER => Some(AccountClaims {
            namespace: text("/kubernetes.io~1serviceaccount~1namespace")?,
            account: text("/kubernetes.io~1serviceaccount~1service-account.name")?,
            account_uid: text("/kubernetes.io~1serviceaccount~1service-account.uid")?,
            secret: Some(text("/kubernetes.io~1serviceaccount~1secret.name")?),
            audiences: Vec::new(),
        }),
        iss if iss == issuer => {
            let exp = claims.get("exp").and_then(Value::as_i64)?;
            let nbf = claims.get("nbf").and_then(Value::as_i64).unwrap_or(0);
            if now >= exp || now < nbf {
                return None;
            }
            let audiences = match claims.get("aud") {
                Some(Value::String(a)) => vec![a.clone()],
                Some(Value::Array(list)) => list
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect(),
                _ => Vec::new(),
            };
            Some(AccountClaims {
                namespace: text("/kubernetes.io/namespace")?,
                account: text("/kubernetes.io/serviceaccount/name")?,
                account_uid: text("/kubernetes.io/serviceaccount/uid")?,
                secret: text("/kubernetes.io/secret/name"),
                audiences,
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_key_seals_and_binds_context() {
        let root = RootKey::generate().unwrap();
        let sealed = root.seal(b"secret", "cluster-a").unwrap();
        assert_eq!(root.open(&sealed, "cluster-a").unwrap(), b"secret");
        assert!(root.open(&sealed, "cluster-b").is_err());
        assert!(
            RootKey::generate()
                .unwrap()
                .open(&sealed, "cluster-a")
                .is_err()
        );
        assert!(root.open(&sealed[..5], "cluster-a").is_err());
        assert!(!format!("{root:?}").contains('['));
    }

    #[test]
    fn jwts_sign_and_verify() {
        let (pkcs8, key) = SigningKey::generate().unwrap();
        let claims = legacy_claims("kube-system", "s", "sa", "uid-1");
        let token = key.sign(&claims).unwrap();
        assert!(looks_like_jwt(&token));
        assert_eq!(key.verify(&token), Some(claims.clone()));
        let same = SigningKey::from_pkcs8(&pkcs8).unwrap();
        assert_eq!(same.verify(&token), Some(claims.clone()));
        let (_, other) = SigningKey::generate().unwrap();
        assert_eq!(other.verify(&token), None);
        let mut tampered = token.clone();
        tampered.insert(token.find('.').unwrap() + 3, 'x');
        assert_eq!(key.verify(&tampered), None);
        let account = account_claims(&claims, "https://x", 0).unwrap();
        assert_eq!(account.secret.as_deref(), Some("s"));
    }

    #[test]
    fn bound_claims_expire() {
        let claims = json!({
            "iss": "https://issuer", "aud": ["https://issuer"], "exp": 100, "nbf": 10,
            "kubernetes.io": {"namespace": "ns", "serviceaccount": {"name": "sa", "uid": "u"}}
        });
        assert!(account_claims(&claims, "https://issuer", 50).is_some());
        assert!(account_claims(&claims, "https://issuer", 100).is_none());
        assert!(account_claims(&claims, "https://issuer", 5).is_none());
        assert!(account_claims(&claims, "https://other", 50).is_none());
    }
}
