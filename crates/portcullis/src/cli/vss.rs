//! `portcullis vulnerability-scanning container scan ...`: the registry's scanning as
//! recipes, targets and results, with `oci vulnerability-scanning`'s command and option
//! names; plus two Portcullis additions OCI lacks, `vulnerability-scanning advisory-database
//! get` and a repository's scan allowlist (`artifacts container repository scan-allowlist`).

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand, ValueEnum};
use reqwest::Method;
use serde_json::{Map, Value, json};

use super::client::Client;
use super::iam::{confirm_delete, show};
use super::output;

/// `portcullis vulnerability-scanning`
#[derive(Debug, Subcommand)]
pub(crate) enum VulnerabilityScanningCommand {
    /// Scanning of the registry's container images
    Container {
        #[command(subcommand)]
        command: ContainerCommand,
    },
    /// The advisory database scans match against (Portcullis addition)
    AdvisoryDatabase {
        #[command(subcommand)]
        command: AdvisoryDatabaseCommand,
    },
}

/// `vulnerability-scanning container`
#[derive(Debug, Subcommand)]
pub(crate) enum ContainerCommand {
    /// Container scan recipes, targets and results
    Scan {
        #[command(subcommand)]
        command: ContainerScanCommand,
    },
}

/// `vulnerability-scanning container scan`
#[derive(Debug, Subcommand)]
pub(crate) enum ContainerScanCommand {
    /// Recipes: how images are scanned
    Recipe {
        #[command(subcommand)]
        command: RecipeCommand,
    },
    /// Targets: which repositories a recipe scans
    Target {
        #[command(subcommand)]
        command: TargetCommand,
    },
    /// Results: the problems found in one image
    Result {
        #[command(subcommand)]
        command: ResultCommand,
    },
}

/// `vulnerability-scanning advisory-database`
#[derive(Debug, Subcommand)]
pub(crate) enum AdvisoryDatabaseCommand {
    /// The database's generation, age and records per ecosystem
    Get,
}

/// Tag options of create commands, as `oci` takes them
#[derive(Clone, Debug, Default, Args)]
pub(crate) struct Tags {
    /// Freeform tags as JSON (or file://path)
    #[arg(long)]
    freeform_tags: Option<String>,
    /// Defined tags as JSON (or file://path)
    #[arg(long)]
    defined_tags: Option<String>,
}

/// `vulnerability-scanning container scan recipe`
#[derive(Debug, Subcommand)]
pub(crate) enum RecipeCommand {
    /// Create a recipe
    Create {
        /// The compartment
        #[arg(long)]
        compartment_id: String,
        /// Settings as JSON (or file://path): `{"scanLevel": "STANDARD"}` or `"NONE"`
        #[arg(long)]
        scan_settings: String,
        /// Name (one is made up when absent)
        #[arg(long)]
        display_name: Option<String>,
        /// How many already pushed images of each repository a new target scans at once
        #[arg(long)]
        image_count: Option<u32>,
        #[command(flatten)]
        tags: Tags,
    },
    /// Get a recipe
    Get {
        /// The recipe
        #[arg(long)]
        container_scan_recipe_id: String,
    },
    /// List recipes
    List {
        /// The compartment (default: the tenancy)
        #[arg(long)]
        compartment_id: Option<String>,
        /// Fetch every page
        #[arg(long)]
        all: bool,
    },
    /// Change a recipe's name, settings or initial image count
    Update {
        /// The recipe
        #[arg(long)]
        container_scan_recipe_id: String,
        /// New name
        #[arg(long)]
        display_name: Option<String>,
        /// New settings as JSON (or file://path); replaces the old ones
        #[arg(long)]
        scan_settings: Option<String>,
        /// New initial image count
        #[arg(long)]
        image_count: Option<u32>,
        /// Replace the settings without asking
        #[arg(long)]
        force: bool,
    },
    /// Delete a recipe (refused while a target uses it)
    Delete {
        /// The recipe
        #[arg(long)]
        container_scan_recipe_id: String,
        /// Delete without asking
        #[arg(long)]
        force: bool,
    },
}

