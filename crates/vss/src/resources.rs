//! The API's operations: recipes, targets and results in OCI's shapes, each authorized
//! through the identity service's one gate, plus two Portcullis additions OCIR lacks: the
//! advisory database's status and per-repository allowlists.

use std::collections::{BTreeMap, BTreeSet};

use portcullis_iam::{Ocid, Principal, Variables};
use portcullis_identity::model::now;
use portcullis_identity::{IdentityError, decode, encode, parse_ocid};
use portcullis_osv::Severity;
use portcullis_scan::allowlist::Allowlist;
use portcullis_scanning::{
    ContainerScanRecipe, ContainerScanResult, ContainerScanResultSummary, ContainerScanTarget,
    ScanSettings, TargetRegistry,
};
use portcullis_store::Txn;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{ScanningService, VssResult, keys};

/// `CreateContainerScanRecipeDetails`
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateContainerScanRecipeDetails {
    /// Compartment (required)
    pub compartment_id: Option<String>,
    /// Name; one is made up when absent, as OCI does
    pub display_name: Option<String>,
    /// Settings (required)
    pub scan_settings: Option<ScanSettings>,
    /// How many already pushed images of each repository a new target scans at once
    pub image_count: Option<u32>,
    /// Free-form tags
    pub freeform_tags: Option<BTreeMap<String, String>>,
    /// Defined tags
    pub defined_tags: Option<BTreeMap<String, BTreeMap<String, Value>>>,
}

/// `UpdateContainerScanRecipeDetails`
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateContainerScanRecipeDetails {
    /// New name
    pub display_name: Option<String>,
    /// New settings
    pub scan_settings: Option<ScanSettings>,
    /// New initial image count
    pub image_count: Option<u32>,
    /// Free-form tags
    pub freeform_tags: Option<BTreeMap<String, String>>,
    /// Defined tags
    pub defined_tags: Option<BTreeMap<String, BTreeMap<String, Value>>>,
}

/// `CreateContainerScanTargetDetails`
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateContainerScanTargetDetails {
    /// Compartment of the target (required)
    pub compartment_id: Option<String>,
    /// Name
    pub display_name: Option<String>,
    /// Description
    pub description: Option<String>,
    /// What to scan (required)
    pub target_registry: Option<TargetRegistry>,
    /// The recipe (required)
    pub container_scan_recipe_id: Option<String>,
    /// Free-form tags
    pub freeform_tags: Option<BTreeMap<String, String>>,
    /// Defined tags
    pub defined_tags: Option<BTreeMap<String, BTreeMap<String, Value>>>,
}

/// `ListContainerScanResults`' filters
#[derive(Clone, Debug, Default)]
pub struct ResultFilter {
    /// Compartment (required)
    pub compartment_id: String,
    /// Only this repository
    pub repository: Option<String>,
    /// Only this image digest
    pub image: Option<String>,
    /// Only results whose highest severity is this
    pub highest_problem_severity: Option<Severity>,
    /// Only each image's newest result
    pub is_latest_only: bool,
    /// Only results started at or after this (RFC 3339)
    pub time_started_from: Option<String>,
    /// Only results started at or before this (RFC 3339)
    pub time_started_to: Option<String>,
    /// `timeStarted` (default), `problemCount`, `highestProblemSeverity`
    pub sort_by: Option<String>,
    /// `ASC` or `DESC` (default)
    pub sort_order: Option<String>,
}

fn missing(name: &str) -> IdentityError {
    IdentityError::MissingParameter(format!("`{name}` is required"))
}

fn invalid(message: impl Into<String>) -> IdentityError {
    IdentityError::InvalidParameter(message.into())
}

const ACTIVE: &str = "ACTIVE";
const DELETED: &str = "DELETED";

fn default_name(kind: &str) -> String {
    format!("{kind}{}", now().replace([':', '-'], ""))
}

fn items<T: serde::Serialize>(list: &[T]) -> VssResult<Value> {
    Ok(json!({ "items": serde_json::to_value(list).map_err(|e| invalid(e.to_string()))? }))
}

impl ScanningService {
    // ----- recipes --------------------------------------------------------------------

