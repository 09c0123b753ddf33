//! `portcullis iam ...`: the Identity API with `oci iam`'s command and option names.

use anyhow::{Context as _, anyhow, bail};
use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{Map, Value, json};

use super::client::{Client, Reply};
use super::output;

/// Paging options of list commands
#[derive(Clone, Debug, Args)]
pub(crate) struct Paging {
    /// Page size
    #[arg(long)]
    limit: Option<u32>,
    /// Page token from a previous `opc-next-page`
    #[arg(long)]
    page: Option<String>,
    /// Fetch every page
    #[arg(long)]
    all: bool,
    /// Exact name filter
    #[arg(long)]
    name: Option<String>,
    /// Lifecycle state filter
    #[arg(long)]
    lifecycle_state: Option<String>,
    /// TIMECREATED or NAME
    #[arg(long)]
    sort_by: Option<String>,
    /// ASC or DESC
    #[arg(long)]
    sort_order: Option<String>,
}

/// Tag options of create and update commands
#[derive(Clone, Debug, Default, Args)]
pub(crate) struct Tags {
    /// Freeform tags as JSON (or file://path)
    #[arg(long)]
    freeform_tags: Option<String>,
    /// Defined tags as JSON (or file://path)
    #[arg(long)]
    defined_tags: Option<String>,
}

/// Options of delete commands
#[derive(Clone, Debug, Args)]
pub(crate) struct Deleting {
    /// Delete without asking
    #[arg(long)]
    force: bool,
    /// Only if the resource still has this etag
    #[arg(long)]
    if_match: Option<String>,
}

/// `portcullis iam`
#[derive(Debug, Subcommand)]
pub(crate) enum IamCommand {
    /// Compartments
    Compartment {
        #[command(subcommand)]
        command: CompartmentCommand,
    },
    /// Users and their API keys
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Groups and memberships
    Group {
        #[command(subcommand)]
        command: GroupCommand,
    },
    /// Dynamic groups
    DynamicGroup {
        #[command(subcommand)]
        command: DynamicGroupCommand,
    },
    /// Policies, and the policy simulator
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// Auth tokens (registry passwords)
    AuthToken {
        #[command(subcommand)]
        command: AuthTokenCommand,
    },
    /// The tenancy
    Tenancy {
        #[command(subcommand)]
        command: TenancyCommand,
    },
}

/// `iam compartment`
#[derive(Debug, Subcommand)]
pub(crate) enum CompartmentCommand {
    /// Create a compartment
    Create {
        /// The parent compartment
        #[arg(long)]
        compartment_id: String,
        /// Name, unique among its siblings
        #[arg(long)]
        name: String,
        /// Description
        #[arg(long)]
        description: String,
        #[command(flatten)]
        tags: Tags,
    },
    /// Get a compartment
    Get {
        /// The compartment
        #[arg(long)]
        compartment_id: String,
    },
    /// List compartments in a compartment (default: the tenancy)
    List {
        /// The parent (default: the tenancy)
        #[arg(long)]
        compartment_id: Option<String>,
        /// Every compartment in the tenancy
        #[arg(long)]
        compartment_id_in_subtree: Option<bool>,
        /// ANY or ACCESSIBLE
        #[arg(long)]
        access_level: Option<String>,
        #[command(flatten)]
        paging: Paging,
    },
    /// Update a compartment
    Update {
        /// The compartment
        #[arg(long)]
        compartment_id: String,
        /// New name
        #[arg(long)]
        name: Option<String>,
        /// New description
        #[arg(long)]
        description: Option<String>,
        #[command(flatten)]
        tags: Tags,
        /// Only if the etag still matches
        #[arg(long)]
        if_match: Option<String>,
    },
    /// Delete an empty compartment
    Delete {
        /// The compartment
        #[arg(long)]
        compartment_id: String,
        #[command(flatten)]
        deleting: Deleting,
    },
}

