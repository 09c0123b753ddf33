//! `portcullis kms ...`, `portcullis vault secret ...` and `portcullis secrets
//! secret-bundle ...`: the vault, with `oci`'s command and option names. As with `oci`,
//! key commands go to the vault's management endpoint and crypto commands to its crypto
//! endpoint (`--endpoint`, from the vault's `managementEndpoint` / `cryptoEndpoint`).

use anyhow::Context as _;
use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{Map, Value, json};

use super::client::Client;
use super::iam::show;

/// `portcullis kms`
#[derive(Debug, Subcommand)]
pub(crate) enum KmsCommand {
    /// Vaults, keys and key versions
    Management {
        #[command(subcommand)]
        command: ManagementCommand,
    },
    /// Encrypt, decrypt, data keys, sign and verify (send to the vault's crypto endpoint)
    Crypto {
        #[command(subcommand)]
        command: CryptoCommand,
    },
}

/// `kms management`
#[derive(Debug, Subcommand)]
pub(crate) enum ManagementCommand {
    /// Vaults
    Vault {
        #[command(subcommand)]
        command: VaultCommand,
    },
    /// Master encryption keys (send to the vault's management endpoint)
    Key {
        #[command(subcommand)]
        command: KeyCommand,
    },
    /// Key versions: rotation
    KeyVersion {
        #[command(subcommand)]
        command: KeyVersionCommand,
    },
    /// The vault's RSA-4096 wrapping key, for importing keys
    WrappingKey {
        #[command(subcommand)]
        command: WrappingKeyCommand,
    },
}

/// `kms management wrapping-key`
#[derive(Debug, Subcommand)]
pub(crate) enum WrappingKeyCommand {
    /// Get the vault's public wrapping key (send to the management endpoint)
    Get,
}

/// The material of an imported key or key version: wrapped already, as `oci` takes it, or
/// a key file this CLI wraps under the vault's wrapping key itself
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub(crate) struct ImportMaterial {
    /// `{"keyMaterial": "<base64>", "wrappingAlgorithm": "RSA_OAEP_AES_SHA256"}`
    #[arg(long)]
    wrapped_import_key: Option<String>,
    /// A private key (PKCS#8, PEM or DER) or raw AES key bytes; fetched wrapping key,
    /// RSA_OAEP_AES_SHA256, then imported
    #[arg(long)]
    key_file: Option<std::path::PathBuf>,
}

/// Options shared by list commands
#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// The compartment (default: the tenancy)
    #[arg(long)]
    compartment_id: Option<String>,
    /// Page size
    #[arg(long)]
    limit: Option<u32>,
    /// Page token from `opc-next-page`
    #[arg(long)]
    page: Option<String>,
}

/// Scheduled deletion options
#[derive(Debug, Args)]
pub(crate) struct DeletionArgs {
    /// RFC 3339, 7 to 30 days ahead (default: 30 days)
    #[arg(long)]
    time_of_deletion: Option<String>,
    /// Only if the etag still matches
    #[arg(long)]
    if_match: Option<String>,
}

/// `kms management vault`
#[derive(Debug, Subcommand)]
pub(crate) enum VaultCommand {
    /// Create a vault
    Create {
        #[arg(long)]
        /// The compartment
        compartment_id: String,
        /// Display name
        #[arg(long)]
        display_name: String,
        /// DEFAULT (VIRTUAL_PRIVATE needs an HSM partition)
        #[arg(long, default_value = "DEFAULT")]
        vault_type: String,
    },
    /// Get a vault
    Get {
        /// The vault
        #[arg(long)]
        vault_id: String,
    },
    /// List vaults
    List(ListArgs),
    /// Schedule a vault's deletion
    ScheduleDeletion {
        /// The vault
        #[arg(long)]
        vault_id: String,
        #[command(flatten)]
        deletion: DeletionArgs,
    },
    /// Cancel a vault's scheduled deletion
    CancelDeletion {
        /// The vault
        #[arg(long)]
        vault_id: String,
    },
}