    /// `CreateContainerScanRecipe`
    pub async fn create_recipe(
        &self,
        caller: &Principal,
        details: CreateContainerScanRecipeDetails,
    ) -> VssResult<ContainerScanRecipe> {
        let compartment = parse_ocid(
            &details
                .compartment_id
                .ok_or_else(|| missing("compartmentId"))?,
            "compartmentId",
        )?;
        let settings = details
            .scan_settings
            .ok_or_else(|| missing("scanSettings"))?;
        self.identity.authorize(
            caller,
            "CreateContainerScanRecipe",
            &compartment,
            &Variables::new(),
        )?;
        self.identity
            .active_compartment(&compartment)
            .await?
            .ok_or(IdentityError::NotAuthorizedOrNotFound)?;
        let recipe = ContainerScanRecipe {
            id: Ocid::generate("vsscontainerscanrecipe", Some(self.identity.region()))
                .into_string(),
            display_name: details
                .display_name
                .unwrap_or_else(|| default_name("ContainerScanRecipe")),
            compartment_id: compartment,
            image_count: details.image_count,
            scan_settings: settings,
            lifecycle_state: ACTIVE.into(),
            time_created: now(),
            time_updated: None,
            freeform_tags: details.freeform_tags.unwrap_or_default(),
            defined_tags: details.defined_tags.unwrap_or_default(),
        };
        self.store()
            .create(&keys::recipe(&recipe.id), encode(&recipe)?)
            .await?;
        tracing::info!(target: "portcullis::audit", principal = %caller.describe(), recipe = %recipe.id, "container scan recipe created");
        Ok(recipe)
    }

    async fn recipe(&self, id: &str) -> VssResult<Option<(ContainerScanRecipe, u64)>> {
        match self.store().get(&keys::recipe(id)).await? {
            Some(entry) => Ok(Some((decode(&entry.value)?, entry.mod_revision))),
            None => Ok(None),
        }
    }

    /// `GetContainerScanRecipe`
    pub async fn get_recipe(&self, caller: &Principal, id: &str) -> VssResult<ContainerScanRecipe> {
        let (recipe, _) = self
            .recipe(id)
            .await?
            .ok_or(IdentityError::NotAuthorizedOrNotFound)?;
        self.identity.authorize(
            caller,
            "GetContainerScanRecipe",
            &recipe.compartment_id,
            &Variables::new(),
        )?;
        Ok(recipe)
    }

    /// `ListContainerScanRecipes`: `{"items": [...]}`
    pub async fn list_recipes(&self, caller: &Principal, compartment: &str) -> VssResult<Value> {
        self.identity.authorize(
            caller,
            "ListContainerScanRecipes",
            compartment,
            &Variables::new(),
        )?;
        let mut recipes: Vec<ContainerScanRecipe> = Vec::new();
        for entry in self.store().list_all(keys::RECIPES).await? {
            let recipe: ContainerScanRecipe = decode(&entry.value)?;
            if recipe.compartment_id == compartment && recipe.lifecycle_state != DELETED {
                recipes.push(recipe);
            }
        }
        recipes.sort_by(|a, b| b.time_created.cmp(&a.time_created));
        items(&recipes)
    }

    /// `UpdateContainerScanRecipe`
    pub async fn update_recipe(
        &self,
        caller: &Principal,
        id: &str,
        details: UpdateContainerScanRecipeDetails,
    ) -> VssResult<ContainerScanRecipe> {
        let (mut recipe, revision) = self
            .recipe(id)
            .await?
            .ok_or(IdentityError::NotAuthorizedOrNotFound)?;
        self.identity.authorize(
            caller,
            "UpdateContainerScanRecipe",
            &recipe.compartment_id,
            &Variables::new(),
        )?;
        if let Some(name) = details.display_name {
            recipe.display_name = name;
        }
        if let Some(settings) = details.scan_settings {
            recipe.scan_settings = settings;
        }
        if details.image_count.is_some() {
            recipe.image_count = details.image_count;
        }
        if let Some(tags) = details.freeform_tags {
            recipe.freeform_tags = tags;
        }
        if let Some(tags) = details.defined_tags {
            recipe.defined_tags = tags;
        }
        recipe.time_updated = Some(now());
        portcullis_identity::commit_or(
            self.store(),
            Txn::new()
                .require_revision(keys::recipe(id), revision)
                .put(keys::recipe(id), encode(&recipe)?),
            || IdentityError::Conflict,
        )
        .await?;
        Ok(recipe)
    }

    /// `DeleteContainerScanRecipe`: refused while an active target uses it
    pub async fn delete_recipe(&self, caller: &Principal, id: &str) -> VssResult<()> {
        let (recipe, revision) = self
            .recipe(id)
            .await?
            .ok_or(IdentityError::NotAuthorizedOrNotFound)?;
        self.identity.authorize(
            caller,
            "DeleteContainerScanRecipe",
            &recipe.compartment_id,
            &Variables::new(),
        )?;
        if self
            .active_targets()
            .await?
            .iter()
            .any(|t| t.container_scan_recipe_id == id)
        {
            return Err(IdentityError::IncorrectState(format!(
                "recipe {id} is used by a container scan target; delete the target first"
            ))
            .into());
        }
        portcullis_identity::commit_or(
            self.store(),
            Txn::new()
                .require_revision(keys::recipe(id), revision)
                .delete(keys::recipe(id)),
            || IdentityError::Conflict,
        )
        .await?;
        tracing::info!(target: "portcullis::audit", principal = %caller.describe(), recipe = %id, "container scan recipe deleted");
        Ok(())
    }

