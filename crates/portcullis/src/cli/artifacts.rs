//! `portcullis artifacts container repository|image ...`: the registry's repositories and
//! images, with `oci artifacts`' command and option names.

use clap::Subcommand;
use reqwest::Method;
use serde_json::{Map, Value, json};

use super::client::Client;
use super::iam::show;

/// `portcullis artifacts`
#[derive(Debug, Subcommand)]
pub(crate) enum ArtifactsCommand {
    /// Container repositories and images
    Container {
        #[command(subcommand)]
        command: ContainerCommand,
    },
}

/// `artifacts container`
#[derive(Debug, Subcommand)]
pub(crate) enum ContainerCommand {
    /// Repositories
    Repository {
        #[command(subcommand)]
        command: RepositoryCommand,
    },
    /// Images (manifests) and their versions (tags)
    Image {
        #[command(subcommand)]
        command: ImageCommand,
    },
    /// Image signatures made with vault keys
    ImageSignature {
        #[command(subcommand)]
        command: super::signatures::ImageSignatureCommand,
    },
}

/// `artifacts container repository`
#[derive(Debug, Subcommand)]
pub(crate) enum RepositoryCommand {
    /// Create a repository
    Create {
        /// The compartment
        #[arg(long)]
        compartment_id: String,
        /// The repository name (`team-a/web`)
        #[arg(long)]
        display_name: String,
        /// Allow anonymous pulls
        #[arg(long)]
        is_public: Option<bool>,
        /// Tags cannot be moved once set
        #[arg(long)]
        is_immutable: Option<bool>,
    },
    /// Get a repository
    Get {
        /// The repository
        #[arg(long)]
        repository_id: String,
    },
    /// List repositories
    List {
        /// The compartment (default: the tenancy)
        #[arg(long)]
        compartment_id: Option<String>,
        /// Exact name
        #[arg(long)]
        display_name: Option<String>,
    },
    /// Change public, immutable
    Update {
        /// The repository
        #[arg(long)]
        repository_id: String,
        /// Allow anonymous pulls
        #[arg(long)]
        is_public: Option<bool>,
        /// Tags cannot be moved once set
        #[arg(long)]
        is_immutable: Option<bool>,
    },
    /// Delete a repository and its images
    Delete {
        /// The repository
        #[arg(long)]
        repository_id: String,
        /// Delete without asking
        #[arg(long)]
        force: bool,
    },
    /// The advisories scans of this repository accept for a while (Portcullis addition)
    ScanAllowlist {
        #[command(subcommand)]
        command: super::vss::ScanAllowlistCommand,
    },
}

/// `artifacts container image`
#[derive(Debug, Subcommand)]
pub(crate) enum ImageCommand {
    /// List images
    List {
        /// The compartment (default: the tenancy)
        #[arg(long)]
        compartment_id: Option<String>,
        /// Only this repository's
        #[arg(long)]
        repository_name: Option<String>,
    },
    /// Get an image with its layers and versions
    Get {
        /// The image
        #[arg(long)]
        image_id: String,
    },
    /// Delete an image and every tag of it
    Delete {
        /// The image
        #[arg(long)]
        image_id: String,
        /// Delete without asking
        #[arg(long)]
        force: bool,
    },
}

fn flags(fields: Vec<(&str, Option<bool>)>) -> Map<String, Value> {
    fields
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k.to_owned(), json!(v))))
        .collect()
}

/// Runs `portcullis artifacts ...`
pub(crate) async fn run(client: &Client, command: ArtifactsCommand) -> anyhow::Result<i32> {
    let ArtifactsCommand::Container { command } = command;
    let tenancy = client.tenancy.clone();
    match command {
        ContainerCommand::Repository { command } => match command {
            RepositoryCommand::Create {
                compartment_id,
                display_name,
                is_public,
                is_immutable,
            } => {
                let mut body = flags(vec![("isPublic", is_public), ("isImmutable", is_immutable)]);
                body.insert("compartmentId".into(), json!(compartment_id));
                body.insert("displayName".into(), json!(display_name));
                show(
                    client,
                    Method::POST,
                    "/20160918/container/repositories",
                    &[],
                    Some(Value::Object(body)),
                    None,
                )
                .await
            }
            RepositoryCommand::Get { repository_id } => {
                let path = format!("/20160918/container/repositories/{repository_id}");
                show(client, Method::GET, &path, &[], None, None).await
            }
            RepositoryCommand::List {
                compartment_id,
                display_name,
            } => {
                let mut query = vec![("compartmentId", compartment_id.unwrap_or(tenancy))];
                if let Some(name) = display_name {
                    query.push(("displayName", name));
                }
                show(
                    client,
                    Method::GET,
                    "/20160918/container/repositories",
                    &query,
                    None,
                    None,
                )
                .await
            }
            RepositoryCommand::Update {
                repository_id,
                is_public,
                is_immutable,
            } => {
                let body = flags(vec![("isPublic", is_public), ("isImmutable", is_immutable)]);
                let path = format!("/20160918/container/repositories/{repository_id}");
                show(
                    client,
                    Method::PUT,
                    &path,
                    &[],
                    Some(Value::Object(body)),
                    None,
                )
                .await
            }
            RepositoryCommand::Delete {
                repository_id,
                force,
            } => {
                super::iam::confirm_delete(force)?;
                let path = format!("/20160918/container/repositories/{repository_id}");
                show(client, Method::DELETE, &path, &[], None, None).await
            }
            RepositoryCommand::ScanAllowlist { command } => {
                super::vss::run_allowlist(client, command).await
            }
        },
        ContainerCommand::ImageSignature { command } => {
            super::signatures::run(client, command).await
        }
        ContainerCommand::Image { command } => match command {
            ImageCommand::List {
                compartment_id,
                repository_name,
            } => {
                let mut query = vec![("compartmentId", compartment_id.unwrap_or(tenancy))];
                if let Some(name) = repository_name {
                    query.push(("repositoryName", name));
                }
                show(
                    client,
                    Method::GET,
                    "/20160918/container/images",
                    &query,
                    None,
                    None,
                )
                .await
            }
            ImageCommand::Get { image_id } => {
                let path = format!("/20160918/container/images/{image_id}");
                show(client, Method::GET, &path, &[], None, None).await
            }
            ImageCommand::Delete { image_id, force } => {
                super::iam::confirm_delete(force)?;
                let path = format!("/20160918/container/images/{image_id}");
                show(client, Method::DELETE, &path, &[], None, None).await
            }
        },
    }
}