/// `kms management key`
#[derive(Debug, Subcommand)]
pub(crate) enum KeyCommand {
    /// Create a key
    Create {
        /// The compartment
        #[arg(long)]
        compartment_id: String,
        /// Display name
        #[arg(long)]
        display_name: String,
        /// `{"algorithm": "AES", "length": 32}` (RSA 256/384/512; ECDSA 32/48/66 with curveId)
        #[arg(long)]
        key_shape: String,
        /// SOFTWARE (the default here; HSM needs a hardware module)
        #[arg(long)]
        protection_mode: Option<String>,
    },
    /// Import a key: bring your own material, wrapped under the vault's wrapping key
    Import {
        /// The compartment
        #[arg(long)]
        compartment_id: String,
        /// Display name
        #[arg(long)]
        display_name: String,
        /// `{"algorithm": "RSA", "length": 256}`: must match the material
        #[arg(long)]
        key_shape: String,
        /// SOFTWARE (the default here; HSM needs a hardware module)
        #[arg(long)]
        protection_mode: Option<String>,
        #[command(flatten)]
        material: ImportMaterial,
    },
    /// Get a key
    Get {
        /// The key
        #[arg(long)]
        key_id: String,
    },
    /// List keys
    List(ListArgs),
    /// Enable a key
    Enable {
        /// The key
        #[arg(long)]
        key_id: String,
    },
    /// Disable a key: it stops every use at once
    Disable {
        /// The key
        #[arg(long)]
        key_id: String,
    },
    /// Schedule a key's deletion
    ScheduleDeletion {
        /// The key
        #[arg(long)]
        key_id: String,
        #[command(flatten)]
        deletion: DeletionArgs,
    },
    /// Cancel a key's scheduled deletion
    CancelDeletion {
        /// The key
        #[arg(long)]
        key_id: String,
    },
}

/// `kms management key-version`
#[derive(Debug, Subcommand)]
pub(crate) enum KeyVersionCommand {
    /// Rotate: a new version that encrypts and signs from now on
    Create {
        /// The key
        #[arg(long)]
        key_id: String,
    },
    /// Rotate to imported material
    Import {
        /// The key
        #[arg(long)]
        key_id: String,
        #[command(flatten)]
        material: ImportMaterial,
    },
    /// Get a key version (with its public key, for asymmetric keys)
    Get {
        /// The key
        #[arg(long)]
        key_id: String,
        /// The version
        #[arg(long)]
        key_version_id: String,
    },
    /// List a key's versions
    List {
        /// The key
        #[arg(long)]
        key_id: String,
    },
}

/// Sign options
#[derive(Debug, Args)]
pub(crate) struct SignArgs {
    /// The key
    #[arg(long)]
    key_id: String,
    /// The message, base64 (at most 4096 bytes decoded)
    #[arg(long)]
    message: String,
    /// SHA_256_RSA_PKCS_PSS, SHA_224_RSA_PKCS1_V1_5, ECDSA_SHA_256, ...
    #[arg(long)]
    signing_algorithm: String,
    /// RAW (default) or DIGEST
    #[arg(long)]
    message_type: Option<String>,
    /// The version (must be the current one)
    #[arg(long)]
    key_version_id: Option<String>,
}

/// Verify options
#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// The key
    #[arg(long)]
    key_id: String,
    /// The version that signed
    #[arg(long)]
    key_version_id: String,
    /// The message, base64
    #[arg(long)]
    message: String,
    /// The signature, base64
    #[arg(long)]
    signature: String,
    /// The algorithm that signed
    #[arg(long)]
    signing_algorithm: String,
    /// RAW (default) or DIGEST
    #[arg(long)]
    message_type: Option<String>,
}