/// `iam user`
#[derive(Debug, Subcommand)]
pub(crate) enum UserCommand {
    /// Create a user
    Create {
        /// Name, unique in the tenancy
        #[arg(long)]
        name: String,
        /// Description
        #[arg(long)]
        description: String,
        /// Email
        #[arg(long)]
        email: Option<String>,
        /// The tenancy (default: the profile's)
        #[arg(long)]
        compartment_id: Option<String>,
        #[command(flatten)]
        tags: Tags,
    },
    /// Get a user
    Get {
        /// The user
        #[arg(long)]
        user_id: String,
    },
    /// List users
    List {
        /// The tenancy (default: the profile's)
        #[arg(long)]
        compartment_id: Option<String>,
        #[command(flatten)]
        paging: Paging,
    },
    /// Update a user
    Update {
        /// The user
        #[arg(long)]
        user_id: String,
        /// New description
        #[arg(long)]
        description: Option<String>,
        /// New email
        #[arg(long)]
        email: Option<String>,
        #[command(flatten)]
        tags: Tags,
        /// Only if the etag still matches
        #[arg(long)]
        if_match: Option<String>,
    },
    /// Delete a user (it must belong to no group)
    Delete {
        /// The user
        #[arg(long)]
        user_id: String,
        #[command(flatten)]
        deleting: Deleting,
    },
    /// The groups a user belongs to
    ListGroups {
        /// The user
        #[arg(long)]
        user_id: String,
    },
    /// API signing keys
    ApiKey {
        #[command(subcommand)]
        command: ApiKeyCommand,
    },
}

/// `iam user api-key`
#[derive(Debug, Subcommand)]
pub(crate) enum ApiKeyCommand {
    /// Upload a PEM public key (at most three per user)
    Upload {
        /// The user
        #[arg(long)]
        user_id: String,
        /// The PEM public key file
        #[arg(long, conflicts_with = "key")]
        key_file: Option<std::path::PathBuf>,
        /// The PEM public key itself
        #[arg(long)]
        key: Option<String>,
    },
    /// List a user's API keys
    List {
        /// The user
        #[arg(long)]
        user_id: String,
    },
    /// Delete an API key
    Delete {
        /// The user
        #[arg(long)]
        user_id: String,
        /// The key's fingerprint
        #[arg(long)]
        fingerprint: String,
        #[command(flatten)]
        deleting: Deleting,
    },
}

/// `iam group`
#[derive(Debug, Subcommand)]
pub(crate) enum GroupCommand {
    /// Create a group
    Create {
        /// Name, unique among groups and dynamic groups
        #[arg(long)]
        name: String,
        /// Description
        #[arg(long)]
        description: String,
        /// The tenancy (default: the profile's)
        #[arg(long)]
        compartment_id: Option<String>,
        #[command(flatten)]
        tags: Tags,
    },
    /// Get a group
    Get {
        /// The group
        #[arg(long)]
        group_id: String,
    },
    /// List groups
    List {
        /// The tenancy (default: the profile's)
        #[arg(long)]
        compartment_id: Option<String>,
        #[command(flatten)]
        paging: Paging,
    },
    /// Update a group
    Update {
        /// The group
        #[arg(long)]
        group_id: String,
        /// New description
        #[arg(long)]
        description: Option<String>,
        #[command(flatten)]
        tags: Tags,
        /// Only if the etag still matches
        #[arg(long)]
        if_match: Option<String>,
    },
    /// Delete a group (it must have no members)
    Delete {
        /// The group
        #[arg(long)]
        group_id: String,
        #[command(flatten)]
        deleting: Deleting,
    },
    /// Add a user to a group
    AddUser {
        /// The user
        #[arg(long)]
        user_id: String,
        /// The group
        #[arg(long)]
        group_id: String,
    },
    /// Remove a user from a group
    RemoveUser {
        /// The user
        #[arg(long)]
        user_id: String,
        /// The group
        #[arg(long)]
        group_id: String,
        #[command(flatten)]
        deleting: Deleting,
    },
    /// The users in a group
    ListUsers {
        /// The group
        #[arg(long)]
        group_id: String,
    },
}

/// `iam dynamic-group`
#[derive(Debug, Subcommand)]
pub(crate) enum DynamicGroupCommand {
    /// Create a dynamic group
    Create {
        /// Name, unique among groups and dynamic groups
        #[arg(long)]
        name: String,
        /// Description
        #[arg(long)]
        description: String,
        /// The matching rule
        #[arg(long)]
        matching_rule: String,
        /// The tenancy (default: the profile's)
        #[arg(long)]
        compartment_id: Option<String>,
        #[command(flatten)]
        tags: Tags,
    },
    /// Get a dynamic group
    Get {
        /// The dynamic group
        #[arg(long)]
        dynamic_group_id: String,
    },
    /// List dynamic groups
    List {
        /// The tenancy (default: the profile's)
        #[arg(long)]
        compartment_id: Option<String>,
        #[command(flatten)]
        paging: Paging,
    },
    /// Update a dynamic group
    Update {
        /// The dynamic group
        #[arg(long)]
        dynamic_group_id: String,
        /// New description
        #[arg(long)]
        description: Option<String>,
        /// New matching rule
        #[arg(long)]
        matching_rule: Option<String>,
        #[command(flatten)]
        tags: Tags,
        /// Only if the etag still matches
        #[arg(long)]
        if_match: Option<String>,
    },
    /// Delete a dynamic group
    Delete {
        /// The dynamic group
        #[arg(long)]
        dynamic_group_id: String,
        #[command(flatten)]
        deleting: Deleting,
    },
}

