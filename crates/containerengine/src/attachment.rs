//! Attaching a real kube-apiserver to a cluster: the credential it presents to Portcullis'
//! webhooks, and where those webhooks are.
//!
//! The credential is a random bearer token standing for the cluster's own principal. Only
//! its SHA-256 is stored; attaching again replaces it, which is how it is rotated.

use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use portcullis_iam::Principal;
use portcullis_identity::{IdentityError, IdentityResult, decode, encode};
use portcullis_store::Txn;
use serde::{Deserialize, Serialize};

use crate::{ContainerEngine, target};

/// What `POST /20180222/clusters/{id}/actions/attach` answers (a Portcullis extension)
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Attachment {
    /// The cluster
    pub cluster_id: String,
    /// The bearer token kube-apiserver presents to the webhooks (shown once)
    pub token: String,
    /// The token authentication webhook
    pub authenticate_url: String,
    /// The authorization webhook
    pub authorize_url: String,
    /// The validating admission webhook (image verification)
    pub admit_url: String,
    /// `https://host:port`: where the OCI APIs (KMS, secrets) are, for the plugins
    pub endpoint: String,
    /// PEM of the CA that signed Portcullis' certificate, when it generated its own
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_certificate: Option<String>,
}

#[derive(Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct StoredToken {
    sha256: String,
    time_created: String,
    created_by: String,
}

/// How every webhook credential starts
pub const TOKEN_PREFIX: &str = "pcw1.";

/// The cluster a webhook credential names (`pcw1.<cluster-ocid>.<secret>`), if it is one
pub fn credential_cluster(token: &str) -> Option<&str> {
    let rest = token.strip_prefix(TOKEN_PREFIX)?;
    let (cluster, secret) = rest.rsplit_once('.')?;
    (!secret.is_empty() && cluster.starts_with("ocid1.cluster.")).then_some(cluster)
}

fn token_key(cluster_id: &str) -> String {
    format!("ce/webhook-token/{cluster_id}")
}

fn hash(token: &str) -> String {
    hex(digest(&SHA256, token.as_bytes()).as_ref())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl ContainerEngine {
    /// Mints (or rotates) the webhook credential of a cluster; needs `manage clusters`
    pub async fn attach(&self, caller: &Principal, id: &str) -> IdentityResult<Attachment> {
        let (cluster, _) = self.load(id).await?;
        self.identity.authorize(
            caller,
            "UpdateCluster",
            &cluster.compartment_id,
            &target(&cluster),
        )?;
        let mut secret = [0u8; 32];
        aws_lc_rs::rand::fill(&mut secret).map_err(|_| {
            IdentityError::Store(portcullis_store::StoreError::Unavailable(
                "the system random generator failed".into(),
            ))
        })?;
        // The cluster id travels in the token so that a plugin calling the OCI API with it
        // (the KMS plugin, the CSI provider) names its cluster without another header.
        let token = format!("{TOKEN_PREFIX}{id}.{}", URL_SAFE_NO_PAD.encode(secret));
        let record = StoredToken {
            sha256: hash(&token),
            time_created: jiff::Timestamp::now().to_string(),
            created_by: caller.describe(),
        };
        self.store()
            .commit(Txn::new().put(token_key(id), encode(&record)?))
            .await?;
        tracing::info!(target: "portcullis::audit", principal = %caller.describe(), cluster = %id, "webhook credential issued");
        let base = self.server_url(id);
        Ok(Attachment {
            cluster_id: id.to_owned(),
            token,
            authenticate_url: format!("{base}/webhooks/authenticate"),
            authorize_url: format!("{base}/webhooks/authorize"),
            admit_url: format!("{base}/webhooks/admit"),
            endpoint: format!("https://{}", self.public_address),
            ca_certificate: self.ca_pem().map(str::to_owned),
        })
    }

    /// Whether `token` is the cluster's current webhook credential (compared in constant
    /// time, by hash)
    pub async fn verify_webhook_token(
        &self,
        cluster_id: &str,
        token: &str,
    ) -> IdentityResult<bool> {
        let Some(entry) = self.store().get(&token_key(cluster_id)).await? else {
            return Ok(false);
        };
        let stored: StoredToken = decode(&entry.value)?;
        let presented = hash(token);
        Ok(presented.len() == stored.sha256.len()
            && aws_lc_rs::constant_time::verify_slices_are_equal(
                presented.as_bytes(),
                stored.sha256.as_bytes(),
            )
            .is_ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_name_their_cluster() {
        assert_eq!(
            credential_cluster("pcw1.ocid1.cluster.oc1.iad.aaaa.c2VjcmV0"),
            Some("ocid1.cluster.oc1.iad.aaaa")
        );
        assert_eq!(credential_cluster("pcw1.c2VjcmV0"), None);
        assert_eq!(credential_cluster("pcw1.ocid1.cluster.oc1.iad.aaaa."), None);
        assert_eq!(credential_cluster("Bearer x"), None);
    }

    #[test]
    fn hashes_are_hex_sha256() {
        assert_eq!(
            hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