/// `kms crypto`
#[derive(Debug, Subcommand)]
pub(crate) enum CryptoCommand {
    /// Encrypt base64 plaintext
    Encrypt {
        /// The key
        #[arg(long)]
        key_id: String,
        /// base64, at most 4096 bytes decoded
        #[arg(long)]
        plaintext: String,
        /// JSON object bound to the ciphertext
        #[arg(long)]
        associated_data: Option<String>,
        /// AES_256_GCM, RSA_OAEP_SHA_1 or RSA_OAEP_SHA_256
        #[arg(long)]
        encryption_algorithm: Option<String>,
    },
    /// Decrypt a ciphertext
    Decrypt {
        /// The key
        #[arg(long)]
        key_id: String,
        /// base64
        #[arg(long)]
        ciphertext: String,
        /// JSON object given to encrypt
        #[arg(long)]
        associated_data: Option<String>,
        /// For RSA ciphertexts made by an older version
        #[arg(long)]
        key_version_id: Option<String>,
        /// As given to encrypt
        #[arg(long)]
        encryption_algorithm: Option<String>,
    },
    /// Generate a data encryption key wrapped by the master key
    GenerateDataEncryptionKey {
        /// The master key
        #[arg(long)]
        key_id: String,
        /// Also return the plaintext key
        #[arg(long)]
        include_plaintext_key: bool,
        /// `{"algorithm": "AES", "length": 32}`
        #[arg(long)]
        key_shape: String,
    },
    /// Sign a message
    Sign(SignArgs),
    /// Verify a signature
    Verify(VerifyArgs),
    /// `oci kms crypto signed-data sign`
    SignedData {
        #[command(subcommand)]
        command: SignedDataCommand,
    },
    /// `oci kms crypto verified-data verify`
    VerifiedData {
        #[command(subcommand)]
        command: VerifiedDataCommand,
    },
}

/// `kms crypto signed-data`
#[derive(Debug, Subcommand)]
pub(crate) enum SignedDataCommand {
    /// Sign a message
    Sign(SignArgs),
}

/// `kms crypto verified-data`
#[derive(Debug, Subcommand)]
pub(crate) enum VerifiedDataCommand {
    /// Verify a signature
    Verify(VerifyArgs),
}

/// `portcullis vault`
#[derive(Debug, Subcommand)]
pub(crate) enum VaultSecretsCommand {
    /// Vault secrets
    Secret {
        #[command(subcommand)]
        command: SecretCommand,
    },
}

/// `vault secret`
#[derive(Debug, Subcommand)]
pub(crate) enum SecretCommand {
    /// Create a secret from base64 content
    CreateBase64 {
        /// The compartment
        #[arg(long)]
        compartment_id: String,
        /// Unique in the vault
        #[arg(long)]
        secret_name: String,
        /// The vault
        #[arg(long)]
        vault_id: String,
        /// The AES key that encrypts it
        #[arg(long)]
        key_id: String,
        /// The content, base64
        #[arg(long)]
        secret_content_content: String,
        /// CURRENT (default) or PENDING
        #[arg(long)]
        secret_content_stage: Option<String>,
        /// A name for the first version
        #[arg(long)]
        secret_content_name: Option<String>,
        /// Description
        #[arg(long)]
        description: Option<String>,
    },
    /// New content (a new version) or a version to promote to CURRENT
    UpdateBase64 {
        /// The secret
        #[arg(long)]
        secret_id: String,
        /// The new content, base64
        #[arg(long)]
        secret_content_content: Option<String>,
        /// CURRENT (default) or PENDING
        #[arg(long)]
        secret_content_stage: Option<String>,
        /// A name for the new version
        #[arg(long)]
        secret_content_name: Option<String>,
        /// Promote this version to CURRENT
        #[arg(long)]
        current_version_number: Option<u64>,
    },
    /// Get a secret
    Get {
        /// The secret
        #[arg(long)]
        secret_id: String,
    },
    /// List secrets
    List {
        #[command(flatten)]
        list: ListArgs,
        /// Only this vault's
        #[arg(long)]
        vault_id: Option<String>,
    },
    /// Schedule a secret's deletion
    ScheduleSecretDeletion {
        /// The secret
        #[arg(long)]
        secret_id: String,
        #[command(flatten)]
        deletion: DeletionArgs,
    },
    /// Cancel a secret's scheduled deletion
    CancelSecretDeletion {
        /// The secret
        #[arg(long)]
        secret_id: String,
    },
}

/// `portcullis secrets`
#[derive(Debug, Subcommand)]
pub(crate) enum SecretsCommand {
    /// Secret contents
    SecretBundle {
        #[command(subcommand)]
        command: SecretBundleCommand,
    },
}

/// Which version of a secret
#[derive(Debug, Args)]
pub(crate) struct VersionSelector {
    /// A stage: CURRENT (default), PENDING, LATEST, PREVIOUS, DEPRECATED
    #[arg(long)]
    stage: Option<String>,
    /// A version number
    #[arg(long)]
    version_number: Option<u64>,
    /// A version name
    #[arg(long)]
    secret_version_name: Option<String>,
}

