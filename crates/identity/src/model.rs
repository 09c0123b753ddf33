//! Identity resources with OCI's JSON shapes (`/20160918/...`, camelCase field names).
//!
//! Request bodies reject unknown fields, so a typo in a client is a 400 rather than a silently
//! ignored setting. Response bodies carry every field the OCI SDK models read.

use std::collections::BTreeMap;

use portcullis_iam::Binding;
use serde::{Deserialize, Serialize};

/// Freeform tags: `{"key": "value"}`
pub type FreeformTags = BTreeMap<String, String>;

/// Defined tags: `{"namespace": {"key": value}}`
pub type DefinedTags = BTreeMap<String, BTreeMap<String, serde_json::Value>>;

/// `lifecycleState` of identity resources
#[derive(Clone, Copy, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LifecycleState {
    /// Being created
    Creating,
    /// In use
    Active,
    /// Blocked
    Inactive,
    /// Being deleted
    Deleting,
    /// Gone (compartments stay visible in this state)
    Deleted,
}

impl LifecycleState {
    /// Parses the query-parameter form (`ACTIVE`, `DELETED`, ...)
    pub fn parse(text: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(text.to_ascii_uppercase())).ok()
    }
}

/// The tenancy: the root compartment
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Tenancy {
    /// The tenancy's OCID
    pub id: String,
    /// The tenancy's name
    pub name: String,
    /// Description
    pub description: String,
    /// Home region key (`IAD`)
    pub home_region_key: String,
    /// Freeform tags
    #[serde(default)]
    pub freeform_tags: FreeformTags,
    /// Defined tags
    #[serde(default)]
    pub defined_tags: DefinedTags,
}

/// A compartment
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Compartment {
    /// The compartment's OCID
    pub id: String,
    /// The parent compartment's OCID
    pub compartment_id: String,
    /// Name, unique among its siblings
    pub name: String,
    /// Description
    pub description: String,
    /// RFC 3339 creation time
    pub time_created: String,
    /// Lifecycle state
    pub lifecycle_state: LifecycleState,
    /// Whether the caller can access it (always true in listings here)
    pub is_accessible: bool,
    /// Freeform tags
    #[serde(default)]
    pub freeform_tags: FreeformTags,
    /// Defined tags
    #[serde(default)]
    pub defined_tags: DefinedTags,
}

/// A user
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// The user's OCID
    pub id: String,
    /// The tenancy's OCID
    pub compartment_id: String,
    /// Name, unique in the tenancy
    pub name: String,
    /// Description
    pub description: String,
    /// Email address
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Whether the email was verified
    pub email_verified: bool,
    /// RFC 3339 creation time
    pub time_created: String,
    /// Lifecycle state
    pub lifecycle_state: LifecycleState,
    /// Whether MFA is activated
    pub is_mfa_activated: bool,
    /// Which credential kinds the user may have
    pub capabilities: UserCapabilities,
    /// Freeform tags
    #[serde(default)]
    pub freeform_tags: FreeformTags,
    /// Defined tags
    #[serde(default)]
    pub defined_tags: DefinedTags,
}

/// `capabilities` of a user
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserCapabilities {
    /// May use the console password
    pub can_use_console_password: bool,
    /// May use API keys
    pub can_use_api_keys: bool,
    /// May use auth tokens
    pub can_use_auth_tokens: bool,
    /// May use SMTP credentials
    pub can_use_smtp_credentials: bool,
    /// May use customer secret keys
    pub can_use_customer_secret_keys: bool,
}

impl Default for UserCapabilities {
    fn default() -> Self {
        UserCapabilities {
            can_use_console_password: false,
            can_use_api_keys: true,
            can_use_auth_tokens: true,
            can_use_smtp_credentials: false,
            can_use_customer_secret_keys: false,
        }
    }
}

