//! Compartments: nested up to six levels, names unique among siblings, deletable only when
//! empty. A compartment "lives in" its parent, so operations on it are authorized there.

use portcullis_iam::{Ocid, Principal, Variables};
use portcullis_store::Txn;

use crate::listing::{self, ListQuery, Listing};
use crate::model::{
    Compartment, CreateCompartmentDetails, LifecycleState, UpdateCompartmentDetails, now,
};
use crate::{
    IdentityError, IdentityResult, IdentityService, Versioned, check_description, check_if_match,
    check_name, commit_or, encode, etag, keys, read_json, require_ocid,
};

/// OCI allows six levels of compartments below the tenancy
const MAX_DEPTH: usize = 6;

fn target(id: &str, name: &str) -> Variables {
    Variables::new()
        .with("target.compartment.id", id)
        .with("target.compartment.name", name)
}

impl IdentityService {
    async fn load_compartment(&self, id: &str) -> IdentityResult<(Compartment, u64)> {
        read_json::<Compartment>(&*self.store, &keys::compartment(id))
            .await?
            .ok_or(IdentityError::NotAuthorizedOrNotFound)
    }

    /// `CreateCompartment`
    pub async fn create_compartment(
        &self,
        caller: &Principal,
        details: CreateCompartmentDetails,
    ) -> IdentityResult<Versioned<Compartment>> {
        let parent = require_ocid(details.compartment_id.as_deref(), "compartmentId")?;
        let name = check_name(details.name.as_deref(), "compartment", &[])?;
        let description = check_description(details.description.as_deref(), "compartment")?;
        self.authorize(caller, "CreateCompartment", &parent, &Variables::new())?;
        let parent_revision = self
            .active_compartment(&parent)
            .await?
            .ok_or(IdentityError::NotAuthorizedOrNotFound)?;
        if self.authorizer().directory().ancestors(&parent).len() > MAX_DEPTH {
            return Err(IdentityError::InvalidParameter(format!(
                "compartments may be nested at most {MAX_DEPTH} levels deep"
            )));
        }
        let compartment = Compartment {
            id: Ocid::generate("compartment", None).into_string(),
            compartment_id: parent.clone(),
            name: name.clone(),
            description,
            time_created: now(),
            lifecycle_state: LifecycleState::Active,
            is_accessible: true,
            freeform_tags: details.freeform_tags.unwrap_or_default(),
            defined_tags: details.defined_tags.unwrap_or_default(),
        };
        let name_key = keys::compartment_name(&parent, &name);
        let txn = Txn::new()
            .require_absent(&name_key)
            .put(name_key, compartment.id.clone().into_bytes())
            .put(keys::compartment(&compartment.id), encode(&compartment)?);
        let txn = self.attach_to_compartment(
            txn,
            &parent,
            parent_revision,
            "compartment",
            &compartment.id,
        );
        let revision = commit_or(&*self.store, txn, || {
            IdentityError::AlreadyExists(format!(
                "a compartment named `{name}` already exists in that compartment"
            ))
        })
        .await?;
        self.reload().await?;
        Ok(Versioned {
            value: compartment,
            etag: etag(revision),
        })
    }

    /// `GetCompartment`
    pub async fn get_compartment(
        &self,
        caller: &Principal,
        id: &str,
    ) -> IdentityResult<Versioned<Compartment>> {
        if id == self.tenancy.id {
            self.authorize(caller, "GetCompartment", id, &Variables::new())?;
            return Ok(Versioned {
                value: self.tenancy_as_compartment(),
                etag: etag(0),
            });
        }
        let (compartment, revision) = self.load_compartment(id).await?;
        self.authorize(
            caller,
            "GetCompartment",
            &compartment.compartment_id,
            &target(&compartment.id, &compartment.name),
        )?;
        Ok(Versioned {
            value: compartment,
            etag: etag(revision),
        })
    }

    fn tenancy_as_compartment(&self) -> Compartment {
        Compartment {
            id: self.tenancy.id.clone(),
            compartment_id: self.tenancy.id.clone(),
            name: self.tenancy.name.clone(),
            description: self.tenancy.description.clone(),
            time_created: String::new(),
            lifecycle_state: LifecycleState::Active,
            is_accessible: true,
            freeform_tags: self.tenancy.freeform_tags.clone(),
            defined_tags: self.tenancy.defined_tags.clone(),
        }
    }

