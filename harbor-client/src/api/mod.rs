//! The Harbor REST API v2.0 client: [`HarborClient`].
//!
//! ```no_run
//! use futures_util::TryStreamExt as _;
//! use harbor_client::api::{HarborClient, ListProjectsParams, Query};
//!
//! # async fn run() -> harbor_client::Result<()> {
//! let client = HarborClient::builder("https://harbor.example.com")
//!     .credentials(harbor_client::transport::Credentials::robot("robot$ci", "secret")?)
//!     .build()?;
//! // One page (Harbor's default page size is 10; the total is in `page.total`):
//! let page = client
//!     .list_projects(&ListProjectsParams::default().q(Query::new().fuzzy("name", "team")))
//!     .await?;
//! println!("{} of {:?} projects", page.items.len(), page.total);
//! // Every project, 100 per request:
//! let all: Vec<_> = client
//!     .list_projects_stream(&ListProjectsParams::default())
//!     .try_collect()
//!     .await?;
//! # let _ = all;
//! # Ok(()) }
//! ```
//!
//! # What is typed
//!
//! Every operation of Harbor's own spec (`api/v2.0/swagger.yaml`, 203 operations) has a
//! method on [`HarborClient`], named after what it does (`list_*` returns one [`Page`],
//! `list_*_stream` every item, `get_*`, `create_*`, `update_*`, `delete_*`), taking
//! typed names for path parameters, the request body model, and a `…Params` struct for
//! optional parameters. [`OPERATIONS`] maps each `operationId` to its method; a test
//! checks that table against the spec, and another sends every method to a mock that
//! validates requests against the spec. [`HarborClient::raw`] reaches any path with
//! typed JSON in and out.
//!
//! Models live in [`models`]: every field is an `Option` (real Harbor omits fields the
//! spec lists, and versions differ), unknown fields are ignored, and every struct is
//! `#[non_exhaustive]`: build one with `Default::default()` and set fields.
//!
//! # Request bodies
//!
//! The request models people create most have constructors and consuming setters, so a
//! body is one typed expression ([`bodies`] lists them): [`models::ProjectReq::new`],
//! [`models::RobotCreate::project`] with [`models::RobotPermission`],
//! [`models::WebhookPolicy::new`], [`models::ReplicationPolicy::pull`],
//! [`models::RetentionPolicy::for_project`], [`models::ImmutableRule::new`] and the
//! setters of [`models::ScannerRegistrationReq`].
//!
//! # Waiting for jobs
//!
//! [`HarborClient::scan_artifact_and_wait`], [`HarborClient::start_replication_and_wait`],
//! [`HarborClient::run_gc_and_wait`], [`HarborClient::run_retention_and_wait`] and
//! [`HarborClient::export_scan_data_and_wait`] start a job and poll it with backoff until
//! its status is final, under a [`WaitPolicy`] (interval and deadline); the answer is the
//! final typed status, a failed job included, or
//! [`Error::WaitTimedOut`](crate::Error::WaitTimedOut) with the last status. The decisions
//! are pure functions: [`WaitPolicy::decide`], `JobStatus::is_final`,
//! `ReplicationStatus::is_final`.
//!
//! # Fan-out
//!
//! [`HarborClient::artifacts_of_project_stream`] and
//! [`HarborClient::artifacts_of_system_stream`] stream every artifact of every repository
//! ([`RepositoryArtifact`]), listing at most [`FanOut::concurrency`] repositories at once
//! (memory stays bounded by that many pages), optionally with each artifact's scan overview.
//!
//! # Errors
//!
//! Harbor's error codes are typed ([`ErrorCode`](crate::ErrorCode): `CONFLICT`,
//! `PRECONDITION`, `BAD_REQUEST`, `UNPROCESSABLE_ENTITY`, `FORBIDDEN`, `NOT_FOUND`,
//! `TOO_MANY_REQUEST`, ...; others kept as text). Ask the error rather than matching:
//! [`Error::is_conflict`](crate::Error::is_conflict) ("exists already" in a
//! create-if-absent script), [`Error::is_not_found`](crate::Error::is_not_found),
//! [`Error::is_forbidden`](crate::Error::is_forbidden),
//! [`Error::is_precondition_failed`](crate::Error::is_precondition_failed) (still in use),
//! [`Error::is_bad_request`](crate::Error::is_bad_request),
//! [`Error::is_rate_limited`](crate::Error::is_rate_limited). A failed call names the
//! resource it addressed ([`Error::resource`](crate::Error::resource)), and a 404 says so:
//! `` GET …/projects/team: 404 Not Found: NOT_FOUND (…) - project `team` not found ``.
//!
//! # Harbor quirks handled
//!
//! - **Repository names are URL-encoded twice** in paths (`team/app` →
//!   `team%252Fapp`): [`PathSegment`] does it for [`RepositoryName`]. Harbor decodes the
//!   segment twice, and a proxy in front may turn a single `%2F` into `/` and answer 404.
//! - **Numeric project names**: `{project_name_or_id}` takes `"123"` as an id unless
//!   `X-Is-Resource-Name: true` is sent; [`ProjectRef::Name`] always sends it.
//! - **Lists stop at 10 items** by default; [`Page`] keeps `X-Total-Count` and `Link`,
//!   and the `_stream` methods read every page with `page_size=100` (the maximum; a larger
//!   value is a 422).
//! - **`q` syntax**: [`Query`] builds exact, fuzzy (`~`), range (`[a~b]`), any-of (`{a b}`)
//!   and all-of (`(a b)`) terms, escapes literal values, rejects what Harbor cannot parse,
//!   escapes `%`/`+` once more for Harbor's extra unescape of `q`, and writes times as
//!   Harbor parses them (`2006-01-02T15:04:05`, UTC, no zone; not the spec's text form).
//! - **No cookie store**: a client that sends Harbor's `sid` cookie back gets
//!   `403 CSRF token invalid` on every write; the transport keeps no cookies.
//! - **Errors**: Harbor's `{"errors":[{"code","message"}]}` envelope, `text/plain` bodies
//!   and statuses the spec does not declare all become [`Error::Api`](crate::Error::Api)
//!   with the status and the `X-Request-Id` (every request sends one, generated unless given
//!   with [`RawRequest::request_id`]); never a panic.
//! - **The vulnerability addition** is typed as a string in the spec but is a JSON object
//!   keyed by report MIME type: [`HarborClient::get_vulnerabilities`] returns
//!   [`VulnerabilityReports`] and sends `X-Accept-Vulnerabilities`.
//! - **Created resources** come back as `201` with a `Location` and no body: the `create_*`
//!   methods return [`Created`] with [`Created::id`] (robots return their secret instead).
//! - **Basic credentials are sent up front** (Harbor's API answers 401 without a challenge):
//!   user/password, robot accounts (`robot$name`, `robot$project+name`) and OIDC CLI
//!   secrets, never written to logs or errors; secrets inside models (robot secrets,
//!   passwords, registry and scanner credentials, webhook auth headers) are [`Secret`]s,
//!   redacted in `Debug`.
//! - Retries with backoff for idempotent calls only (GET, HEAD, PUT, DELETE).
//!
//! # Harbor versions
//!
//! Every operation carries the first Harbor release whose spec has it
//! ([`TypedOperation::since`], "Since Harbor 2.x" in its docs; read from the release tags
//! v2.2.0 to v2.15.2). Before sending an operation Harbor added after 2.2, the client reads
//! the server's version from `GET /systeminfo` once ([`HarborClient::server_version`],
//! parsed into a [`HarborVersion`] from e.g. `v2.11.0-abc123`) and fails with
//! [`Error::UnsupportedByServer`](crate::Error::UnsupportedByServer) when the server is
//! older: a clear error instead of Harbor's `404 path … was not found`. A server that does not
//! say its version (anonymous `systeminfo` may omit it) gets the call; [`VersionCheck`] sets a
//! version or turns the check off.
//!
//! Optional query parameters that came in a later release than their operation are checked
//! the same way when set (`q` and `sort` of most lists came in 2.3, `with_sbom_overview` in
//! 2.11; each says so in its docs): a server that does not know one ignores it without an
//! error, so `list_projects` with a `q` on Harbor 2.2 would list every project. `page` and
//! `page_size` are not checked, since every `_stream` method sets them.
//!
//! Enum-like strings (scan types, permission resources and actions, webhook event types,
//! job statuses, ...) are closed sets such as [`models::WebhookEventType`]:
//! `#[non_exhaustive]` enums whose `Other(String)` keeps a value a newer Harbor sends.
//!
//! Robot accounts v1 (`/projects/{p}/robots`, Harbor 2.2 to 2.12, gone from later specs)
//! have hand-written methods: [`HarborClient::create_project_robot_v1`] and its siblings. The
//! version check works the other way for them: a server that says it runs 2.13 or later
//! gets [`Error::RemovedFromServer`](crate::Error::RemovedFromServer), nothing sent.
//!
//! # Harbor 1.x
//!
//! [`v1::HarborV1Client`] covers projects, repositories, tags, labels, scans and webhook
//! policies of Harbor 1.9/1.10 (`/api`), whose conventions differ (projects by id,
//! unencoded repository names, tags instead of artifacts).
//!
//! # Features
//!
//! - `events`: [`ArtifactLocation`] from `harbor-events` types
//!   (`TryFrom<&harbor_events::Artifact>`, `ArtifactLocation::all_from_event`): react to a
//!   webhook through the API.
//! - `blocking`: [`blocking::HarborClient`], the same API without `async`.