/// `vulnerability-scanning container scan target`
#[derive(Debug, Subcommand)]
pub(crate) enum TargetCommand {
    /// Create a target: scan a compartment's repositories with a recipe
    Create(Box<CreateTarget>),
    /// Get a target
    Get {
        /// The target
        #[arg(long)]
        container_scan_target_id: String,
    },
    /// List targets, deleted ones included
    List {
        /// The compartment (default: the tenancy)
        #[arg(long)]
        compartment_id: Option<String>,
        /// Fetch every page
        #[arg(long)]
        all: bool,
    },
    /// Delete a target: scanning stops, its results stay
    Delete {
        /// The target
        #[arg(long)]
        container_scan_target_id: String,
        /// Delete without asking
        #[arg(long)]
        force: bool,
    },
}

/// `target create`'s options; boxed in the enum, being many times the size of the others
#[derive(Debug, Args)]
pub(crate) struct CreateTarget {
    /// The target's compartment
    #[arg(long)]
    compartment_id: String,
    /// The recipe to apply
    #[arg(long)]
    container_scan_recipe_id: String,
    /// The whole registry details as JSON (or file://path), as `oci` takes them:
    /// `{"type": "OCIR", "compartmentId": "...", "repositories": [...]}`
    #[arg(long, conflicts_with_all = ["target_registry_compartment_id", "target_registry_repositories", "target_registry_url"])]
    target_registry: Option<String>,
    /// The compartment whose repositories are scanned
    #[arg(long, required_unless_present = "target_registry")]
    target_registry_compartment_id: Option<String>,
    /// Repository names as a JSON array (or file://path); every repository when absent
    #[arg(long)]
    target_registry_repositories: Option<String>,
    /// The registry's address (default: this server's)
    #[arg(long)]
    target_registry_url: Option<String>,
    /// Name (one is made up when absent)
    #[arg(long)]
    display_name: Option<String>,
    /// Description
    #[arg(long)]
    description: Option<String>,
    #[command(flatten)]
    tags: Tags,
}

/// `--highest-problem-severity`
#[derive(Clone, Copy, Debug, ValueEnum)]
#[value(rename_all = "UPPER")]
pub(crate) enum SeverityArg {
    /// No problem found
    None,
    /// Low
    Low,
    /// Medium
    Medium,
    /// High
    High,
    /// Critical
    Critical,
}

/// `--sort-by` of `result list`
#[derive(Clone, Copy, Debug, ValueEnum)]
#[value(rename_all = "camelCase")]
pub(crate) enum ResultSortBy {
    /// When the scan started (the default)
    TimeStarted,
    /// How many problems were found
    ProblemCount,
    /// The most severe problem
    HighestProblemSeverity,
}

/// `--sort-order`
#[derive(Clone, Copy, Debug, ValueEnum)]
#[value(rename_all = "UPPER")]
pub(crate) enum SortOrder {
    /// Ascending
    Asc,
    /// Descending (the default)
    Desc,
}

/// `vulnerability-scanning container scan result`
#[derive(Debug, Subcommand)]
pub(crate) enum ResultCommand {
    /// List result summaries, newest first
    List {
        /// The compartment (default: the tenancy)
        #[arg(long)]
        compartment_id: Option<String>,
        /// Only this repository's
        #[arg(long)]
        repository: Option<String>,
        /// Only this image's (its digest)
        #[arg(long)]
        image: Option<String>,
        /// Only results whose most severe problem is this
        #[arg(long, ignore_case = true)]
        highest_problem_severity: Option<SeverityArg>,
        /// Only each image's newest result
        #[arg(long)]
        is_latest_only: Option<bool>,
        /// Only scans started at or after this time (RFC 3339)
        #[arg(long)]
        time_started_greater_than_or_equal_to: Option<String>,
        /// Only scans started at or before this time (RFC 3339)
        #[arg(long)]
        time_started_less_than_or_equal_to: Option<String>,
        /// Sort field
        #[arg(long, ignore_case = true)]
        sort_by: Option<ResultSortBy>,
        /// Sort order
        #[arg(long, ignore_case = true)]
        sort_order: Option<SortOrder>,
        /// Fetch every page
        #[arg(long)]
        all: bool,
    },
    /// Get a result with every problem
    Get {
        /// The result
        #[arg(long)]
        container_scan_result_id: String,
    },
}