    /// `ListCompartments`: the children of `compartment_id`, or with `in_subtree` (tenancy
    /// only, as in OCI) every compartment, keeping those the caller may inspect
    pub async fn list_compartments(
        &self,
        caller: &Principal,
        compartment_id: &str,
        in_subtree: bool,
        query: &ListQuery,
    ) -> IdentityResult<Listing<Compartment>> {
        if in_subtree && compartment_id != self.tenancy.id {
            return Err(IdentityError::InvalidParameter(
                "`compartmentIdInSubtree` may only be true when `compartmentId` is the tenancy"
                    .into(),
            ));
        }
        if self.active_compartment(compartment_id).await?.is_none() {
            return Err(IdentityError::NotAuthorizedOrNotFound);
        }
        self.authorize(
            caller,
            "ListCompartments",
            compartment_id,
            &Variables::new(),
        )?;
        let mut items = Vec::new();
        for entry in self.store.list_all(keys::COMPARTMENTS).await? {
            let c: Compartment = crate::decode(&entry.value)?;
            let wanted = if in_subtree {
                // Keep what the caller could list where it lives.
                self.authorize(
                    caller,
                    "ListCompartments",
                    &c.compartment_id,
                    &Variables::new(),
                )
                .is_ok()
            } else {
                c.compartment_id == compartment_id
            };
            // Deleted compartments show only when asked for by state, as OCI keeps them.
            let visible = c.lifecycle_state != LifecycleState::Deleted
                || query.lifecycle_state == Some(LifecycleState::Deleted);
            if wanted && visible {
                items.push(c);
            }
        }
        listing::page(items, query)
    }

    /// `UpdateCompartment`: description, name (unique among siblings) and tags
    pub async fn update_compartment(
        &self,
        caller: &Principal,
        id: &str,
        details: UpdateCompartmentDetails,
        if_match: Option<&str>,
    ) -> IdentityResult<Versioned<Compartment>> {
        let (mut compartment, revision) = self.load_compartment(id).await?;
        self.authorize(
            caller,
            "UpdateCompartment",
            &compartment.compartment_id,
            &target(&compartment.id, &compartment.name),
        )?;
        if compartment.lifecycle_state != LifecycleState::Active {
            return Err(IdentityError::IncorrectState(
                "the compartment is not active".into(),
            ));
        }
        check_if_match(if_match, revision)?;
        let mut txn = Txn::new().require_revision(keys::compartment(id), revision);
        if let Some(name) = details.name.as_deref() {
            let name = check_name(Some(name), "compartment", &[])?;
            if name.to_lowercase() != compartment.name.to_lowercase() {
                let new_key = keys::compartment_name(&compartment.compartment_id, &name);
                txn = txn
                    .require_absent(&new_key)
                    .put(new_key, id.as_bytes().to_vec())
                    .delete(keys::compartment_name(
                        &compartment.compartment_id,
                        &compartment.name,
                    ));
            }
            compartment.name = name;
        }
        if let Some(description) = details.description.as_deref() {
            compartment.description = check_description(Some(description), "compartment")?;
        }
        if let Some(tags) = details.freeform_tags {
            compartment.freeform_tags = tags;
        }
        if let Some(tags) = details.defined_tags {
            compartment.defined_tags = tags;
        }
        let txn = txn.put(keys::compartment(id), encode(&compartment)?);
        let revision = commit_or(&*self.store, txn, || {
            if if_match.is_some() {
                IdentityError::EtagMismatch
            } else {
                IdentityError::AlreadyExists(
                    "the compartment changed, or the new name is taken".into(),
                )
            }
        })
        .await?;
        self.reload().await?;
        Ok(Versioned {
            value: compartment,
            etag: etag(revision),
        })
    }

    /// `DeleteCompartment`: only when nothing lives in it; it stays visible as `DELETED`
    pub async fn delete_compartment(
        &self,
        caller: &Principal,
        id: &str,
        if_match: Option<&str>,
    ) -> IdentityResult<()> {
        if id == self.tenancy.id {
            return Err(IdentityError::IncorrectState(
                "the tenancy (root compartment) cannot be deleted".into(),
            ));
        }
        let (mut compartment, revision) = self.load_compartment(id).await?;
        self.authorize(
            caller,
            "DeleteCompartment",
            &compartment.compartment_id,
            &target(&compartment.id, &compartment.name),
        )?;
        if compartment.lifecycle_state != LifecycleState::Active {
            return Err(IdentityError::IncorrectState(
                "the compartment is already deleted".into(),
            ));
        }
        check_if_match(if_match, revision)?;
        let generation = self.store.get(&keys::generation(id)).await?;
        let children = self.store.list(&keys::child_prefix(id), None, 5).await?;
        if let Some(first) = children.entries.first() {
            let what: Vec<&str> = first.key.rsplitn(3, '/').collect();
            let (kind, child) = (
                what.get(1).copied().unwrap_or("resource"),
                what.first().copied().unwrap_or(""),
            );
            return Err(IdentityError::IncorrectState(format!(
                "the compartment is not empty: it still holds {kind} {child}{}",
                if children.more || children.entries.len() > 1 {
                    " and more"
                } else {
                    ""
                }
            )));
        }
        let mut txn = Txn::new().require_revision(keys::compartment(id), revision);
        txn = match &generation {
            Some(g) => txn.require_revision(keys::generation(id), g.mod_revision),
            None => txn.require_absent(keys::generation(id)),
        };
        compartment.lifecycle_state = LifecycleState::Deleted;
        let txn = txn
            .put(keys::compartment(id), encode(&compartment)?)
            .delete(keys::compartment_name(
                &compartment.compartment_id,
                &compartment.name,
            ));
        let txn = self.detach_from_compartment(txn, &compartment.compartment_id, "compartment", id);
        commit_or(&*self.store, txn, || IdentityError::Conflict).await?;
        self.reload().await?;
        Ok(())
    }
}