/// `iam policy`
#[derive(Debug, Subcommand)]
pub(crate) enum PolicyCommand {
    /// Create a policy
    Create {
        /// The compartment to attach it to
        #[arg(long)]
        compartment_id: String,
        /// Name, unique in the tenancy
        #[arg(long)]
        name: String,
        /// Description
        #[arg(long)]
        description: String,
        /// Statements as a JSON array of strings (or file://path)
        #[arg(long)]
        statements: String,
        /// Policy language version date
        #[arg(long)]
        version_date: Option<String>,
        #[command(flatten)]
        tags: Tags,
    },
    /// Get a policy
    Get {
        /// The policy
        #[arg(long)]
        policy_id: String,
    },
    /// List the policies attached to a compartment
    List {
        /// The compartment (default: the tenancy)
        #[arg(long)]
        compartment_id: Option<String>,
        #[command(flatten)]
        paging: Paging,
    },
    /// Update a policy
    Update {
        /// The policy
        #[arg(long)]
        policy_id: String,
        /// New description
        #[arg(long)]
        description: Option<String>,
        /// New statements as a JSON array (or file://path)
        #[arg(long)]
        statements: Option<String>,
        /// Policy language version date
        #[arg(long)]
        version_date: Option<String>,
        #[command(flatten)]
        tags: Tags,
        /// Only if the etag still matches
        #[arg(long)]
        if_match: Option<String>,
    },
    /// Delete a policy
    Delete {
        /// The policy
        #[arg(long)]
        policy_id: String,
        #[command(flatten)]
        deleting: Deleting,
    },
    /// Decide a request without making it: which statements allow it, or what is missing
    Simulate(SimulateArgs),
}

/// `iam policy simulate`
#[derive(Debug, Args)]
pub(crate) struct SimulateArgs {
    /// Simulate this user (OCID or name), with its current groups
    #[arg(long, group = "who")]
    user: Option<String>,
    /// Simulate a resource principal of this type (`cluster`, `instance`, `workload`)
    #[arg(long, group = "who", requires_all = ["resource_id", "resource_compartment_id"])]
    resource_type: Option<String>,
    /// The resource principal's OCID
    #[arg(long)]
    resource_id: Option<String>,
    /// The resource principal's compartment
    #[arg(long)]
    resource_compartment_id: Option<String>,
    /// A `request.principal.<name>` attribute, `name=value` (repeatable)
    #[arg(long)]
    principal_attribute: Vec<String>,
    /// A tag of the resource principal, `namespace.key=value` (repeatable)
    #[arg(long)]
    principal_tag: Vec<String>,
    /// Simulate a service principal
    #[arg(long, group = "who")]
    service: Option<String>,
    /// An API operation, such as `GetCluster` or `PushImage`
    #[arg(long, conflicts_with = "permission")]
    operation: Option<String>,
    /// A permission such as `CLUSTER_USE` (repeatable)
    #[arg(long)]
    permission: Vec<String>,
    /// The target compartment (default: the tenancy)
    #[arg(long)]
    compartment_id: Option<String>,
    /// A request variable, `target.repo.name=web` (repeatable)
    #[arg(long)]
    variable: Vec<String>,
    /// The request time, RFC 3339 (default: now)
    #[arg(long)]
    time: Option<String>,
    /// Candidate statements to try before applying them, JSON array (or file://path)
    #[arg(long)]
    statements: Option<String>,
    /// Where the candidate statements' policy would be attached (default: the tenancy)
    #[arg(long)]
    statements_compartment_id: Option<String>,
}

