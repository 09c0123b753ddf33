//! Groups, user-group memberships and dynamic groups. Groups and dynamic groups share one
//! namespace of names and live in the tenancy.

use portcullis_iam::{MatchingRule, Ocid, Principal, Variables};
use portcullis_store::Txn;

use crate::listing::{self, ListQuery, Listing};
use crate::model::{
    AddUserToGroupDetails, CreateDynamicGroupDetails, CreateGroupDetails, DynamicGroup, Group,
    LifecycleState, UpdateDynamicGroupDetails, UpdateGroupDetails, User, UserGroupMembership, now,
};
use crate::{
    IdentityError, IdentityResult, IdentityService, Versioned, check_description, check_if_match,
    check_name, commit_or, decode, encode, etag, keys, new_generation, read_json, require_ocid,
};

fn group_target(group: &Group) -> Variables {
    Variables::new()
        .with("target.group.id", group.id.as_str())
        .with("target.group.name", group.name.as_str())
}

fn dynamic_target(group: &DynamicGroup) -> Variables {
    Variables::new()
        .with("target.dynamic-group.id", group.id.as_str())
        .with("target.dynamic-group.name", group.name.as_str())
}

fn parse_rule(rule: Option<&str>) -> IdentityResult<String> {
    let rule =
        rule.ok_or_else(|| IdentityError::MissingParameter("`matchingRule` is required".into()))?;
    MatchingRule::parse(rule)
        .map_err(|e| IdentityError::InvalidParameter(format!("`matchingRule`: {e}")))?;
    Ok(rule.to_owned())
}

impl IdentityService {
    async fn load_group(&self, id: &str) -> IdentityResult<(Group, u64)> {
        read_json::<Group>(&*self.store, &keys::group(id))
            .await?
            .ok_or(IdentityError::NotAuthorizedOrNotFound)
    }

    async fn load_dynamic_group(&self, id: &str) -> IdentityResult<(DynamicGroup, u64)> {
        read_json::<DynamicGroup>(&*self.store, &keys::dynamic_group(id))
            .await?
            .ok_or(IdentityError::NotAuthorizedOrNotFound)
    }

    /// `CreateGroup`
    pub async fn create_group(
        &self,
        caller: &Principal,
        details: CreateGroupDetails,
    ) -> IdentityResult<Versioned<Group>> {
        self.require_tenancy(details.compartment_id.as_deref(), "groups")?;
        let name = check_name(details.name.as_deref(), "group", &['@', '+'])?;
        let description = check_description(details.description.as_deref(), "group")?;
        self.authorize(
            caller,
            "CreateGroup",
            &self.tenancy.id,
            &Variables::new().with("target.group.name", name.as_str()),
        )?;
        let group = Group {
            id: Ocid::generate("group", None).into_string(),
            compartment_id: self.tenancy.id.clone(),
            name: name.clone(),
            description,
            time_created: now(),
            lifecycle_state: LifecycleState::Active,
            freeform_tags: details.freeform_tags.unwrap_or_default(),
            defined_tags: details.defined_tags.unwrap_or_default(),
        };
        let txn = Txn::new()
            .require_absent(keys::group_name(&name))
            .put(keys::group_name(&name), group.id.clone().into_bytes())
            .put(keys::group(&group.id), encode(&group)?);
        let revision = commit_or(&*self.store, txn, || {
            IdentityError::AlreadyExists(format!(
                "a group or dynamic group named `{name}` already exists"
            ))
        })
        .await?;
        self.reload().await?;
        Ok(Versioned {
            value: group,
            etag: etag(revision),
        })
    }

    /// `GetGroup`
    pub async fn get_group(
        &self,
        caller: &Principal,
        id: &str,
    ) -> IdentityResult<Versioned<Group>> {
        let (group, revision) = self.load_group(id).await?;
        self.authorize(caller, "GetGroup", &self.tenancy.id, &group_target(&group))?;
        Ok(Versioned {
            value: group,
            etag: etag(revision),
        })
    }