/// A group
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    /// The group's OCID
    pub id: String,
    /// The tenancy's OCID
    pub compartment_id: String,
    /// Name, unique among groups and dynamic groups
    pub name: String,
    /// Description
    pub description: String,
    /// RFC 3339 creation time
    pub time_created: String,
    /// Lifecycle state
    pub lifecycle_state: LifecycleState,
    /// Freeform tags
    #[serde(default)]
    pub freeform_tags: FreeformTags,
    /// Defined tags
    #[serde(default)]
    pub defined_tags: DefinedTags,
}

/// A user's membership in a group
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserGroupMembership {
    /// The membership's OCID
    pub id: String,
    /// The tenancy's OCID
    pub compartment_id: String,
    /// The group
    pub group_id: String,
    /// The user
    pub user_id: String,
    /// RFC 3339 creation time
    pub time_created: String,
    /// Lifecycle state
    pub lifecycle_state: LifecycleState,
}

/// A dynamic group
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DynamicGroup {
    /// The dynamic group's OCID
    pub id: String,
    /// The tenancy's OCID
    pub compartment_id: String,
    /// Name, unique among groups and dynamic groups
    pub name: String,
    /// Description
    pub description: String,
    /// The matching rule
    pub matching_rule: String,
    /// RFC 3339 creation time
    pub time_created: String,
    /// Lifecycle state
    pub lifecycle_state: LifecycleState,
    /// Freeform tags
    #[serde(default)]
    pub freeform_tags: FreeformTags,
    /// Defined tags
    #[serde(default)]
    pub defined_tags: DefinedTags,
}

/// A policy
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Policy {
    /// The policy's OCID
    pub id: String,
    /// The compartment it is attached to
    pub compartment_id: String,
    /// Name, unique in the tenancy
    pub name: String,
    /// The statements, as written
    pub statements: Vec<String>,
    /// Description
    pub description: String,
    /// RFC 3339 creation time
    pub time_created: String,
    /// Lifecycle state
    pub lifecycle_state: LifecycleState,
    /// The policy language version date, if pinned
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_date: Option<String>,
    /// Freeform tags
    #[serde(default)]
    pub freeform_tags: FreeformTags,
    /// Defined tags
    #[serde(default)]
    pub defined_tags: DefinedTags,
}

/// A policy as stored: with the OCIDs its statements' names resolved to when written
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyRecord {
    /// The policy
    #[serde(flatten)]
    pub policy: Policy,
    /// One binding per statement
    #[serde(default)]
    pub bindings: Vec<Binding>,
}

/// An API signing key
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiKey {
    /// `<tenancy>/<user>/<fingerprint>`
    pub key_id: String,
    /// The public key, PEM
    pub key_value: String,
    /// MD5 fingerprint of the DER public key
    pub fingerprint: String,
    /// The user it belongs to
    pub user_id: String,
    /// RFC 3339 creation time
    pub time_created: String,
    /// Lifecycle state
    pub lifecycle_state: LifecycleState,
}

/// An auth token; `token` is present only in the response that created it
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthToken {
    /// The token itself, shown once
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// The token's OCID
    pub id: String,
    /// The user it belongs to
    pub user_id: String,
    /// Description
    pub description: String,
    /// RFC 3339 creation time
    pub time_created: String,
    /// RFC 3339 expiry, if any
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_expires: Option<String>,
    /// Lifecycle state
    pub lifecycle_state: LifecycleState,
}

/// An auth token as stored: the hash instead of the token
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthTokenRecord {
    /// The token's metadata (with `token` always `None`)
    #[serde(flatten)]
    pub token: AuthToken,
    /// SHA-256 of the token
    pub hash: String,
}

/// `CreateCompartmentDetails`
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateCompartmentDetails {
    /// The parent compartment
    pub compartment_id: Option<String>,
    /// Name
    pub name: Option<String>,
    /// Description
    pub description: Option<String>,
    /// Freeform tags
    pub freeform_tags: Option<FreeformTags>,
    /// Defined tags
    pub defined_tags: Option<DefinedTags>,
}

/// `UpdateCompartmentDetails`
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateCompartmentDetails {
    /// New description
    pub description: Option<String>,
    /// New name
    pub name: Option<String>,
    /// New freeform tags
    pub freeform_tags: Option<FreeformTags>,
    /// New defined tags
    pub defined_tags: Option<DefinedTags>,
}