/// `iam auth-token`
#[derive(Debug, Subcommand)]
pub(crate) enum AuthTokenCommand {
    /// Create an auth token (shown once)
    Create {
        /// The user
        #[arg(long)]
        user_id: String,
        /// Description
        #[arg(long)]
        description: String,
    },
    /// List a user's auth tokens
    List {
        /// The user
        #[arg(long)]
        user_id: String,
    },
    /// Change an auth token's description
    Update {
        /// The user
        #[arg(long)]
        user_id: String,
        /// The token
        #[arg(long)]
        auth_token_id: String,
        /// Description
        #[arg(long)]
        description: String,
    },
    /// Delete an auth token
    Delete {
        /// The user
        #[arg(long)]
        user_id: String,
        /// The token
        #[arg(long)]
        auth_token_id: String,
        #[command(flatten)]
        deleting: Deleting,
    },
}

/// `iam tenancy`
#[derive(Debug, Subcommand)]
pub(crate) enum TenancyCommand {
    /// Get the tenancy
    Get {
        /// The tenancy (default: the profile's)
        #[arg(long)]
        tenancy_id: Option<String>,
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

fn key_value(text: &str, what: &str) -> anyhow::Result<(String, String)> {
    text.split_once('=')
        .map(|(k, v)| (k.trim().to_owned(), v.to_owned()))
        .ok_or_else(|| anyhow!("--{what} expects name=value, got `{text}`"))
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

fn put(body: &mut Map<String, Value>, key: &str, value: &Option<String>) {
    if let Some(v) = value {
        body.insert(key.into(), Value::String(v.clone()));
    }
}

fn paging_query(paging: &Paging) -> Vec<(&'static str, String)> {
    let mut query = Vec::new();
    if let Some(l) = paging.limit {
        query.push(("limit", l.to_string()));
    }
    for (key, value) in [
        ("page", &paging.page),
        ("name", &paging.name),
        ("lifecycleState", &paging.lifecycle_state),
        ("sortBy", &paging.sort_by),
        ("sortOrder", &paging.sort_order),
    ] {
        if let Some(v) = value {
            query.push((key, v.clone()));
        }
    }
    query
}

fn confirm(deleting: &Deleting) -> anyhow::Result<()> {
    confirm_delete(deleting.force)
}

/// Asks before deleting, as `oci` does, unless `--force`
pub(crate) fn confirm_delete(force: bool) -> anyhow::Result<()> {
    if force {
        return Ok(());
    }
    eprint!("Are you sure you want to delete this resource? [y/N]: ");
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    if answer.trim().eq_ignore_ascii_case("y") || answer.trim().eq_ignore_ascii_case("yes") {
        Ok(())
    } else {
        bail!("not deleted")
    }
}

/// Performs one call and prints its result; returns the exit code
pub(crate) async fn show(
    client: &Client,
    method: Method,
    path: &str,
    query: &[(&str, String)],
    body: Option<Value>,
    if_match: Option<&str>,
) -> anyhow::Result<i32> {
    let reply = client
        .call(method, path, query, body.as_ref(), if_match)
        .await?;
    Ok(finish(reply))
}

/// Prints a reply as `oci` would and returns the exit code
pub(crate) fn finish(reply: Reply) -> i32 {
    if !(200..300).contains(&reply.status) {
        return output::print_error(&reply);
    }
    if reply.body.is_null() {
        // Deletes answer with no body; oci prints nothing either, except the work request
        // of an asynchronous one.
        if let Some(id) = reply.work_request_id {
            output::print_json(&json!({ "opc-work-request-id": id }));
        }
        return 0;
    }
    output::print_data(
        reply.body,
        reply.etag.as_deref(),
        reply.next_page.as_deref(),
    );
    0
}

/// Lists, following pages with `--all`
async fn list(
    client: &Client,
    path: &str,
    mut query: Vec<(&'static str, String)>,
    paging: &Paging,
) -> anyhow::Result<i32> {
    query.extend(paging_query(paging));
    if !paging.all {
        return show(client, Method::GET, path, &query, None, None).await;
    }
    let mut items = Vec::new();
    loop {
        let reply = client.call(Method::GET, path, &query, None, None).await?;
        if !(200..300).contains(&reply.status) {
            return Ok(output::print_error(&reply));
        }
        if let Value::Array(page) = reply.body {
            items.extend(page);
        }
        match reply.next_page {
            Some(next) => {
                query.retain(|(k, _)| *k != "page");
                query.push(("page", next));
            }
            None => break,
        }
    }
    output::print_data(Value::Array(items), None, None);
    Ok(0)
}

/// Calls without printing; fails on an error reply
async fn fetch(client: &Client, path: &str, query: &[(&str, String)]) -> anyhow::Result<Value> {
    let reply = client.call(Method::GET, path, query, None, None).await?;
    if !(200..300).contains(&reply.status) {
        output::print_error(&reply);
        bail!("the request failed");
    }
    Ok(reply.body)
}

/// Runs an `iam` command
pub(crate) async fn run(client: &Client, command: IamCommand) -> anyhow::Result<i32> {
    let tenancy = client.tenancy.clone();
    match command {
        IamCommand::Compartment { command } => match command {
            CompartmentCommand::Create {
                compartment_id,
                name,
                description,
                tags,
            } => {
                let mut body = Map::new();
                body.insert("compartmentId".into(), json!(compartment_id));
                body.insert("name".into(), json!(name));
                body.insert("description".into(), json!(description));
                put_tags(&mut body, &tags)?;
                show(
                    client,
                    Method::POST,
                    "/20160918/compartments",
                    &[],
                    Some(Value::Object(body)),
                    None,
                )
                .await
            }
            CompartmentCommand::Get { compartment_id } => {
                show(
                    client,
                    Method::GET,
                    &format!("/20160918/compartments/{compartment_id}"),
                    &[],
                    None,
                    None,
                )
                .await
            }
            CompartmentCommand::List {
                compartment_id,
                compartment_id_in_subtree,
                access_level,
                paging,
            } => {
                let mut query = vec![("compartmentId", compartment_id.unwrap_or(tenancy))];
                if let Some(subtree) = compartment_id_in_subtree {
                    query.push(("compartmentIdInSubtree", subtree.to_string()));
                }
                if let Some(level) = access_level {
                    query.push(("accessLevel", level));
                }
                list(client, "/20160918/compartments", query, &paging).await
            }
            CompartmentCommand::Update {
                compartment_id,
                name,
                description,
                tags,
                if_match,
            } => {
                let mut body = Map::new();
                put(&mut body, "name", &name);
                put(&mut body, "description", &description);
                put_tags(&mut body, &tags)?;
                show(
                    client,
                    Method::PUT,
                    &format!("/20160918/compartments/{compartment_id}"),
                    &[],
                    Some(Value::Object(body)),
                    if_match.as_deref(),
                )
                .await
            }
            CompartmentCommand::Delete {
                compartment_id,
                deleting,
            } => {
                confirm(&deleting)?;
                show(
                    client,
                    Method::DELETE,
                    &format!("/20160918/compartments/{compartment_id}"),
                    &[],
                    None,
                    deleting.if_match.as_deref(),
                )
                .await
            }
        },
        IamCommand::User { command } => run_user(client, command, tenancy).await,
        IamCommand::Group { command } => run_group(client, command, tenancy).await,
        IamCommand::DynamicGroup { command } => run_dynamic_group(client, command, tenancy).await,
        IamCommand::Policy { command } => run_policy(client, command, tenancy).await,
        IamCommand::AuthToken { command } => match command {
            AuthTokenCommand::Create {
                user_id,
                description,
            } => {
                show(
                    client,
                    Method::POST,
                    &format!("/20160918/users/{user_id}/authTokens"),
                    &[],
                    Some(json!({ "description": description })),
                    None,
                )
                .await
            }
            AuthTokenCommand::List { user_id } => {
                show(
                    client,
                    Method::GET,
                    &format!("/20160918/users/{user_id}/authTokens"),
                    &[],
                    None,
                    None,
                )
                .await
            }
            AuthTokenCommand::Update {
                user_id,
                auth_token_id,
                description,
            } => {
                show(
                    client,
                    Method::PUT,
                    &format!("/20160918/users/{user_id}/authTokens/{auth_token_id}"),
                    &[],
                    Some(json!({ "description": description })),
                    None,
                )
                .await
            }
            AuthTokenCommand::Delete {
                user_id,
                auth_token_id,
                deleting,
            } => {
                confirm(&deleting)?;
                show(
                    client,
                    Method::DELETE,
                    &format!("/20160918/users/{user_id}/authTokens/{auth_token_id}"),
                    &[],
                    None,
                    None,
                )
                .await
            }
        },
        IamCommand::Tenancy {
            command: TenancyCommand::Get { tenancy_id },
        } => {
            let id = tenancy_id.unwrap_or(tenancy);
            show(
                client,
                Method::GET,
                &format!("/20160918/tenancies/{id}"),
                &[],
                None,
                None,
            )
            .await
        }
    }
}

async fn run_user(client: &Client, command: UserCommand, tenancy: String) -> anyhow::Result<i32> {
    match command {
        UserCommand::Create {
            name,
            description,
            email,
            compartment_id,
            tags,
        } => {
            let mut body = Map::new();
            body.insert(
                "compartmentId".into(),
                json!(compartment_id.unwrap_or(tenancy)),
            );
            body.insert("name".into(), json!(name));
            body.insert("description".into(), json!(description));
            put(&mut body, "email", &email);
            put_tags(&mut body, &tags)?;
            show(
                client,
                Method::POST,
                "/20160918/users",
                &[],
                Some(Value::Object(body)),
                None,
            )
            .await
        }
        UserCommand::Get { user_id } => {
            show(
                client,
                Method::GET,
                &format!("/20160918/users/{user_id}"),
                &[],
                None,
                None,
            )
            .await
        }
        UserCommand::List {
            compartment_id,
            paging,
        } => {
            let query = vec![("compartmentId", compartment_id.unwrap_or(tenancy))];
            list(client, "/20160918/users", query, &paging).await
        }
        UserCommand::Update {
            user_id,
            description,
            email,
            tags,
            if_match,
        } => {
            let mut body = Map::new();
            put(&mut body, "description", &description);
            put(&mut body, "email", &email);
            put_tags(&mut body, &tags)?;
            show(
                client,
                Method::PUT,
                &format!("/20160918/users/{user_id}"),
                &[],
                Some(Value::Object(body)),
                if_match.as_deref(),
            )
            .await
        }
        UserCommand::Delete { user_id, deleting } => {
            confirm(&deleting)?;
            show(
                client,
                Method::DELETE,
                &format!("/20160918/users/{user_id}"),
                &[],
                None,
                deleting.if_match.as_deref(),
            )
            .await
        }
        UserCommand::ListGroups { user_id } => {
            let memberships = fetch(
                client,
                "/20160918/userGroupMemberships",
                &[("compartmentId", tenancy), ("userId", user_id)],
            )
            .await?;
            let mut groups = Vec::new();
            for m in memberships.as_array().into_iter().flatten() {
                if let Some(group) = m.get("groupId").and_then(Value::as_str) {
                    groups.push(fetch(client, &format!("/20160918/groups/{group}"), &[]).await?);
                }
            }
            output::print_data(Value::Array(groups), None, None);
            Ok(0)
        }
        UserCommand::ApiKey { command } => match command {
            ApiKeyCommand::Upload {
                user_id,
                key_file,
                key,
            } => {
                let pem = match (key_file, key) {
                    (Some(path), _) => std::fs::read_to_string(&path)
                        .with_context(|| format!("reading {}", path.display()))?,
                    (None, Some(key)) => key,
                    (None, None) => bail!("give --key-file or --key"),
                };
                show(
                    client,
                    Method::POST,
                    &format!("/20160918/users/{user_id}/apiKeys"),
                    &[],
                    Some(json!({ "key": pem })),
                    None,
                )
                .await
            }
            ApiKeyCommand::List { user_id } => {
                show(
                    client,
                    Method::GET,
                    &format!("/20160918/users/{user_id}/apiKeys"),
                    &[],
                    None,
                    None,
                )
                .await
            }
            ApiKeyCommand::Delete {
                user_id,
                fingerprint,
                deleting,
            } => {
                confirm(&deleting)?;
                show(
                    client,
                    Method::DELETE,
                    &format!("/20160918/users/{user_id}/apiKeys/{fingerprint}"),
                    &[],
                    None,
                    None,
                )
                .await
            }
        },
    }
}

async fn run_group(client: &Client, command: GroupCommand, tenancy: String) -> anyhow::Result<i32> {
    match command {
        GroupCommand::Create {
            name,
            description,
            compartment_id,
            tags,
        } => {
            let mut body = Map::new();
            body.insert(
                "compartmentId".into(),
                json!(compartment_id.unwrap_or(tenancy)),
            );
            body.insert("name".into(), json!(name));
            body.insert("description".into(), json!(description));
            put_tags(&mut body, &tags)?;
            show(
                client,
                Method::POST,
                "/20160918/groups",
                &[],
                Some(Value::Object(body)),
                None,
            )
            .await
        }
        GroupCommand::Get { group_id } => {
            show(
                client,
                Method::GET,
                &format!("/20160918/groups/{group_id}"),
                &[],
                None,
                None,
            )
            .await
        }
        GroupCommand::List {
            compartment_id,
            paging,
        } => {
            let query = vec![("compartmentId", compartment_id.unwrap_or(tenancy))];
            list(client, "/20160918/groups", query, &paging).await
        }
        GroupCommand::Update {
            group_id,
            description,
            tags,
            if_match,
        } => {
            let mut body = Map::new();
            put(&mut body, "description", &description);
            put_tags(&mut body, &tags)?;
            show(
                client,
                Method::PUT,
                &format!("/20160918/groups/{group_id}"),
                &[],
                Some(Value::Object(body)),
                if_match.as_deref(),
            )
            .await
        }
        GroupCommand::Delete { group_id, deleting } => {
            confirm(&deleting)?;
            show(
                client,
                Method::DELETE,
                &format!("/20160918/groups/{group_id}"),
                &[],
                None,
                deleting.if_match.as_deref(),
            )
            .await
        }
        GroupCommand::AddUser { user_id, group_id } => {
            show(
                client,
                Method::POST,
                "/20160918/userGroupMemberships",
                &[],
                Some(json!({ "userId": user_id, "groupId": group_id })),
                None,
            )
            .await
        }
        GroupCommand::RemoveUser {
            user_id,
            group_id,
            deleting,
        } => {
            let memberships = fetch(
                client,
                "/20160918/userGroupMemberships",
                &[
                    ("compartmentId", tenancy),
                    ("userId", user_id.clone()),
                    ("groupId", group_id.clone()),
                ],
            )
            .await?;
            let Some(id) = memberships
                .as_array()
                .and_then(|a| a.first())
                .and_then(|m| m.get("id"))
                .and_then(Value::as_str)
            else {
                bail!("user {user_id} is not a member of group {group_id}");
            };
            confirm(&deleting)?;
            show(
                client,
                Method::DELETE,
                &format!("/20160918/userGroupMemberships/{id}"),
                &[],
                None,
                None,
            )
            .await
        }
        GroupCommand::ListUsers { group_id } => {
            let memberships = fetch(
                client,
                "/20160918/userGroupMemberships",
                &[("compartmentId", tenancy), ("groupId", group_id)],
            )
            .await?;
            let mut users = Vec::new();
            for m in memberships.as_array().into_iter().flatten() {
                if let Some(user) = m.get("userId").and_then(Value::as_str) {
                    users.push(fetch(client, &format!("/20160918/users/{user}"), &[]).await?);
                }
            }
            output::print_data(Value::Array(users), None, None);
            Ok(0)
        }
    }
}

async fn run_dynamic_group(
    client: &Client,
    command: DynamicGroupCommand,
    tenancy: String,
) -> anyhow::Result<i32> {
    match command {
        DynamicGroupCommand::Create {
            name,
            description,
            matching_rule,
            compartment_id,
            tags,
        } => {
            let mut body = Map::new();
            body.insert(
                "compartmentId".into(),
                json!(compartment_id.unwrap_or(tenancy)),
            );
            body.insert("name".into(), json!(name));
            body.insert("description".into(), json!(description));
            body.insert("matchingRule".into(), json!(matching_rule));
            put_tags(&mut body, &tags)?;
            show(
                client,
                Method::POST,
                "/20160918/dynamicGroups",
                &[],
                Some(Value::Object(body)),
                None,
            )
            .await
        }
        DynamicGroupCommand::Get { dynamic_group_id } => {
            show(
                client,
                Method::GET,
                &format!("/20160918/dynamicGroups/{dynamic_group_id}"),
                &[],
                None,
                None,
            )
            .await
        }
        DynamicGroupCommand::List {
            compartment_id,
            paging,
        } => {
            let query = vec![("compartmentId", compartment_id.unwrap_or(tenancy))];
            list(client, "/20160918/dynamicGroups", query, &paging).await
        }
        DynamicGroupCommand::Update {
            dynamic_group_id,
            description,
            matching_rule,
            tags,
            if_match,
        } => {
            let mut body = Map::new();
            put(&mut body, "description", &description);
            put(&mut body, "matchingRule", &matching_rule);
            put_tags(&mut body, &tags)?;
            show(
                client,
                Method::PUT,
                &format!("/20160918/dynamicGroups/{dynamic_group_id}"),
                &[],
                Some(Value::Object(body)),
                if_match.as_deref(),
            )
            .await
        }
        DynamicGroupCommand::Delete {
            dynamic_group_id,
            deleting,
        } => {
            confirm(&deleting)?;
            show(
                client,
                Method::DELETE,
                &format!("/20160918/dynamicGroups/{dynamic_group_id}"),
                &[],
                None,
                deleting.if_match.as_deref(),
            )
            .await
        }
    }
}

async fn run_policy(
    client: &Client,
    command: PolicyCommand,
    tenancy: String,
) -> anyhow::Result<i32> {
    match command {
        PolicyCommand::Create {
            compartment_id,
            name,
            description,
            statements,
            version_date,
            tags,
        } => {
            let mut body = Map::new();
            body.insert("compartmentId".into(), json!(compartment_id));
            body.insert("name".into(), json!(name));
            body.insert("description".into(), json!(description));
            body.insert("statements".into(), json_arg(&statements, "statements")?);
            put(&mut body, "versionDate", &version_date);
            put_tags(&mut body, &tags)?;
            show(
                client,
                Method::POST,
                "/20160918/policies",
                &[],
                Some(Value::Object(body)),
                None,
            )
            .await
        }
        PolicyCommand::Get { policy_id } => {
            show(
                client,
                Method::GET,
                &format!("/20160918/policies/{policy_id}"),
                &[],
                None,
                None,
            )
            .await
        }
        PolicyCommand::List {
            compartment_id,
            paging,
        } => {
            let query = vec![("compartmentId", compartment_id.unwrap_or(tenancy))];
            list(client, "/20160918/policies", query, &paging).await
        }
        PolicyCommand::Update {
            policy_id,
            description,
            statements,
            version_date,
            tags,
            if_match,
        } => {
            let mut body = Map::new();
            put(&mut body, "description", &description);
            if let Some(s) = statements {
                body.insert("statements".into(), json_arg(&s, "statements")?);
            }
            put(&mut body, "versionDate", &version_date);
            put_tags(&mut body, &tags)?;
            show(
                client,
                Method::PUT,
                &format!("/20160918/policies/{policy_id}"),
                &[],
                Some(Value::Object(body)),
                if_match.as_deref(),
            )
            .await
        }
        PolicyCommand::Delete {
            policy_id,
            deleting,
        } => {
            confirm(&deleting)?;
            show(
                client,
                Method::DELETE,
                &format!("/20160918/policies/{policy_id}"),
                &[],
                None,
                deleting.if_match.as_deref(),
            )
            .await
        }
        PolicyCommand::Simulate(args) => {
            let body = simulation_body(args)?;
            show(
                client,
                Method::POST,
                "/20160918/policies/actions/simulate",
                &[],
                Some(body),
                None,
            )
            .await
        }
    }
}

fn simulation_body(args: SimulateArgs) -> anyhow::Result<Value> {
    let principal = match (&args.user, &args.resource_type, &args.service) {
        (Some(user), None, None) => json!({"kind": "USER", "user": user}),
        (None, Some(resource_type), None) => {
            let attributes: Map<String, Value> = args
                .principal_attribute
                .iter()
                .map(|a| key_value(a, "principal-attribute").map(|(k, v)| (k, Value::String(v))))
                .collect::<anyhow::Result<_>>()?;
            let tags: Map<String, Value> = args
                .principal_tag
                .iter()
                .map(|a| key_value(a, "principal-tag").map(|(k, v)| (k, Value::String(v))))
                .collect::<anyhow::Result<_>>()?;
            json!({
                "kind": "RESOURCE",
                "resourceType": resource_type,
                "id": args.resource_id,
                "compartmentId": args.resource_compartment_id,
                "attributes": attributes,
                "tags": tags,
            })
        }
        (None, None, Some(service)) => json!({"kind": "SERVICE", "name": service}),
        _ => bail!("give one of --user, --resource-type or --service"),
    };
    let mut body = Map::new();
    body.insert("principal".into(), principal);
    put(&mut body, "operation", &args.operation);
    if !args.permission.is_empty() {
        body.insert("permissions".into(), json!(args.permission));
    }
    if args.operation.is_none() && args.permission.is_empty() {
        bail!("give --operation or at least one --permission");
    }
    put(&mut body, "compartmentId", &args.compartment_id);
    let variables: Map<String, Value> = args
        .variable
        .iter()
        .map(|a| key_value(a, "variable").map(|(k, v)| (k, Value::String(v))))
        .collect::<anyhow::Result<_>>()?;
    body.insert("variables".into(), Value::Object(variables));
    put(&mut body, "time", &args.time);
    if let Some(s) = &args.statements {
        body.insert("candidateStatements".into(), json_arg(s, "statements")?);
    }
    put(
        &mut body,
        "candidateCompartmentId",
        &args.statements_compartment_id,
    );
    Ok(Value::Object(body))
}