    /// `ListGroups`
    pub async fn list_groups(
        &self,
        caller: &Principal,
        compartment_id: &str,
        query: &ListQuery,
    ) -> IdentityResult<Listing<Group>> {
        self.require_tenancy(Some(compartment_id), "groups")?;
        self.authorize(caller, "ListGroups", &self.tenancy.id, &Variables::new())?;
        let groups = self
            .store
            .list_all(keys::GROUPS)
            .await?
            .iter()
            .map(|e| decode(&e.value))
            .collect::<IdentityResult<Vec<Group>>>()?;
        listing::page(groups, query)
    }

    /// `UpdateGroup`
    pub async fn update_group(
        &self,
        caller: &Principal,
        id: &str,
        details: UpdateGroupDetails,
        if_match: Option<&str>,
    ) -> IdentityResult<Versioned<Group>> {
        let (mut group, revision) = self.load_group(id).await?;
        self.authorize(
            caller,
            "UpdateGroup",
            &self.tenancy.id,
            &group_target(&group),
        )?;
        check_if_match(if_match, revision)?;
        if let Some(d) = details.description.as_deref() {
            group.description = check_description(Some(d), "group")?;
        }
        if let Some(tags) = details.freeform_tags {
            group.freeform_tags = tags;
        }
        if let Some(tags) = details.defined_tags {
            group.defined_tags = tags;
        }
        let txn = Txn::new()
            .require_revision(keys::group(id), revision)
            .put(keys::group(id), encode(&group)?);
        let revision = commit_or(&*self.store, txn, || IdentityError::EtagMismatch).await?;
        Ok(Versioned {
            value: group,
            etag: etag(revision),
        })
    }

    /// `DeleteGroup`: the group must have no members
    pub async fn delete_group(
        &self,
        caller: &Principal,
        id: &str,
        if_match: Option<&str>,
    ) -> IdentityResult<()> {
        let (group, revision) = self.load_group(id).await?;
        self.authorize(
            caller,
            "DeleteGroup",
            &self.tenancy.id,
            &group_target(&group),
        )?;
        check_if_match(if_match, revision)?;
        let generation = self.store.get(&keys::generation(id)).await?;
        if !self
            .store
            .list(&keys::group_member_prefix(id), None, 1)
            .await?
            .entries
            .is_empty()
        {
            return Err(IdentityError::IncorrectState(
                "the group still has members; remove them first".into(),
            ));
        }
        let txn = Txn::new()
            .require_revision(keys::group(id), revision)
            .delete(keys::group(id))
            .delete(keys::group_name(&group.name));
        let txn = match &generation {
            Some(g) => txn
                .require_revision(keys::generation(id), g.mod_revision)
                .delete(keys::generation(id)),
            None => txn.require_absent(keys::generation(id)),
        };
        commit_or(&*self.store, txn, || IdentityError::Conflict).await?;
        self.reload().await?;
        Ok(())
    }

    /// `AddUserToGroup`
    pub async fn add_user_to_group(
        &self,
        caller: &Principal,
        details: AddUserToGroupDetails,
    ) -> IdentityResult<Versioned<UserGroupMembership>> {
        let user_id = require_ocid(details.user_id.as_deref(), "userId")?;
        let group_id = require_ocid(details.group_id.as_deref(), "groupId")?;
        let (user, user_revision) = read_json::<User>(&*self.store, &keys::user(&user_id))
            .await?
            .ok_or(IdentityError::NotAuthorizedOrNotFound)?;
        let (group, group_revision) = self.load_group(&group_id).await?;
        let variables = group_target(&group)
            .with("target.user.id", user.id.as_str())
            .with("target.user.name", user.name.as_str());
        self.authorize(caller, "AddUserToGroup", &self.tenancy.id, &variables)?;
        let membership = UserGroupMembership {
            id: Ocid::generate("groupmembership", None).into_string(),
            compartment_id: self.tenancy.id.clone(),
            group_id: group_id.clone(),
            user_id: user_id.clone(),
            time_created: now(),
            lifecycle_state: LifecycleState::Active,
        };
        let txn = Txn::new()
            .require_revision(keys::user(&user_id), user_revision)
            .require_revision(keys::group(&group_id), group_revision)
            .require_absent(keys::member(&user_id, &group_id))
            .put(
                keys::member(&user_id, &group_id),
                membership.id.clone().into_bytes(),
            )
            .put(
                keys::group_member(&group_id, &user_id),
                membership.id.clone().into_bytes(),
            )
            .put(keys::membership(&membership.id), encode(&membership)?)
            .put(keys::generation(&user_id), new_generation())
            .put(keys::generation(&group_id), new_generation());
        let revision = commit_or(&*self.store, txn, || {
            IdentityError::AlreadyExists(format!(
                "user `{}` is already a member of group `{}`",
                user.name, group.name
            ))
        })
        .await?;
        Ok(Versioned {
            value: membership,
            etag: etag(revision),
        })
    }