    // ----- targets --------------------------------------------------------------------

    /// `CreateContainerScanTarget`: "add an image scanner". Scans the most recently pushed
    /// images of every repository it covers at once (four, or the recipe's `imageCount`).
    pub async fn create_target(
        &self,
        caller: &Principal,
        details: CreateContainerScanTargetDetails,
    ) -> VssResult<ContainerScanTarget> {
        let compartment = parse_ocid(
            &details
                .compartment_id
                .ok_or_else(|| missing("compartmentId"))?,
            "compartmentId",
        )?;
        let registry = details
            .target_registry
            .ok_or_else(|| missing("targetRegistry"))?;
        if registry.kind != "OCIR" {
            return Err(invalid(format!(
                "`targetRegistry.type` must be OCIR, not {}",
                registry.kind
            ))
            .into());
        }
        let registry_compartment =
            parse_ocid(&registry.compartment_id, "targetRegistry.compartmentId")?;
        let recipe_id = parse_ocid(
            &details
                .container_scan_recipe_id
                .ok_or_else(|| missing("containerScanRecipeId"))?,
            "containerScanRecipeId",
        )?;
        self.identity.authorize(
            caller,
            "CreateContainerScanTarget",
            &compartment,
            &Variables::new(),
        )?;
        // Results land in the target's compartment: the caller must already be able to see
        // the repositories they would describe.
        self.identity.authorize(
            caller,
            "ListContainerRepositories",
            &registry_compartment,
            &Variables::new(),
        )?;
        let (recipe, _) = self
            .recipe(&recipe_id)
            .await?
            .ok_or(IdentityError::NotAuthorizedOrNotFound)?;
        // Reading the recipe is part of the request: a caller may not name one it cannot see.
        self.identity.authorize(
            caller,
            "GetContainerScanRecipe",
            &recipe.compartment_id,
            &Variables::new(),
        )?;
        for (id, label) in [
            (&compartment, "compartmentId"),
            (&registry_compartment, "targetRegistry.compartmentId"),
        ] {
            if self.identity.active_compartment(id).await?.is_none() {
                return Err(invalid(format!("`{label}`: no such compartment")).into());
            }
        }
        let target = ContainerScanTarget {
            id: Ocid::generate("vsscontainerscantarget", Some(self.identity.region()))
                .into_string(),
            display_name: details
                .display_name
                .unwrap_or_else(|| default_name("ContainerScanTarget")),
            description: details.description,
            compartment_id: compartment,
            target_registry: TargetRegistry {
                kind: registry.kind,
                compartment_id: registry_compartment,
                repositories: registry.repositories,
                url: Some(
                    registry
                        .url
                        .unwrap_or_else(|| self.settings.registry_url.clone()),
                ),
            },
            container_scan_recipe_id: recipe_id,
            lifecycle_state: ACTIVE.into(),
            time_created: now(),
            time_updated: None,
            freeform_tags: details.freeform_tags.unwrap_or_default(),
            defined_tags: details.defined_tags.unwrap_or_default(),
        };
        self.store()
            .create(&keys::target(&target.id), encode(&target)?)
            .await?;
        tracing::info!(target: "portcullis::audit", principal = %caller.describe(), target = %target.id, "container scan target created");
        let count = recipe
            .image_count
            .map_or(portcullis_scanning::INITIAL_IMAGES, |n| {
                usize::try_from(n).unwrap_or(usize::MAX)
            });
        if recipe.scan_settings.scan_level != portcullis_scanning::ScanLevel::None {
            self.queue_initial_images(&target, count).await?;
        }
        Ok(target)
    }

    pub(crate) async fn target(&self, id: &str) -> VssResult<Option<(ContainerScanTarget, u64)>> {
        match self.store().get(&keys::target(id)).await? {
            Some(entry) => Ok(Some((decode(&entry.value)?, entry.mod_revision))),
            None => Ok(None),
        }
    }

    pub(crate) async fn active_targets(&self) -> VssResult<Vec<ContainerScanTarget>> {
        let mut targets = Vec::new();
        for entry in self.store().list_all(keys::TARGETS).await? {
            let target: ContainerScanTarget = decode(&entry.value)?;
            if target.lifecycle_state == ACTIVE {
                targets.push(target);
            }
        }
        Ok(targets)
    }