/// `secrets secret-bundle`
#[derive(Debug, Subcommand)]
pub(crate) enum SecretBundleCommand {
    /// A secret's content by id
    Get {
        /// The secret
        #[arg(long)]
        secret_id: String,
        #[command(flatten)]
        version: VersionSelector,
    },
    /// A secret's content by vault and name
    GetSecretBundleByName {
        /// The secret's name
        #[arg(long)]
        secret_name: String,
        /// The vault
        #[arg(long)]
        vault_id: String,
        #[command(flatten)]
        version: VersionSelector,
    },
}

fn json_arg(name: &str, text: &str) -> anyhow::Result<Value> {
    let text = match text.strip_prefix("file://") {
        Some(path) => std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?,
        None => text.to_owned(),
    };
    serde_json::from_str(&text).with_context(|| format!("--{name} is not valid JSON"))
}

/// A JSON object of the given fields, leaving out the unset ones
fn object(fields: Vec<(&str, Option<Value>)>) -> Value {
    Value::Object(
        fields
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v)))
            .collect::<Map<String, Value>>(),
    )
}

fn list_query(client: &Client, list: &ListArgs) -> Vec<(&'static str, String)> {
    let mut query = vec![(
        "compartmentId",
        list.compartment_id
            .clone()
            .unwrap_or_else(|| client.tenancy.clone()),
    )];
    if let Some(limit) = list.limit {
        query.push(("limit", limit.to_string()));
    }
    if let Some(page) = &list.page {
        query.push(("page", page.clone()));
    }
    query
}

/// `POST <resource>/actions/scheduleDeletion`, for vaults, keys and secrets alike
async fn schedule_deletion(
    client: &Client,
    resource: &str,
    deletion: &DeletionArgs,
) -> anyhow::Result<i32> {
    let body = deletion
        .time_of_deletion
        .as_ref()
        .map(|t| json!({ "timeOfDeletion": t }));
    let path = format!("{resource}/actions/scheduleDeletion");
    show(
        client,
        Method::POST,
        &path,
        &[],
        body,
        deletion.if_match.as_deref(),
    )
    .await
}

fn selector_query(version: &VersionSelector) -> Vec<(&'static str, String)> {
    let mut query = Vec::new();
    if let Some(stage) = &version.stage {
        query.push(("stage", stage.clone()));
    }
    if let Some(number) = version.version_number {
        query.push(("versionNumber", number.to_string()));
    }
    if let Some(name) = &version.secret_version_name {
        query.push(("secretVersionName", name.clone()));
    }
    query
}

/// Runs `portcullis kms ...`
pub(crate) async fn run(client: &Client, command: KmsCommand) -> anyhow::Result<i32> {
    match command {
        KmsCommand::Management { command } => management(client, command).await,
        KmsCommand::Crypto { command } => crypto(client, command).await,
    }
}