    /// `GetUserGroupMembership`
    pub async fn get_membership(
        &self,
        caller: &Principal,
        id: &str,
    ) -> IdentityResult<Versioned<UserGroupMembership>> {
        let (membership, revision) =
            read_json::<UserGroupMembership>(&*self.store, &keys::membership(id))
                .await?
                .ok_or(IdentityError::NotAuthorizedOrNotFound)?;
        self.authorize(
            caller,
            "GetUserGroupMembership",
            &self.tenancy.id,
            &Variables::new()
                .with("target.group.id", membership.group_id.as_str())
                .with("target.user.id", membership.user_id.as_str()),
        )?;
        Ok(Versioned {
            value: membership,
            etag: etag(revision),
        })
    }

    /// `ListUserGroupMemberships`, by user, by group, or both
    pub async fn list_memberships(
        &self,
        caller: &Principal,
        compartment_id: &str,
        user_id: Option<&str>,
        group_id: Option<&str>,
        query: &ListQuery,
    ) -> IdentityResult<Listing<UserGroupMembership>> {
        self.require_tenancy(Some(compartment_id), "group memberships")?;
        let mut variables = Variables::new();
        if let Some(u) = user_id {
            variables.set("target.user.id", u);
        }
        if let Some(g) = group_id {
            variables.set("target.group.id", g);
        }
        // Users may list their own memberships.
        let own = matches!(caller, Principal::User(u) if Some(u.id.as_str()) == user_id);
        if !own {
            self.authorize(
                caller,
                "ListUserGroupMemberships",
                &self.tenancy.id,
                &variables,
            )?;
        }
        let items = self
            .store
            .list_all(keys::MEMBERSHIPS)
            .await?
            .iter()
            .map(|e| decode::<UserGroupMembership>(&e.value))
            .filter(|m| {
                m.as_ref().map_or(true, |m| {
                    user_id.is_none_or(|u| m.user_id == u)
                        && group_id.is_none_or(|g| m.group_id == g)
                })
            })
            .collect::<IdentityResult<Vec<_>>>()?;
        listing::page(items, query)
    }

    /// `RemoveUserFromGroup`
    pub async fn remove_membership(&self, caller: &Principal, id: &str) -> IdentityResult<()> {
        let (membership, revision) =
            read_json::<UserGroupMembership>(&*self.store, &keys::membership(id))
                .await?
                .ok_or(IdentityError::NotAuthorizedOrNotFound)?;
        self.authorize(
            caller,
            "RemoveUserFromGroup",
            &self.tenancy.id,
            &Variables::new()
                .with("target.group.id", membership.group_id.as_str())
                .with("target.user.id", membership.user_id.as_str()),
        )?;
        let txn = Txn::new()
            .require_revision(keys::membership(id), revision)
            .delete(keys::membership(id))
            .delete(keys::member(&membership.user_id, &membership.group_id))
            .delete(keys::group_member(
                &membership.group_id,
                &membership.user_id,
            ));
        commit_or(&*self.store, txn, || IdentityError::Conflict).await?;
        Ok(())
    }