    /// `GetContainerScanTarget`
    pub async fn get_target(&self, caller: &Principal, id: &str) -> VssResult<ContainerScanTarget> {
        let (target, _) = self
            .target(id)
            .await?
            .ok_or(IdentityError::NotAuthorizedOrNotFound)?;
        self.identity.authorize(
            caller,
            "GetContainerScanTarget",
            &target.compartment_id,
            &Variables::new(),
        )?;
        Ok(target)
    }

    /// `ListContainerScanTargets`: `{"items": [...]}`, deleted ones included as OCI lists them
    pub async fn list_targets(&self, caller: &Principal, compartment: &str) -> VssResult<Value> {
        self.identity.authorize(
            caller,
            "ListContainerScanTargets",
            compartment,
            &Variables::new(),
        )?;
        let mut targets: Vec<ContainerScanTarget> = Vec::new();
        for entry in self.store().list_all(keys::TARGETS).await? {
            let target: ContainerScanTarget = decode(&entry.value)?;
            if target.compartment_id == compartment {
                targets.push(target);
            }
        }
        targets.sort_by(|a, b| b.time_created.cmp(&a.time_created));
        items(&targets)
    }

    /// `DeleteContainerScanTarget`: "remove the scanner". Scanning stops (queued work for
    /// it is dropped); its results stay for their 13 months.
    pub async fn delete_target(&self, caller: &Principal, id: &str) -> VssResult<()> {
        let (mut target, revision) = self
            .target(id)
            .await?
            .ok_or(IdentityError::NotAuthorizedOrNotFound)?;
        self.identity.authorize(
            caller,
            "DeleteContainerScanTarget",
            &target.compartment_id,
            &Variables::new(),
        )?;
        if target.lifecycle_state == DELETED {
            return Err(IdentityError::NotAuthorizedOrNotFound.into());
        }
        target.lifecycle_state = DELETED.into();
        target.time_updated = Some(now());
        portcullis_identity::commit_or(
            self.store(),
            Txn::new()
                .require_revision(keys::target(id), revision)
                .put(keys::target(id), encode(&target)?),
            || IdentityError::Conflict,
        )
        .await?;
        tracing::info!(target: "portcullis::audit", principal = %caller.describe(), target = %id, "container scan target deleted");
        self.drop_queued_for(id).await?;
        Ok(())
    }

    // ----- results --------------------------------------------------------------------

    /// `ListContainerScanResults`: summaries, `{"items": [...]}`
    pub async fn list_results(
        &self,
        caller: &Principal,
        filter: &ResultFilter,
    ) -> VssResult<Value> {
        self.identity.authorize(
            caller,
            "ListContainerScanResults",
            &filter.compartment_id,
            &Variables::new(),
        )?;
        let latest: Option<BTreeSet<String>> = if filter.is_latest_only {
            let mut ids = BTreeSet::new();
            for entry in self.store().list_all(keys::LATEST).await? {
                ids.insert(String::from_utf8_lossy(&entry.value).into_owned());
            }
            Some(ids)
        } else {
            None
        };
        let bound = |text: &Option<String>, name: &str| -> VssResult<Option<jiff::Timestamp>> {
            text.as_deref()
                .map(|t| {
                    t.parse::<jiff::Timestamp>()
                        .map_err(|e| invalid(format!("`{name}`: {e}")).into())
                })
                .transpose()
        };
        let from = bound(&filter.time_started_from, "timeStartedGreaterThanOrEqualTo")?;
        let to = bound(&filter.time_started_to, "timeStartedLessThanOrEqualTo")?;
        let mut out: Vec<ContainerScanResultSummary> = Vec::new();
        for entry in self.store().list_all(keys::RESULTS).await? {
            let result: ContainerScanResult = decode(&entry.value)?;
            let in_window = match result.time_started.parse::<jiff::Timestamp>() {
                Ok(t) => from.is_none_or(|f| t >= f) && to.is_none_or(|u| t <= u),
                Err(_) => from.is_none() && to.is_none(),
            };
            let keep = in_window
                && result.compartment_id == filter.compartment_id
                && filter
                    .repository
                    .as_ref()
                    .is_none_or(|r| *r == result.repository)
                && filter.image.as_ref().is_none_or(|i| *i == result.image)
                && filter
                    .highest_problem_severity
                    .is_none_or(|s| s == result.highest_problem_severity)
                && latest.as_ref().is_none_or(|ids| ids.contains(&result.id));
            if keep {
                out.push(ContainerScanResultSummary::from(&result));
            }
        }
        match filter.sort_by.as_deref().unwrap_or("timeStarted") {
            "timeStarted" => out.sort_by(|a, b| a.time_started.cmp(&b.time_started)),
            "highestProblemSeverity" => {
                out.sort_by_key(|a| a.highest_problem_severity);
            }
            "problemCount" => out.sort_by_key(|a| a.problem_count),
            other => {
                return Err(invalid(format!(
                    "`sortBy` must be timeStarted, problemCount or highestProblemSeverity, not {other}"
                ))
                .into());
            }
        }
        match filter.sort_order.as_deref().unwrap_or("DESC") {
            "DESC" => out.reverse(),
            "ASC" => {}
            other => {
                return Err(
                    invalid(format!("`sortOrder` must be ASC or DESC, not {other}")).into(),
                );
            }
        }
        items(&out)
    }