async fn management(client: &Client, command: ManagementCommand) -> anyhow::Result<i32> {
    use ManagementCommand as M;
    match command {
        M::Vault { command } => match command {
            VaultCommand::Create {
                compartment_id,
                display_name,
                vault_type,
            } => {
                let body = json!({"compartmentId": compartment_id, "displayName": display_name, "vaultType": vault_type});
                show(
                    client,
                    Method::POST,
                    "/20180608/vaults",
                    &[],
                    Some(body),
                    None,
                )
                .await
            }
            VaultCommand::Get { vault_id } => {
                show(
                    client,
                    Method::GET,
                    &format!("/20180608/vaults/{vault_id}"),
                    &[],
                    None,
                    None,
                )
                .await
            }
            VaultCommand::List(list) => {
                show(
                    client,
                    Method::GET,
                    "/20180608/vaults",
                    &list_query(client, &list),
                    None,
                    None,
                )
                .await
            }
            VaultCommand::ScheduleDeletion { vault_id, deletion } => {
                schedule_deletion(client, &format!("/20180608/vaults/{vault_id}"), &deletion).await
            }
            VaultCommand::CancelDeletion { vault_id } => {
                let path = format!("/20180608/vaults/{vault_id}/actions/cancelDeletion");
                show(client, Method::POST, &path, &[], None, None).await
            }
        },
        M::Key { command } => match command {
            KeyCommand::Create {
                compartment_id,
                display_name,
                key_shape,
                protection_mode,
            } => {
                let body = object(vec![
                    ("compartmentId", Some(json!(compartment_id))),
                    ("displayName", Some(json!(display_name))),
                    ("keyShape", Some(json_arg("key-shape", &key_shape)?)),
                    ("protectionMode", protection_mode.map(Value::String)),
                ]);
                show(
                    client,
                    Method::POST,
                    "/20180608/keys",
                    &[],
                    Some(body),
                    None,
                )
                .await
            }
            KeyCommand::Import {
                compartment_id,
                display_name,
                key_shape,
                protection_mode,
                material,
            } => {
                let body = object(vec![
                    ("compartmentId", Some(json!(compartment_id))),
                    ("displayName", Some(json!(display_name))),
                    ("keyShape", Some(json_arg("key-shape", &key_shape)?)),
                    ("protectionMode", protection_mode.map(Value::String)),
                    (
                        "wrappedImportKey",
                        Some(wrapped_import_key(client, material).await?),
                    ),
                ]);
                show(
                    client,
                    Method::POST,
                    "/20180608/keys/import",
                    &[],
                    Some(body),
                    None,
                )
                .await
            }
            KeyCommand::Get { key_id } => {
                show(
                    client,
                    Method::GET,
                    &format!("/20180608/keys/{key_id}"),
                    &[],
                    None,
                    None,
                )
                .await
            }
            KeyCommand::List(list) => {
                show(
                    client,
                    Method::GET,
                    "/20180608/keys",
                    &list_query(client, &list),
                    None,
                    None,
                )
                .await
            }
            KeyCommand::Enable { key_id } => {
                let path = format!("/20180608/keys/{key_id}/actions/enable");
                show(client, Method::POST, &path, &[], None, None).await
            }
            KeyCommand::Disable { key_id } => {
                let path = format!("/20180608/keys/{key_id}/actions/disable");
                show(client, Method::POST, &path, &[], None, None).await
            }
            KeyCommand::ScheduleDeletion { key_id, deletion } => {
                schedule_deletion(client, &format!("/20180608/keys/{key_id}"), &deletion).await
            }
            KeyCommand::CancelDeletion { key_id } => {
                let path = format!("/20180608/keys/{key_id}/actions/cancelDeletion");
                show(client, Method::POST, &path, &[], None, None).await
            }
        },
        M::WrappingKey {
            command: WrappingKeyCommand::Get,
        } => {
            show(
                client,
                Method::GET,
                "/20180608/wrappingKeys",
                &[],
                None,
                None,
            )
            .await
        }
        M::KeyVersion { command } => match command {
            KeyVersionCommand::Create { key_id } => {
                let path = format!("/20180608/keys/{key_id}/keyVersions");
                show(client, Method::POST, &path, &[], None, None).await
            }
            KeyVersionCommand::Import { key_id, material } => {
                let body = json!({"wrappedImportKey": wrapped_import_key(client, material).await?});
                let path = format!("/20180608/keys/{key_id}/keyVersions/import");
                show(client, Method::POST, &path, &[], Some(body), None).await
            }
            KeyVersionCommand::Get {
                key_id,
                key_version_id,
            } => {
                let path = format!("/20180608/keys/{key_id}/keyVersions/{key_version_id}");
                show(client, Method::GET, &path, &[], None, None).await
            }
            KeyVersionCommand::List { key_id } => {
                let path = format!("/20180608/keys/{key_id}/keyVersions");
                show(client, Method::GET, &path, &[], None, None).await
            }
        },
    }
}

