//! OKE's cluster tokens (kubeconfig v2.0.0): a presigned `GET` of
//! `https://containerengine.<region>.oraclecloud.com/cluster_request/<cluster-id>`,
//! carried as `?authorization=<signature header>&date=<RFC 1123 date>`, base64url-encoded.
//!
//! The token proves possession of a user's API key at `date`; it is cluster- and
//! region-scoped by the signed URL and lives five minutes (the signing clock-skew window).
//! See `oci-reference.md` §1.3.

use base64::Engine as _;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use portcullis_auth::{
    HeaderSource, KeyError, KeyId, RequestSigner, SignatureError, SignatureHeader, SignedRequest,
    prepare_verification,
};

/// Tokens longer than this are refused before decoding
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// Why a cluster token was refused
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// Not base64url, not UTF-8, not a URL, or not OKE's URL shape
    #[error("malformed cluster token: {0}")]
    Malformed(&'static str),
    /// The token names another cluster
    #[error("the token is for another cluster")]
    WrongCluster,
    /// The token names another region
    #[error("the token is for another region")]
    WrongRegion,
    /// Delegation tokens (instance principals acting for users) are not supported
    #[error("delegation (opc-obo-token) tokens are not supported")]
    Delegation,
    /// The embedded signature is not acceptable
    #[error(transparent)]
    Signature(#[from] SignatureError),
}

/// What a decoded token claims, before its signature is checked
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct TokenClaims {
    /// The cluster in the signed URL
    pub cluster_id: String,
    /// The region in the signed URL's host
    pub region: String,
    host: String,
    path: String,
    authorization: String,
    date: String,
}

/// The host OKE tokens are signed for
pub fn token_host(region: &str) -> String {
    format!("containerengine.{region}.oraclecloud.com")
}

/// Mints a token the way `oci ce cluster generate-token` does
pub fn generate_token(
    signer: &RequestSigner,
    cluster_id: &str,
    region: &str,
    now: jiff::Timestamp,
) -> Result<String, KeyError> {
    let host = token_host(region);
    let path = format!("/cluster_request/{cluster_id}");
    let signed = signer.sign("GET", &path, &host, now, None)?;
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("authorization", &signed.authorization)
        .append_pair("date", &signed.date)
        .finish();
    let url = format!("https://{host}{path}?{query}");
    Ok(URL_SAFE.encode(url.as_bytes()))
}

/// Decodes a token's URL and checks its shape
pub fn decode_token(token: &str) -> Result<TokenClaims, TokenError> {
    let token = token.trim();
    if token.is_empty() || token.len() > MAX_TOKEN_BYTES {
        return Err(TokenError::Malformed("empty or too long"));
    }
    let bytes = URL_SAFE
        .decode(token)
        .or_else(|_| URL_SAFE_NO_PAD.decode(token.trim_end_matches('=')))
        .map_err(|_| TokenError::Malformed("not base64url"))?;
    let text = String::from_utf8(bytes).map_err(|_| TokenError::Malformed("not UTF-8"))?;
    let url = url::Url::parse(&text).map_err(|_| TokenError::Malformed("not a URL"))?;
    if url.scheme() != "https" {
        return Err(TokenError::Malformed("not an https URL"));
    }
    let host = url.host_str().ok_or(TokenError::Malformed("no host"))?;
    let region = host
        .strip_prefix("containerengine.")
        .and_then(|h| h.strip_suffix(".oraclecloud.com"))
        .filter(|r| !r.is_empty() && !r.contains('.'))
        .ok_or(TokenError::Malformed("not a containerengine host"))?;
    if url.port().is_some() {
        return Err(TokenError::Malformed("unexpected port"));
    }
    let mut segments = url
        .path_segments()
        .ok_or(TokenError::Malformed("no path"))?;
    let cluster_id = match (segments.next(), segments.next(), segments.next()) {
        (Some("cluster_request"), Some(id), None) if !id.is_empty() => id.to_owned(),
        _ => return Err(TokenError::Malformed("not a cluster_request path")),
    };
    let (mut authorization, mut date) = (None, None);
    for (key, value) in url.query_pairs() {
        let slot = match key.as_ref() {
            "authorization" => &mut authorization,
            "date" => &mut date,
            "opc-obo-token" => return Err(TokenError::Delegation),
            _ => continue,
        };
        if slot.replace(value.into_owned()).is_some() {
            return Err(TokenError::Malformed("a query parameter appears twice"));
        }
    }
    Ok(TokenClaims {
        cluster_id,
        region: region.to_owned(),
        host: host.to_owned(),
        path: url.path().to_owned(),
        authorization: authorization.ok_or(TokenError::Malformed("no authorization"))?,
        date: date.ok_or(TokenError::Malformed("no date"))?,
    })
}

impl TokenClaims {
    /// The signed `date`
    pub fn date(&self) -> &str {
        &self.date
    }
}

impl HeaderSource for TokenClaims {
    fn header(&self, name: &str) -> Option<&str> {
        match name {
            "authorization" => Some(&self.authorization),
            "date" => Some(&self.date),
            "host" => Some(&self.host),
            _ => None,
        }
    }
}

/// Checks that a token is for `cluster_id` in `region` and its date is fresh, and returns
/// what the signature must be checked with: the header, the key id and the signed string
pub fn prepare_token(
    token: &str,
    cluster_id: &str,
    region: &str,
    now: jiff::Timestamp,
) -> Result<(SignatureHeader, KeyId, String), TokenError> {
    let claims = decode_token(token)?;
    if claims.cluster_id != cluster_id {
        return Err(TokenError::WrongCluster);
    }
    if claims.region != region {
        return Err(TokenError::WrongRegion);
    }
    let request = SignedRequest {
        method: "GET",
        path_and_query: &claims.path,
        headers: &claims,
        body: &[],
    };
    Ok(prepare_verification(&request, now)?)
}

#[cfg(test)]
mod tests {
    use portcullis_auth::ApiPrivateKey;

    use super::*;

    #[test]
    fn round_trip_and_scoping() {
        let key = ApiPrivateKey::generate().unwrap();
        let public = key.public_key().unwrap();
        let signer = RequestSigner::new(
            "ocid1.tenancy.oc1..t",
            "ocid1.user.oc1..u",
            &public.fingerprint(),
            key,
        );
        let now = jiff::Timestamp::now();
        let cluster = "ocid1.cluster.oc1.iad.aaaaone";
        let token = generate_token(&signer, cluster, "us-ashburn-1", now).unwrap();
        let (header, key_id, signing) =
            prepare_token(&token, cluster, "us-ashburn-1", now).unwrap();
        assert!(public.verify(signing.as_bytes(), &header.signature));
        assert_eq!(key_id.user, "ocid1.user.oc1..u");
        assert!(signing.contains("(request-target): get /cluster_request/"));
        assert!(signing.contains("host: containerengine.us-ashburn-1.oraclecloud.com"));
        assert_eq!(
            prepare_token(&token, "ocid1.cluster.oc1.iad.aaaatwo", "us-ashburn-1", now),
            Err(TokenError::WrongCluster)
        );
        assert_eq!(
            prepare_token(&token, cluster, "us-phoenix-1", now),
            Err(TokenError::WrongRegion)
        );
        let later = now + jiff::SignedDuration::from_secs(6 * 60);
        assert_eq!(
            prepare_token(&token, cluster, "us-ashburn-1", later),
            Err(TokenError::Signature(SignatureError::ClockSkew))
        );
        // Tampering with the URL breaks the signature, not the parser.
        let url = String::from_utf8(URL_SAFE.decode(&token).unwrap()).unwrap();
        let decoded = decode_token(&URL_SAFE.encode(url.replace("aaaaone", "aaaaon3"))).unwrap();
        assert_eq!(decoded.cluster_id, "ocid1.cluster.oc1.iad.aaaaon3");
    }

    #[test]
    fn malformed_tokens() {
        for bad in [
            "",
            "!!!",
            &URL_SAFE.encode("http://containerengine.r.oraclecloud.com/cluster_request/x?authorization=a&date=d"),
            &URL_SAFE.encode("https://evil.example.com/cluster_request/x?authorization=a&date=d"),
            &URL_SAFE.encode("https://containerengine.r.oraclecloud.com/other/x?authorization=a&date=d"),
            &URL_SAFE.encode("https://containerengine.r.oraclecloud.com/cluster_request/x?date=d"),
            &URL_SAFE.encode("https://containerengine.r.oraclecloud.com/cluster_request/x?authorization=a&authorization=b&date=d"),
        ] {
            assert!(decode_token(bad).is_err(), "{bad}");
        }
    }
}