/// `CreateUserDetails`
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateUserDetails {
    /// The tenancy
    pub compartment_id: Option<String>,
    /// Name
    pub name: Option<String>,
    /// Description
    pub description: Option<String>,
    /// Email
    pub email: Option<String>,
    /// Freeform tags
    pub freeform_tags: Option<FreeformTags>,
    /// Defined tags
    pub defined_tags: Option<DefinedTags>,
}

/// `UpdateUserDetails`
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateUserDetails {
    /// New description
    pub description: Option<String>,
    /// New email
    pub email: Option<String>,
    /// Database user name (accepted, not used)
    pub db_user_name: Option<String>,
    /// New freeform tags
    pub freeform_tags: Option<FreeformTags>,
    /// New defined tags
    pub defined_tags: Option<DefinedTags>,
}

/// `CreateGroupDetails`
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateGroupDetails {
    /// The tenancy
    pub compartment_id: Option<String>,
    /// Name
    pub name: Option<String>,
    /// Description
    pub description: Option<String>,
    /// Freeform tags
    pub freeform_tags: Option<FreeformTags>,
    /// Defined tags
    pub defined_tags: Option<DefinedTags>,
}

/// `UpdateGroupDetails`
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateGroupDetails {
    /// New description
    pub description: Option<String>,
    /// New freeform tags
    pub freeform_tags: Option<FreeformTags>,
    /// New defined tags
    pub defined_tags: Option<DefinedTags>,
}

/// `AddUserToGroupDetails`
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AddUserToGroupDetails {
    /// The user
    pub user_id: Option<String>,
    /// The group
    pub group_id: Option<String>,
}

/// `CreateDynamicGroupDetails`
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateDynamicGroupDetails {
    /// The tenancy
    pub compartment_id: Option<String>,
    /// Name
    pub name: Option<String>,
    /// Matching rule
    pub matching_rule: Option<String>,
    /// Description
    pub description: Option<String>,
    /// Freeform tags
    pub freeform_tags: Option<FreeformTags>,
    /// Defined tags
    pub defined_tags: Option<DefinedTags>,
}

/// `UpdateDynamicGroupDetails`
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateDynamicGroupDetails {
    /// New description
    pub description: Option<String>,
    /// New matching rule
    pub matching_rule: Option<String>,
    /// New freeform tags
    pub freeform_tags: Option<FreeformTags>,
    /// New defined tags
    pub defined_tags: Option<DefinedTags>,
}

/// `CreatePolicyDetails`
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreatePolicyDetails {
    /// The compartment to attach the policy to
    pub compartment_id: Option<String>,
    /// Name
    pub name: Option<String>,
    /// Statements
    pub statements: Option<Vec<String>>,
    /// Description
    pub description: Option<String>,
    /// Version date
    pub version_date: Option<String>,
    /// Freeform tags
    pub freeform_tags: Option<FreeformTags>,
    /// Defined tags
    pub defined_tags: Option<DefinedTags>,
}

/// `UpdatePolicyDetails`
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdatePolicyDetails {
    /// New description
    pub description: Option<String>,
    /// New statements
    pub statements: Option<Vec<String>>,
    /// New version date
    pub version_date: Option<String>,
    /// New freeform tags
    pub freeform_tags: Option<FreeformTags>,
    /// New defined tags
    pub defined_tags: Option<DefinedTags>,
}

/// `CreateApiKeyDetails`
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateApiKeyDetails {
    /// The PEM public key
    pub key: Option<String>,
}

/// `CreateAuthTokenDetails` and `UpdateAuthTokenDetails`
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuthTokenDetails {
    /// Description
    pub description: Option<String>,
}

/// RFC 3339 with milliseconds, as OCI prints times
pub fn timestamp(at: jiff::Timestamp) -> String {
    at.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// The current time, formatted as OCI does
pub fn now() -> String {
    timestamp(jiff::Timestamp::now())
}