/// `wrappedImportKey` from `--wrapped-import-key`, or made from `--key-file`: the file's
/// DER (a PEM private key is decoded first) wrapped under the vault's wrapping key
async fn wrapped_import_key(client: &Client, material: ImportMaterial) -> anyhow::Result<Value> {
    use base64::Engine as _;
    use portcullis_kms::import::{WrappingAlgorithm, wrap_for_import};
    if let Some(text) = material.wrapped_import_key {
        return json_arg("wrapped-import-key", &text);
    }
    let path = material
        .key_file
        .context("give --wrapped-import-key or --key-file")?;
    let bytes = zeroize::Zeroizing::new(
        std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?,
    );
    let der = portcullis_kms::material::pem_or_der(&bytes, "PRIVATE KEY")
        .map(zeroize::Zeroizing::new)
        .context("the key file is PEM but not a `PRIVATE KEY` (PKCS#8) block; convert it with `openssl pkcs8 -topk8 -nocrypt`")?;
    let reply = client
        .call(Method::GET, "/20180608/wrappingKeys", &[], None, None)
        .await?;
    if !(200..300).contains(&reply.status) {
        anyhow::bail!("GetWrappingKey failed ({}): {}", reply.status, reply.body);
    }
    let public = reply
        .body
        .get("publicKey")
        .and_then(Value::as_str)
        .context("GetWrappingKey answered without `publicKey`")?;
    let wrapped = wrap_for_import(public.as_bytes(), WrappingAlgorithm::RsaOaepAesSha256, &der)?;
    Ok(json!({
        "keyMaterial": base64::engine::general_purpose::STANDARD.encode(wrapped),
        "wrappingAlgorithm": "RSA_OAEP_AES_SHA256",
    }))
}

async fn sign(client: &Client, args: SignArgs) -> anyhow::Result<i32> {
    let body = object(vec![
        ("keyId", Some(json!(args.key_id))),
        ("message", Some(json!(args.message))),
        ("signingAlgorithm", Some(json!(args.signing_algorithm))),
        ("messageType", args.message_type.map(Value::String)),
        ("keyVersionId", args.key_version_id.map(Value::String)),
    ]);
    show(
        client,
        Method::POST,
        "/20180608/sign",
        &[],
        Some(body),
        None,
    )
    .await
}

async fn verify(client: &Client, args: VerifyArgs) -> anyhow::Result<i32> {
    let body = object(vec![
        ("keyId", Some(json!(args.key_id))),
        ("keyVersionId", Some(json!(args.key_version_id))),
        ("message", Some(json!(args.message))),
        ("signature", Some(json!(args.signature))),
        ("signingAlgorithm", Some(json!(args.signing_algorithm))),
        ("messageType", args.message_type.map(Value::String)),
    ]);
    show(
        client,
        Method::POST,
        "/20180608/verify",
        &[],
        Some(body),
        None,
    )
    .await
}

async fn crypto(client: &Client, command: CryptoCommand) -> anyhow::Result<i32> {
    match command {
        CryptoCommand::Encrypt {
            key_id,
            plaintext,
            associated_data,
            encryption_algorithm,
        } => {
            let body = object(vec![
                ("keyId", Some(json!(key_id))),
                ("plaintext", Some(json!(plaintext))),
                (
                    "associatedData",
                    associated_data
                        .map(|a| json_arg("associated-data", &a))
                        .transpose()?,
                ),
                (
                    "encryptionAlgorithm",
                    encryption_algorithm.map(Value::String),
                ),
            ]);
            show(
                client,
                Method::POST,
                "/20180608/encrypt",
                &[],
                Some(body),
                None,
            )
            .await
        }
        CryptoCommand::Decrypt {
            key_id,
            ciphertext,
            associated_data,
            key_version_id,
            encryption_algorithm,
        } => {
            let body = object(vec![
                ("keyId", Some(json!(key_id))),
                ("ciphertext", Some(json!(ciphertext))),
                (
                    "associatedData",
                    associated_data
                        .map(|a| json_arg("associated-data", &a))
                        .transpose()?,
                ),
                ("keyVersionId", key_version_id.map(Value::String)),
                (
                    "encryptionAlgorithm",
                    encryption_algorithm.map(Value::String),
                ),
            ]);
            show(
                client,
                Method::POST,
                "/20180608/decrypt",
                &[],
                Some(body),
                None,
            )
            .await
        }
        CryptoCommand::GenerateDataEncryptionKey {
            key_id,
            include_plaintext_key,
            key_shape,
        } => {
            let body = json!({
                "keyId": key_id,
                "includePlaintextKey": include_plaintext_key,
                "keyShape": json_arg("key-shape", &key_shape)?,
            });
            show(
                client,
                Method::POST,
                "/20180608/generateDataEncryptionKey",
                &[],
                Some(body),
                None,
            )
            .await
        }
        CryptoCommand::Sign(args)
        | CryptoCommand::SignedData {
            command: SignedDataCommand::Sign(args),
        } => sign(client, args).await,
        CryptoCommand::Verify(args)
        | CryptoCommand::VerifiedData {
            command: VerifiedDataCommand::Verify(args),
        } => verify(client, args).await,
    }
}

