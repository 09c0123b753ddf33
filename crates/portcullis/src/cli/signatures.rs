//! `portcullis artifacts container image-signature ...`, as `oci` has them: `sign-upload`
//! builds OCIR's signed message for the image, has the vault sign it (`Sign`, `RAW`) and
//! uploads the signature; `get-verify` lists the image's signatures by trusted keys and
//! returns the first one the vault verifies.

use anyhow::{Context as _, bail};
use clap::Subcommand;
use portcullis_sign::{SignedMessage, SigningAlgorithm};
use reqwest::Method;
use serde_json::{Value, json};

use super::client::Client;
use super::iam::{confirm_delete, finish, show};
use super::output;

/// `artifacts container image-signature`
#[derive(Debug, Subcommand)]
pub(crate) enum ImageSignatureCommand {
    /// Sign an image with a vault key and upload the signature
    SignUpload {
        /// The repository's compartment
        #[arg(long)]
        compartment_id: String,
        /// The vault key (RSA)
        #[arg(long)]
        kms_key_id: String,
        /// The key version that signs
        #[arg(long)]
        kms_key_version_id: String,
        /// SHA_224_RSA_PKCS_PSS, SHA_256_RSA_PKCS_PSS, SHA_384_RSA_PKCS_PSS or SHA_512_RSA_PKCS_PSS
        #[arg(long)]
        signing_algorithm: String,
        /// The image
        #[arg(long)]
        image_id: String,
        /// Text included in the signed message
        #[arg(long)]
        description: Option<String>,
        /// JSON included in the signed message (`{"buildNumber":"123"}`)
        #[arg(long)]
        metadata: Option<String>,
    },
    /// Find a signature of the image by a trusted key that verifies
    GetVerify {
        /// The repository's compartment
        #[arg(long)]
        compartment_id: String,
        /// Look in the compartment's descendants too
        #[arg(long)]
        compartment_id_in_subtree: Option<bool>,
        /// The repository name
        #[arg(long)]
        repo_name: String,
        /// The image digest (`sha256:…`)
        #[arg(long)]
        image_digest: String,
        /// Keys whose signatures count (repeat the option for several)
        #[arg(long, required = true)]
        trusted_keys: Vec<String>,
    },
    /// Sign an image in cosign's format with a vault key: the signature is stored under the
    /// image's `sha256-<hex>.sig` tag, where cosign and sigstore verifiers look (Portcullis
    /// addition)
    CosignSign {
        /// The image
        #[arg(long)]
        image_id: String,
        /// The vault key (P-256 ECDSA or RSA)
        #[arg(long)]
        kms_key_id: String,
        /// ECDSA_SHA_256 (P-256 keys) or SHA_256_RSA_PKCS1_V1_5 (RSA keys)
        #[arg(long, default_value = "ECDSA_SHA_256")]
        signing_algorithm: String,
    },
    /// Upload a signature made elsewhere (`create`)
    Create {
        /// The repository's compartment
        #[arg(long)]
        compartment_id: String,
        /// The image
        #[arg(long)]
        image_id: String,
        /// The key
        #[arg(long)]
        kms_key_id: String,
        /// The key version
        #[arg(long)]
        kms_key_version_id: String,
        /// base64 of the signed message
        #[arg(long)]
        message: String,
        /// base64 signature
        #[arg(long)]
        signature: String,
        /// The algorithm
        #[arg(long)]
        signing_algorithm: String,
    },
    /// Get a signature
    Get {
        /// The signature
        #[arg(long)]
        image_signature_id: String,
    },
    /// List signatures
    List {
        /// The compartment (default: the tenancy)
        #[arg(long)]
        compartment_id: Option<String>,
        /// Only this image
        #[arg(long)]
        image_id: Option<String>,
        /// Only this repository
        #[arg(long)]
        repository_name: Option<String>,
        /// Only this digest
        #[arg(long)]
        image_digest: Option<String>,
        /// Only this key
        #[arg(long)]
        kms_key_id: Option<String>,
        /// Accepted for `oci` compatibility; every signature is on one page
        #[arg(long)]
        all: bool,
    },
    /// Delete a signature: the image is no longer trusted by its key
    Delete {
        /// The signature
        #[arg(long)]
        image_signature_id: String,
        /// Delete without asking
        #[arg(long)]
        force: bool,
    },
}

const PATH: &str = "/20160918/container/imageSignatures";

/// Calls and returns the body, printing the error and failing on an error reply
async fn fetch(
    client: &Client,
    method: Method,
    path: &str,
    query: &[(&str, String)],
    body: Option<&Value>,
) -> anyhow::Result<Value> {
    let reply = client.call(method, path, query, body, None).await?;
    if !(200..300).contains(&reply.status) {
        output::print_error(&reply);
        bail!("the request to {path} failed");
    }
    Ok(reply.body)
}

fn text<'a>(value: &'a Value, field: &str) -> anyhow::Result<&'a str> {
    value
        .get(field)
        .and_then(Value::as_str)
        .with_context(|| format!("the reply has no `{field}`"))
}