/// `artifacts container repository scan-allowlist`: advisories a team accepts for a while
#[derive(Debug, Subcommand)]
pub(crate) enum ScanAllowlistCommand {
    /// Get a repository's allowlist (empty when none was set)
    Get {
        /// The repository
        #[arg(long)]
        repository_id: String,
    },
    /// Replace a repository's allowlist
    Put {
        /// The repository
        #[arg(long)]
        repository_id: String,
        /// The allowlist, `{"entries": [{"id", "package"?, "expires", "author", "reason"}]}`
        #[arg(long)]
        file: std::path::PathBuf,
    },
}

/// Reads a JSON option that may be `file://path`, as `oci` allows
fn json_arg(text: &str, what: &str) -> anyhow::Result<Value> {
    let source = match text.strip_prefix("file://") {
        Some(path) => std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?,
        None => text.to_owned(),
    };
    serde_json::from_str(&source).with_context(|| format!("--{what} is not valid JSON"))
}

/// `--scan-settings`: checked here because the server's answer to a non-object would not
/// name the option the user got wrong
fn scan_settings(text: &str) -> anyhow::Result<Value> {
    let value = json_arg(text, "scan-settings")?;
    if !value.is_object() {
        bail!(r#"--scan-settings must be a JSON object such as {{"scanLevel": "STANDARD"}}"#);
    }
    Ok(value)
}

fn put_tags(body: &mut Map<String, Value>, tags: &Tags) -> anyhow::Result<()> {
    if let Some(t) = &tags.freeform_tags {
        body.insert("freeformTags".into(), json_arg(t, "freeform-tags")?);
    }
    if let Some(t) = &tags.defined_tags {
        body.insert("definedTags".into(), json_arg(t, "defined-tags")?);
    }
    Ok(())
}

fn insert<T: Into<Value>>(body: &mut Map<String, Value>, key: &str, value: Option<T>) {
    if let Some(v) = value {
        body.insert(key.into(), v.into());
    }
}

/// The API spelling of a value-enum option (`NONE`, `timeStarted`, `ASC`)
fn api_name<T: ValueEnum>(value: &T) -> Option<String> {
    value.to_possible_value().map(|v| v.get_name().to_owned())
}

/// `targetRegistry` from either `--target-registry` or its flattened options, as
/// `oci`'s OCIR-specific variant of the command takes them
fn target_registry(
    whole: Option<String>,
    compartment_id: Option<String>,
    repositories: Option<String>,
    url: Option<String>,
) -> anyhow::Result<Value> {
    if let Some(text) = whole {
        let value = json_arg(&text, "target-registry")?;
        if !value.is_object() {
            bail!(
                r#"--target-registry must be a JSON object such as {{"type": "OCIR", "compartmentId": "ocid1.compartment..."}}"#
            );
        }
        return Ok(value);
    }
    let Some(compartment_id) = compartment_id else {
        bail!("--target-registry-compartment-id (or --target-registry) is required");
    };
    let mut registry = Map::new();
    registry.insert("type".into(), json!("OCIR"));
    registry.insert("compartmentId".into(), json!(compartment_id));
    if let Some(text) = repositories {
        let value = json_arg(&text, "target-registry-repositories")?;
        let names_only = value
            .as_array()
            .is_some_and(|names| names.iter().all(Value::is_string));
        if !names_only {
            bail!(
                r#"--target-registry-repositories must be a JSON array of names such as ["team-a/web"]"#
            );
        }
        registry.insert("repositories".into(), value);
    }
    insert(&mut registry, "url", url);
    Ok(Value::Object(registry))
}

/// Lists: one call, or with `--all` every page's `items` in one `{"items": [...]}`, as
/// `oci --all` prints collection responses
async fn list(
    client: &Client,
    path: &str,
    mut query: Vec<(&'static str, String)>,
    all: bool,
) -> anyhow::Result<i32> {
    if !all {
        return show(client, Method::GET, path, &query, None, None).await;
    }
    let mut items = Vec::new();
    loop {
        let reply = client.call(Method::GET, path, &query, None, None).await?;
        if !(200..300).contains(&reply.status) {
            return Ok(output::print_error(&reply));
        }
        if let Some(Value::Array(page)) = reply.body.get("items") {
            items.extend(page.iter().cloned());
        }
        match reply.next_page {
            Some(next) => {
                query.retain(|(k, _)| *k != "page");
                query.push(("page", next));
            }
            None => break,
        }
    }
    output::print_data(json!({ "items": items }), None, None);
    Ok(0)
}

/// Asks before replacing complex settings on update, as `oci` does, unless `--force`
fn confirm_replace(what: &str, force: bool) -> anyhow::Result<()> {
    if force {
        return Ok(());
    }
    eprint!(
        "WARNING: Updates to {what} will replace any existing values. Are you sure you want to continue? [y/N]: "
    );
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    if answer.trim().eq_ignore_ascii_case("y") || answer.trim().eq_ignore_ascii_case("yes") {
        Ok(())
    } else {
        bail!("not updated")
    }
}

/// Runs `portcullis vulnerability-scanning ...`
pub(crate) async fn run(
    client: &Client,
    command: VulnerabilityScanningCommand,
) -> anyhow::Result<i32> {
    match command {
        VulnerabilityScanningCommand::AdvisoryDatabase {
            command: AdvisoryDatabaseCommand::Get,
        } => advisory_database(client).await,
        VulnerabilityScanningCommand::Container {
            command: ContainerCommand::Scan { command },
        } => match command {
            ContainerScanCommand::Recipe { command } => recipe(client, command).await,
            ContainerScanCommand::Target { command } => target(client, command).await,
            ContainerScanCommand::Result { command } => result(client, command).await,
        },
    }
}

async fn recipe(client: &Client, command: RecipeCommand) -> anyhow::Result<i32> {
    const PATH: &str = "/20210215/containerScanRecipes";
    match command {
        RecipeCommand::Create {
            compartment_id,
            scan_settings: settings,
            display_name,
            image_count,
            tags,
        } => {
            let mut body = Map::new();
            body.insert("compartmentId".into(), json!(compartment_id));
            body.insert("scanSettings".into(), scan_settings(&settings)?);
            insert(&mut body, "displayName", display_name);
            insert(&mut body, "imageCount", image_count);
            put_tags(&mut body, &tags)?;
            show(
                client,
                Method::POST,
                PATH,
                &[],
                Some(Value::Object(body)),
                None,
            )
            .await
        }
        RecipeCommand::Get {
            container_scan_recipe_id,
        } => {
            let path = format!("{PATH}/{container_scan_recipe_id}");
            show(client, Method::GET, &path, &[], None, None).await
        }
        RecipeCommand::List {
            compartment_id,
            all,
        } => {
            let compartment = compartment_id.unwrap_or_else(|| client.tenancy.clone());
            list(client, PATH, vec![("compartmentId", compartment)], all).await
        }
        RecipeCommand::Update {
            container_scan_recipe_id,
            display_name,
            scan_settings: settings,
            image_count,
            force,
        } => {
            let mut body = Map::new();
            if let Some(text) = settings {
                let value = scan_settings(&text)?;
                confirm_replace("scan-settings", force)?;
                body.insert("scanSettings".into(), value);
            }
            insert(&mut body, "displayName", display_name);
            insert(&mut body, "imageCount", image_count);
            let path = format!("{PATH}/{container_scan_recipe_id}");
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
        RecipeCommand::Delete {
            container_scan_recipe_id,
            force,
        } => {
            confirm_delete(force)?;
            let path = format!("{PATH}/{container_scan_recipe_id}");
            show(client, Method::DELETE, &path, &[], None, None).await
        }
    }
}

async fn target(client: &Client, command: TargetCommand) -> anyhow::Result<i32> {
    const PATH: &str = "/20210215/containerScanTargets";
    match command {
        TargetCommand::Create(create) => {
            let CreateTarget {
                compartment_id,
                container_scan_recipe_id,
                target_registry: whole,
                target_registry_compartment_id,
                target_registry_repositories,
                target_registry_url,
                display_name,
                description,
                tags,
            } = *create;
            let registry = target_registry(
                whole,
                target_registry_compartment_id,
                target_registry_repositories,
                target_registry_url,
            )?;
            let mut body = Map::new();
            body.insert("compartmentId".into(), json!(compartment_id));
            body.insert(
                "containerScanRecipeId".into(),
                json!(container_scan_recipe_id),
            );
            body.insert("targetRegistry".into(), registry);
            insert(&mut body, "displayName", display_name);
            insert(&mut body, "description", description);
            put_tags(&mut body, &tags)?;
            show(
                client,
                Method::POST,
                PATH,
                &[],
                Some(Value::Object(body)),
                None,
            )
            .await
        }
        TargetCommand::Get {
            container_scan_target_id,
        } => {
            let path = format!("{PATH}/{container_scan_target_id}");
            show(client, Method::GET, &path, &[], None, None).await
        }
        TargetCommand::List {
            compartment_id,
            all,
        } => {
            let compartment = compartment_id.unwrap_or_else(|| client.tenancy.clone());
            list(client, PATH, vec![("compartmentId", compartment)], all).await
        }
        TargetCommand::Delete {
            container_scan_target_id,
            force,
        } => {
            confirm_delete(force)?;
            let path = format!("{PATH}/{container_scan_target_id}");
            show(client, Method::DELETE, &path, &[], None, None).await
        }
    }
}

async fn result(client: &Client, command: ResultCommand) -> anyhow::Result<i32> {
    const PATH: &str = "/20210215/containerScanResults";
    match command {
        ResultCommand::List {
            compartment_id,
            repository,
            image,
            highest_problem_severity,
            is_latest_only,
            time_started_greater_than_or_equal_to,
            time_started_less_than_or_equal_to,
            sort_by,
            sort_order,
            all,
        } => {
            let compartment = compartment_id.unwrap_or_else(|| client.tenancy.clone());
            let mut query = vec![("compartmentId", compartment)];
            for (key, value) in [
                ("repository", repository),
                ("image", image),
                (
                    "highestProblemSeverity",
                    highest_problem_severity.as_ref().and_then(api_name),
                ),
                ("isLatestOnly", is_latest_only.map(|b| b.to_string())),
                (
                    "timeStartedGreaterThanOrEqualTo",
                    time_started_greater_than_or_equal_to,
                ),
                (
                    "timeStartedLessThanOrEqualTo",
                    time_started_less_than_or_equal_to,
                ),
                ("sortBy", sort_by.as_ref().and_then(api_name)),
                ("sortOrder", sort_order.as_ref().and_then(api_name)),
            ] {
                if let Some(v) = value {
                    query.push((key, v));
                }
            }
            list(client, PATH, query, all).await
        }
        ResultCommand::Get {
            container_scan_result_id,
        } => {
            let path = format!("{PATH}/{container_scan_result_id}");
            show(client, Method::GET, &path, &[], None, None).await
        }
    }
}

/// `advisory-database get`
async fn advisory_database(client: &Client) -> anyhow::Result<i32> {
    show(
        client,
        Method::GET,
        "/20210215/advisoryDatabase",
        &[],
        None,
        None,
    )
    .await
}

/// Runs `portcullis artifacts container repository scan-allowlist ...`
pub(crate) async fn run_allowlist(
    client: &Client,
    command: ScanAllowlistCommand,
) -> anyhow::Result<i32> {
    match command {
        ScanAllowlistCommand::Get { repository_id } => {
            let path = format!("/20160918/container/repositories/{repository_id}/scanAllowlist");
            show(client, Method::GET, &path, &[], None, None).await
        }
        ScanAllowlistCommand::Put {
            repository_id,
            file,
        } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let allowlist: Value = serde_json::from_str(&text)
                .with_context(|| format!("{} is not valid JSON", file.display()))?;
            let path = format!("/20160918/container/repositories/{repository_id}/scanAllowlist");
            show(client, Method::PUT, &path, &[], Some(allowlist), None).await
        }
    }
}