/// Runs `portcullis vault ...`
pub(crate) async fn run_vault(
    client: &Client,
    command: VaultSecretsCommand,
) -> anyhow::Result<i32> {
    let VaultSecretsCommand::Secret { command } = command;
    let content = |content: Option<String>, stage: Option<String>, name: Option<String>| {
        content.map(|c| {
            object(vec![
                ("contentType", Some(json!("BASE64"))),
                ("content", Some(json!(c))),
                ("stage", stage.map(Value::String)),
                ("name", name.map(Value::String)),
            ])
        })
    };
    match command {
        SecretCommand::CreateBase64 {
            compartment_id,
            secret_name,
            vault_id,
            key_id,
            secret_content_content,
            secret_content_stage,
            secret_content_name,
            description,
        } => {
            let body = object(vec![
                ("compartmentId", Some(json!(compartment_id))),
                ("secretName", Some(json!(secret_name))),
                ("vaultId", Some(json!(vault_id))),
                ("keyId", Some(json!(key_id))),
                ("description", description.map(Value::String)),
                (
                    "secretContent",
                    content(
                        Some(secret_content_content),
                        secret_content_stage,
                        secret_content_name,
                    ),
                ),
            ]);
            show(
                client,
                Method::POST,
                "/20180608/secrets",
                &[],
                Some(body),
                None,
            )
            .await
        }
        SecretCommand::UpdateBase64 {
            secret_id,
            secret_content_content,
            secret_content_stage,
            secret_content_name,
            current_version_number,
        } => {
            let body = object(vec![
                (
                    "secretContent",
                    content(
                        secret_content_content,
                        secret_content_stage,
                        secret_content_name,
                    ),
                ),
                (
                    "currentVersionNumber",
                    current_version_number.map(|n| json!(n)),
                ),
            ]);
            show(
                client,
                Method::PUT,
                &format!("/20180608/secrets/{secret_id}"),
                &[],
                Some(body),
                None,
            )
            .await
        }
        SecretCommand::Get { secret_id } => {
            show(
                client,
                Method::GET,
                &format!("/20180608/secrets/{secret_id}"),
                &[],
                None,
                None,
            )
            .await
        }
        SecretCommand::List { list, vault_id } => {
            let mut query = list_query(client, &list);
            if let Some(vault) = vault_id {
                query.push(("vaultId", vault));
            }
            show(client, Method::GET, "/20180608/secrets", &query, None, None).await
        }
        SecretCommand::ScheduleSecretDeletion {
            secret_id,
            deletion,
        } => schedule_deletion(client, &format!("/20180608/secrets/{secret_id}"), &deletion).await,
        SecretCommand::CancelSecretDeletion { secret_id } => {
            let path = format!("/20180608/secrets/{secret_id}/actions/cancelDeletion");
            show(client, Method::POST, &path, &[], None, None).await
        }
    }
}

/// Runs `portcullis secrets ...`
pub(crate) async fn run_secrets(client: &Client, command: SecretsCommand) -> anyhow::Result<i32> {
    let SecretsCommand::SecretBundle { command } = command;
    match command {
        SecretBundleCommand::Get { secret_id, version } => {
            let path = format!("/20190301/secretbundles/{secret_id}");
            show(
                client,
                Method::GET,
                &path,
                &selector_query(&version),
                None,
                None,
            )
            .await
        }
        SecretBundleCommand::GetSecretBundleByName {
            secret_name,
            vault_id,
            version,
        } => {
            let mut query = vec![("secretName", secret_name), ("vaultId", vault_id)];
            query.extend(selector_query(&version));
            show(
                client,
                Method::POST,
                "/20190301/secretbundles/actions/getByName",
                &query,
                None,
                None,
            )
            .await
        }
    }
}