    /// `CreateDynamicGroup`: the matching rule is validated on write
    pub async fn create_dynamic_group(
        &self,
        caller: &Principal,
        details: CreateDynamicGroupDetails,
    ) -> IdentityResult<Versioned<DynamicGroup>> {
        self.require_tenancy(details.compartment_id.as_deref(), "dynamic groups")?;
        let name = check_name(details.name.as_deref(), "dynamic group", &[])?;
        let description = check_description(details.description.as_deref(), "dynamic group")?;
        let matching_rule = parse_rule(details.matching_rule.as_deref())?;
        self.authorize(
            caller,
            "CreateDynamicGroup",
            &self.tenancy.id,
            &Variables::new(),
        )?;
        let group = DynamicGroup {
            id: Ocid::generate("dynamicgroup", None).into_string(),
            compartment_id: self.tenancy.id.clone(),
            name: name.clone(),
            description,
            matching_rule,
            time_created: now(),
            lifecycle_state: LifecycleState::Active,
            freeform_tags: details.freeform_tags.unwrap_or_default(),
            defined_tags: details.defined_tags.unwrap_or_default(),
        };
        let txn = Txn::new()
            .require_absent(keys::group_name(&name))
            .put(keys::group_name(&name), group.id.clone().into_bytes())
            .put(keys::dynamic_group(&group.id), encode(&group)?);
        let revision = commit_or(&*self.store, txn, || {
            IdentityError::AlreadyExists(format!(
                "a group or dynamic group named `{name}` already exists"
            ))
        })
        .await?;
        self.reload().await?;
        Ok(Versioned {
            value: group,
            etag: etag(revision),
        })
    }

    /// `GetDynamicGroup`
    pub async fn get_dynamic_group(
        &self,
        caller: &Principal,
        id: &str,
    ) -> IdentityResult<Versioned<DynamicGroup>> {
        let (group, revision) = self.load_dynamic_group(id).await?;
        self.authorize(
            caller,
            "GetDynamicGroup",
            &self.tenancy.id,
            &dynamic_target(&group),
        )?;
        Ok(Versioned {
            value: group,
            etag: etag(revision),
        })
    }

    /// `ListDynamicGroups`
    pub async fn list_dynamic_groups(
        &self,
        caller: &Principal,
        compartment_id: &str,
        query: &ListQuery,
    ) -> IdentityResult<Listing<DynamicGroup>> {
        self.require_tenancy(Some(compartment_id), "dynamic groups")?;
        self.authorize(
            caller,
            "ListDynamicGroups",
            &self.tenancy.id,
            &Variables::new(),
        )?;
        let groups = self
            .store
            .list_all(keys::DYNAMIC_GROUPS)
            .await?
            .iter()
            .map(|e| decode(&e.value))
            .collect::<IdentityResult<Vec<DynamicGroup>>>()?;
        listing::page(groups, query)
    }

    /// `UpdateDynamicGroup`
    pub async fn update_dynamic_group(
        &self,
        caller: &Principal,
        id: &str,
        details: UpdateDynamicGroupDetails,
        if_match: Option<&str>,
    ) -> IdentityResult<Versioned<DynamicGroup>> {
        let (mut group, revision) = self.load_dynamic_group(id).await?;
        self.authorize(
            caller,
            "UpdateDynamicGroup",
            &self.tenancy.id,
            &dynamic_target(&group),
        )?;
        check_if_match(if_match, revision)?;
        if let Some(d) = details.description.as_deref() {
            group.description = check_description(Some(d), "dynamic group")?;
        }
        if details.matching_rule.is_some() {
            group.matching_rule = parse_rule(details.matching_rule.as_deref())?;
        }
        if let Some(tags) = details.freeform_tags {
            group.freeform_tags = tags;
        }
        if let Some(tags) = details.defined_tags {
            group.defined_tags = tags;
        }
        let txn = Txn::new()
            .require_revision(keys::dynamic_group(id), revision)
            .put(keys::dynamic_group(id), encode(&group)?);
        let revision = commit_or(&*self.store, txn, || IdentityError::EtagMismatch).await?;
        self.reload().await?;
        Ok(Versioned {
            value: group,
            etag: etag(revision),
        })
    }

    /// `DeleteDynamicGroup`
    pub async fn delete_dynamic_group(
        &self,
        caller: &Principal,
        id: &str,
        if_match: Option<&str>,
    ) -> IdentityResult<()> {
        let (group, revision) = self.load_dynamic_group(id).await?;
        self.authorize(
            caller,
            "DeleteDynamicGroup",
            &self.tenancy.id,
            &dynamic_target(&group),
        )?;
        check_if_match(if_match, revision)?;
        let txn = Txn::new()
            .require_revision(keys::dynamic_group(id), revision)
            .delete(keys::dynamic_group(id))
            .delete(keys::group_name(&group.name));
        commit_or(&*self.store, txn, || IdentityError::Conflict).await?;
        self.reload().await?;
        Ok(())
    }
}