mod additions;
#[cfg(feature = "blocking")]
#[cfg_attr(docsrs, doc(cfg(feature = "blocking")))]
pub mod blocking;
pub mod bodies;
mod client;
pub(crate) mod closed_set;
mod event_kind;
mod fanout;
mod location;
pub mod models;
mod names;
mod operations;
mod ops;
mod page;
mod query;
mod resource;
mod robot_v1;
mod secret;
pub mod v1;
mod version;
mod vulnerability;
mod wait;

pub use additions::BuildHistoryEntry;
pub use client::{
    Created, HarborClient, HarborClientBuilder, MAX_RESPONSE_BYTES, RawRequest, Response,
};
pub use fanout::{FanOut, RepositoryArtifact};
pub use harbor_types::Severity;
pub use harbor_types::report::{
    MIME_GENERIC_VULNERABILITY_REPORT, MIME_NATIVE_REPORT, MIME_SBOM_REPORT,
};
pub use harbor_types::webhook::EventKind;
pub use location::ArtifactLocation;
pub use names::{
    PathSegment, ProjectRef, Reference, RepositoryName, encode_segment, split_full_name,
};
pub use operations::OPERATIONS;
pub use ops::*;
pub use page::{MAX_PAGE_SIZE, Page};
pub use query::Query;
pub use secret::Secret;
pub use version::{HarborVersion, VersionCheck};
pub use vulnerability::{ReportedVulnerability, VulnerabilityReport, VulnerabilityReports};
pub use wait::{ScanOutcome, WaitPolicy, WaitStep};

/// One row of [`OPERATIONS`]: an operation of Harbor's spec and the method that calls it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct TypedOperation {
    /// The spec's `operationId`.
    pub operation_id: &'static str,
    /// The HTTP method.
    pub method: &'static str,
    /// The path template, relative to the API root.
    pub path: &'static str,
    /// The [`HarborClient`] method.
    pub rust_method: &'static str,
    /// The spec parameters the method sends, as `in:name` (`X-Request-Id` is sent on every
    /// request and not listed).
    pub params: &'static [&'static str],
    /// The first Harbor release that has the operation ([`HarborVersion::BASELINE`] for the
    /// ones every checked release has); the method refuses an older server before sending.
    pub since: HarborVersion,
}