    /// `GetContainerScanResult`: every problem
    pub async fn get_result(&self, caller: &Principal, id: &str) -> VssResult<ContainerScanResult> {
        let result: ContainerScanResult = match self.store().get(&keys::result(id)).await? {
            Some(entry) => decode(&entry.value)?,
            None => return Err(IdentityError::NotAuthorizedOrNotFound.into()),
        };
        self.identity.authorize(
            caller,
            "GetContainerScanResult",
            &result.compartment_id,
            &Variables::new(),
        )?;
        Ok(result)
    }

    // ----- Portcullis additions -------------------------------------------------------

    /// The advisory database's generation, age and counts per ecosystem: anyone who may
    /// list scan results in the tenancy may read it
    pub async fn database_status(
        &self,
        caller: &Principal,
    ) -> VssResult<portcullis_vulndb::Status> {
        self.identity.authorize(
            caller,
            "ListContainerScanResults",
            &self.identity.tenancy().id,
            &Variables::new(),
        )?;
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || db.status())
            .await
            .map_err(|e| crate::VssError::Task(e.to_string()))?
            .map_err(Into::into)
    }

    /// A repository's allowlist (empty when none was set); reading it needs read access to
    /// the repository
    pub async fn get_allowlist(
        &self,
        caller: &Principal,
        repository_id: &str,
    ) -> VssResult<Allowlist> {
        let repository = self.registry.get_repository(caller, repository_id).await?;
        self.allowlist(&repository.id).await
    }

    /// Replaces a repository's allowlist; needs the right to update the repository. Entries
    /// are checked (id, expiry, author and reason all present) before anything is stored.
    pub async fn put_allowlist(
        &self,
        caller: &Principal,
        repository_id: &str,
        allowlist: Allowlist,
    ) -> VssResult<Allowlist> {
        let repository = self.registry.get_repository(caller, repository_id).await?;
        self.identity.authorize(
            caller,
            "UpdateContainerRepository",
            &repository.compartment_id,
            &Variables::new().with("target.repo.name", repository.display_name.as_str()),
        )?;
        allowlist
            .validate()
            .map_err(|e| invalid(format!("allowlist: {e}")))?;
        self.store()
            .commit(Txn::new().put(keys::allowlist(&repository.id), encode(&allowlist)?))
            .await?;
        tracing::info!(target: "portcullis::audit", principal = %caller.describe(), repository = %repository.display_name, entries = allowlist.entries.len(), "scan allowlist replaced");
        Ok(allowlist)
    }

    /// The newest scan result of an image, whichever scanner made it; no authorization (the
    /// caller is admission, acting for a cluster it has already authorized)
    pub async fn latest_result(
        &self,
        repository: &str,
        digest: &str,
    ) -> VssResult<Option<ContainerScanResult>> {
        let Some(pointer) = self
            .store()
            .get(&keys::image_latest(repository, digest))
            .await?
        else {
            return Ok(None);
        };
        let id = String::from_utf8_lossy(&pointer.value).into_owned();
        match self.store().get(&keys::result(&id)).await? {
            Some(entry) => Ok(Some(decode(&entry.value)?)),
            None => Ok(None),
        }
    }

    /// A repository's allowlist, without authorization (for admission's vulnerability gate)
    pub async fn allowlist_of(&self, repository_id: &str) -> VssResult<Allowlist> {
        self.allowlist(repository_id).await
    }

    pub(crate) async fn allowlist(&self, repository_id: &str) -> VssResult<Allowlist> {
        match self.store().get(&keys::allowlist(repository_id)).await? {
            Some(entry) => Ok(decode(&entry.value)?),
            None => Ok(Allowlist::default()),
        }
    }
}