/// Runs `portcullis artifacts container image-signature ...`
pub(crate) async fn run(client: &Client, command: ImageSignatureCommand) -> anyhow::Result<i32> {
    match command {
        ImageSignatureCommand::SignUpload {
            compartment_id,
            kms_key_id,
            kms_key_version_id,
            signing_algorithm,
            image_id,
            description,
            metadata,
        } => {
            let algorithm = SigningAlgorithm::parse(&signing_algorithm)?;
            if let Some(metadata) = &metadata {
                serde_json::from_str::<Value>(metadata).context(
                    "--metadata must be valid JSON (alphanumeric characters only, with no whitespace or escape characters)",
                )?;
            }
            let region = client
                .region
                .clone()
                .context("no region: set `region` in the profile or pass --region")?;
            eprintln!("Obtaining container image metadata by the image ID");
            let image = fetch(
                client,
                Method::GET,
                &format!("/20160918/container/images/{image_id}"),
                &[],
                None,
            )
            .await?;
            let message = SignedMessage {
                description: description.unwrap_or_default(),
                image_digest: text(&image, "digest")?.to_owned(),
                kms_key_id: kms_key_id.clone(),
                kms_key_version_id: kms_key_version_id.clone(),
                metadata: metadata.unwrap_or_default(),
                region,
                repository_name: text(&image, "repositoryName")?.to_owned(),
                signing_algorithm: algorithm.as_str().to_owned(),
            }
            .encode();
            eprintln!("Generating signature");
            let signed = fetch(
                client,
                Method::POST,
                "/20180608/sign",
                &[],
                Some(&json!({
                    "message": message, "keyId": kms_key_id, "keyVersionId": kms_key_version_id,
                    "signingAlgorithm": algorithm.as_str(), "messageType": "RAW",
                })),
            )
            .await?;
            let signature = text(&signed, "signature")?.to_owned();
            eprintln!("Uploading signature");
            let body = json!({
                "compartmentId": compartment_id, "imageId": image_id, "kmsKeyId": kms_key_id,
                "kmsKeyVersionId": kms_key_version_id, "message": message,
                "signature": signature, "signingAlgorithm": algorithm.as_str(),
            });
            show(client, Method::POST, PATH, &[], Some(body), None).await
        }
        ImageSignatureCommand::GetVerify {
            compartment_id,
            compartment_id_in_subtree,
            repo_name,
            image_digest,
            trusted_keys,
        } => {
            let mut query = vec![
                ("compartmentId", compartment_id),
                ("repositoryName", repo_name),
                ("imageDigest", image_digest),
            ];
            if let Some(subtree) = compartment_id_in_subtree {
                query.push(("compartmentIdInSubtree", subtree.to_string()));
            }
            let listed = fetch(client, Method::GET, PATH, &query, None).await?;
            let trusted: Vec<&Value> = listed
                .get("items")
                .and_then(Value::as_array)
                .map(|items| {
                    items
                        .iter()
                        .filter(|s| {
                            s.get("kmsKeyId")
                                .and_then(Value::as_str)
                                .is_some_and(|k| trusted_keys.iter().any(|t| t == k))
                        })
                        .collect()
                })
                .unwrap_or_default();
            if trusted.is_empty() {
                bail!("no signature of the image was made by a trusted key");
            }
            for signature in trusted {
                let verified = fetch(
                    client,
                    Method::POST,
                    "/20180608/verify",
                    &[],
                    Some(&json!({
                        "keyId": signature.get("kmsKeyId"),
                        "keyVersionId": signature.get("kmsKeyVersionId"),
                        "signingAlgorithm": signature.get("signingAlgorithm"),
                        "message": signature.get("message"),
                        "signature": signature.get("signature"),
                        "messageType": "RAW",
                    })),
                )
                .await?;
                if verified.get("isSignatureValid") == Some(&Value::Bool(true)) {
                    output::print_data(signature.clone(), None, None);
                    return Ok(0);
                }
            }
            bail!("no signature of the image by a trusted key verifies")
        }
        ImageSignatureCommand::CosignSign {
            image_id,
            kms_key_id,
            signing_algorithm,
        } => {
            show(
                client,
                Method::POST,
                &format!("/20160918/container/images/{image_id}/actions/cosignSign"),
                &[],
                Some(json!({"kmsKeyId": kms_key_id, "signingAlgorithm": signing_algorithm})),
                None,
            )
            .await
        }
        ImageSignatureCommand::Create {
            compartment_id,
            image_id,
            kms_key_id,
            kms_key_version_id,
            message,
            signature,
            signing_algorithm,
        } => {
            let body = json!({
                "compartmentId": compartment_id, "imageId": image_id, "kmsKeyId": kms_key_id,
                "kmsKeyVersionId": kms_key_version_id, "message": message,
                "signature": signature, "signingAlgorithm": signing_algorithm,
            });
            show(client, Method::POST, PATH, &[], Some(body), None).await
        }
        ImageSignatureCommand::Get { image_signature_id } => {
            show(
                client,
                Method::GET,
                &format!("{PATH}/{image_signature_id}"),
                &[],
                None,
                None,
            )
            .await
        }
        ImageSignatureCommand::List {
            compartment_id,
            image_id,
            repository_name,
            image_digest,
            kms_key_id,
            all: _,
        } => {
            let mut query = vec![(
                "compartmentId",
                compartment_id.unwrap_or_else(|| client.tenancy.clone()),
            )];
            for (name, value) in [
                ("imageId", image_id),
                ("repositoryName", repository_name),
                ("imageDigest", image_digest),
                ("kmsKeyId", kms_key_id),
            ] {
                if let Some(value) = value {
                    query.push((name, value));
                }
            }
            let reply = client.call(Method::GET, PATH, &query, None, None).await?;
            Ok(finish(reply))
        }
        ImageSignatureCommand::Delete {
            image_signature_id,
            force,
        } => {
            confirm_delete(force)?;
            show(
                client,
                Method::DELETE,
                &format!("{PATH}/{image_signature_id}"),
                &[],
                None,
                None,
            )
            .await
        }
    }
}
