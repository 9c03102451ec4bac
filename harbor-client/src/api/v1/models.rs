//! Models of the Harbor 1.x API (1.9 and 1.10), from `api/harbor/swagger.yaml` of v1.10.0
//! and `docs/swagger.yaml` of v1.9.0. Every field is optional; times are kept as sent.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A project (`/api/projects`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct V1Project {
    /// The project id (projects are addressed by id in 1.x).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_id: Option<i64>,
    /// The owner's user id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<i64>,
    /// The project name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Creation time, as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_time: Option<String>,
    /// Update time, as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_time: Option<String>,
    /// Whether the project is deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted: Option<bool>,
    /// The owner's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_name: Option<String>,
    /// The caller's role in the project (1 admin, 2 developer, 3 guest, 4 master).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_user_role_id: Option<i64>,
    /// How many repositories it holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo_count: Option<i64>,
    /// How many Helm charts it holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chart_count: Option<i64>,
    /// Metadata; values are strings (`"true"`, `"false"`, a severity).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
}

/// The body of `create_project`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct V1ProjectReq {
    /// The project name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_name: Option<String>,
    /// Metadata (`public`, `prevent_vul`, `severity`, `auto_scan` ...), values as strings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
    /// The artifact count limit (1.9+; -1 = unlimited).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count_limit: Option<i64>,
    /// The storage limit in bytes (1.9+; -1 = unlimited).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_limit: Option<i64>,
}

/// A label (`/api/labels`); `scope` is `g` (global) or `p` (project).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct V1Label {
    /// The label id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    /// The name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The colour, e.g. `#61717D`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
    /// `g` or `p`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The project of a project label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_id: Option<i64>,
    /// Creation time, as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_time: Option<String>,
    /// Update time, as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_time: Option<String>,
    /// Whether the label is deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted: Option<bool>,
}

/// A repository (`/api/repositories`); `name` is the full name `project/repo`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct V1Repository {
    /// The repository id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    /// The full name, `project/repo`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The project id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_id: Option<i64>,
    /// The description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// How often it was pulled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_count: Option<i64>,
    /// How many stars it has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub star_count: Option<i64>,
    /// How many tags it has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags_count: Option<i64>,
    /// Its labels (`null` reads as none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Vec<V1Label>>,
    /// Creation time, as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_time: Option<String>,
    /// Update time, as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_time: Option<String>,
}

/// A tag with its details (`DetailedTag`); the unit of 1.x, which has no artifacts.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct V1Tag {
    /// The manifest digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// The tag name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The image size in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<i64>,
    /// The architecture.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub architecture: Option<String>,
    /// The OS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os: Option<String>,
    /// The Docker version that built it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docker_version: Option<String>,
    /// The author.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// When the image was built, as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// The Notary signature, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<serde_json::Value>,
    /// The scan overview: 1.9's Clair object (`scan_status`, integer `severity`,
    /// `components`) or 1.10's map keyed by report MIME type; kept as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scan_overview: Option<serde_json::Value>,
    /// Its labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Vec<V1Label>>,
    /// Push time, as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push_time: Option<String>,
    /// Pull time, as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_time: Option<String>,
}

/// A webhook target of a 1.x policy.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct V1WebhookTarget {
    /// `http` (or `slack` in later versions).
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The URL deliveries go to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// The `Authorization` value Harbor sends (a secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_header: Option<crate::api::Secret>,
    /// Whether Harbor skips TLS verification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_cert_verify: Option<bool>,
}

/// A webhook policy of a 1.9/1.10 project. Event types are camelCase in 1.x
/// (`pushImage`, `scanningCompleted`, ...).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct V1WebhookPolicy {
    /// The policy id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    /// The name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The project id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_id: Option<i64>,
    /// Where deliveries go.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub targets: Option<Vec<V1WebhookTarget>>,
    /// The event types.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_types: Option<Vec<String>>,
    /// Who created it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creator: Option<String>,
    /// Creation time, as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_time: Option<String>,
    /// Update time, as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_time: Option<String>,
    /// Whether it is enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

/// One vulnerability of 1.9's Clair report (`…/vulnerability/details`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct V1Vulnerability {
    /// The identifier, e.g. `CVE-2019-1010022`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The package.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
    /// The installed version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The fixing version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_version: Option<String>,
    /// The severity: an integer in 1.9 (1 negligible … 5 high), a name in later reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<serde_json::Value>,
    /// The description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// A link to details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
}
