//! Request bodies in one typed expression: constructors and consuming setters on the request
//! models people create most (projects, robots, webhook policies, replication policies,
//! retention policies, immutable-tag rules, scanner registrations).
//!
//! Each constructor takes what Harbor requires and fills in what Harbor expects but does not
//! say (a robot's permission `kind` and `namespace`, a retention rule's `action` and `params`
//! key, a selector's `decoration`); each setter consumes the value and returns it, so a body
//! is one expression. The values are the generated models: any field the setters do not
//! cover can still be set directly.
//!
//! ```
//! use harbor_client::api::models::{
//!     ImmutableRule, PermissionAction, PermissionResource, ProjectReq, RetentionPolicy,
//!     RetentionRule, RobotCreate, RobotPermission, WebhookEventType, WebhookPolicy,
//!     WebhookTargetObject,
//! };
//!
//! let project = ProjectReq::new("team").storage_limit(10 << 30).auto_scan(true);
//! let robot = RobotCreate::project("ci", RobotPermission::project("team").pull().push())
//!     .description("CI pushes")
//!     .duration_days(90);
//! let hook = WebhookPolicy::new("ci")
//!     .target(WebhookTargetObject::http("https://ci.example/hook"))
//!     .events([WebhookEventType::PushArtifact, WebhookEventType::ScanningCompleted]);
//! let retention = RetentionPolicy::for_project(7)
//!     .rule(RetentionRule::latest_pushed(10).repositories("**"))
//!     .schedule("0 0 0 * * *");
//! let immutable = ImmutableRule::new().repositories("**").tags("v*");
//! # let _ = (project, robot, hook, retention, immutable);
//! ```

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::api::Secret;
use crate::api::models::{
    Access, ImmutableRule, ImmutableSelector, NotifyType, PermissionAction, PermissionEffect,
    PermissionResource, ProjectMetadata, ProjectReq, Registry, ReplicationFilter,
    ReplicationFilterType, ReplicationPolicy, ReplicationTrigger, ReplicationTriggerSettings,
    ReplicationTriggerType, RetentionAction, RetentionPolicy, RetentionPolicyScope, RetentionRule,
    RetentionRuleTrigger, RetentionSelector, RetentionTemplate, RobotCreate, RobotLevel,
    RobotPermission, ScannerAuth, ScannerRegistrationReq, SelectorDecoration, SelectorKind,
    WebhookEventType, WebhookPayloadFormat, WebhookPolicy, WebhookTargetObject,
};

fn flag(on: bool) -> Option<String> {
    Some(on.to_string())
}

impl ProjectReq {
    /// A private project named `name` (Harbor's defaults for the rest).
    ///
    /// ```
    /// use harbor_client::api::models::ProjectReq;
    /// let body = ProjectReq::new("team")
    ///     .public(false)
    ///     .storage_limit(10 << 30)
    ///     .auto_scan(true)
    ///     .prevent_vulnerable("high");
    /// assert_eq!(body.storage_limit, Some(10 << 30));
    /// ```
    #[must_use]
    pub fn new(name: impl Into<String>) -> Self {
        ProjectReq {
            project_name: Some(name.into()),
            ..ProjectReq::default()
        }
    }

    fn meta(mut self, set: impl FnOnce(&mut ProjectMetadata)) -> Self {
        set(self.metadata.get_or_insert_with(ProjectMetadata::default));
        self
    }

    /// Whether anyone may pull without logging in (the project metadata `public`).
    #[must_use]
    pub fn public(self, public: bool) -> Self {
        self.meta(|m| m.public = flag(public))
    }

    /// The storage quota in bytes; `-1` for no limit.
    #[must_use]
    pub fn storage_limit(mut self, bytes: i64) -> Self {
        self.storage_limit = Some(bytes);
        self
    }

    /// Scan every artifact when it is pushed.
    #[must_use]
    pub fn auto_scan(self, on: bool) -> Self {
        self.meta(|m| m.auto_scan = flag(on))
    }

    /// Refuse pulls of artifacts with a vulnerability of `severity` or worse (`low`,
    /// `medium`, `high`, `critical`).
    #[must_use]
    pub fn prevent_vulnerable(self, severity: impl Into<String>) -> Self {
        let severity = severity.into();
        self.meta(|m| {
            m.prevent_vul = flag(true);
            m.severity = Some(severity);
        })
    }

    /// Refuse pulls of artifacts not signed with cosign.
    #[must_use]
    pub fn require_cosign_signature(self, on: bool) -> Self {
        self.meta(|m| m.enable_content_trust_cosign = flag(on))
    }

    /// Use the system CVE allowlist instead of the project's own.
    #[must_use]
    pub fn reuse_system_cve_allowlist(self, on: bool) -> Self {
        self.meta(|m| m.reuse_sys_cve_allowlist = flag(on))
    }

    /// Make it a proxy cache of the registry endpoint `registry_id` (see
    /// [`HarborClient::create_registry`](crate::api::HarborClient::create_registry)).
    #[must_use]
    pub fn proxy_cache_of(mut self, registry_id: i64) -> Self {
        self.registry_id = Some(registry_id);
        self
    }
}

impl RobotCreate {
    /// A project-level robot (`robot$<project>+<name>`) that never expires, with its one
    /// permission: on the project it belongs to.
    ///
    /// ```
    /// use harbor_client::api::models::{RobotCreate, RobotPermission};
    /// let body = RobotCreate::project("ci", RobotPermission::project("team").pull().push())
    ///     .duration_days(30);
    /// assert_eq!(body.permissions.as_ref().map(Vec::len), Some(1));
    /// ```
    #[must_use]
    pub fn project(name: impl Into<String>, permission: RobotPermission) -> Self {
        RobotCreate {
            name: Some(name.into()),
            level: Some(RobotLevel::Project),
            duration: Some(-1),
            disable: Some(false),
            permissions: Some(vec![permission]),
            ..RobotCreate::default()
        }
    }

    /// A system-level robot (`robot$<name>`) that never expires; it may hold permissions on
    /// the system ([`RobotPermission::system`]) and on any project
    /// ([`RobotPermission::project`], [`RobotPermission::all_projects`]).
    #[must_use]
    pub fn system(name: impl Into<String>) -> Self {
        RobotCreate {
            name: Some(name.into()),
            level: Some(RobotLevel::System),
            duration: Some(-1),
            disable: Some(false),
            ..RobotCreate::default()
        }
    }

    /// What the robot is for.
    #[must_use]
    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.description = Some(text.into());
        self
    }

    /// Expires after `days` days (`-1`, the default, never).
    #[must_use]
    pub fn duration_days(mut self, days: i64) -> Self {
        self.duration = Some(days);
        self
    }

    /// Sets the secret instead of letting Harbor generate one.
    #[must_use]
    pub fn secret(mut self, secret: impl Into<Secret>) -> Self {
        self.secret = Some(secret.into());
        self
    }

    /// Adds a permission (system-level robots: one per project, plus the system one).
    #[must_use]
    pub fn permission(mut self, permission: RobotPermission) -> Self {
        self.permissions
            .get_or_insert_with(Vec::new)
            .push(permission);
        self
    }
}

impl RobotPermission {
    /// Permissions on the project `project`.
    #[must_use]
    pub fn project(project: impl Into<String>) -> Self {
        RobotPermission {
            kind: Some(RobotLevel::Project),
            namespace: Some(project.into()),
            access: Some(Vec::new()),
        }
    }

    /// Permissions on every project, present and future (system-level robots only).
    #[must_use]
    pub fn all_projects() -> Self {
        RobotPermission::project("*")
    }

    /// Permissions on the system (system-level robots only).
    #[must_use]
    pub fn system() -> Self {
        RobotPermission {
            kind: Some(RobotLevel::System),
            namespace: Some("/".to_owned()),
            access: Some(Vec::new()),
        }
    }

    /// Allows `action` on `resource`.
    #[must_use]
    pub fn allow(mut self, resource: PermissionResource, action: PermissionAction) -> Self {
        self.access.get_or_insert_with(Vec::new).push(Access {
            resource: Some(resource),
            action: Some(action),
            effect: Some(PermissionEffect::Allow),
        });
        self
    }

    /// Allows pulling from the project's repositories.
    #[must_use]
    pub fn pull(self) -> Self {
        self.allow(PermissionResource::Repository, PermissionAction::Pull)
    }

    /// Allows pushing to the project's repositories.
    #[must_use]
    pub fn push(self) -> Self {
        self.allow(PermissionResource::Repository, PermissionAction::Push)
    }
}

impl WebhookPolicy {
    /// An enabled webhook policy named `name`, with no target and no event yet.
    ///
    /// ```
    /// use harbor_client::api::Secret;
    /// use harbor_client::api::models::{
    ///     WebhookEventType, WebhookPayloadFormat, WebhookPolicy, WebhookTargetObject,
    /// };
    /// let body = WebhookPolicy::new("ci")
    ///     .description("tell CI about pushes")
    ///     .target(
    ///         WebhookTargetObject::http("https://ci.example/hook")
    ///             .auth_header(Secret::new("Bearer abc"))
    ///             .payload_format(WebhookPayloadFormat::CloudEvents),
    ///     )
    ///     .events([WebhookEventType::PushArtifact]);
    /// assert_eq!(body.enabled, Some(true));
    /// ```
    #[must_use]
    pub fn new(name: impl Into<String>) -> Self {
        WebhookPolicy {
            name: Some(name.into()),
            enabled: Some(true),
            targets: Some(Vec::new()),
            event_types: Some(Vec::new()),
            ..WebhookPolicy::default()
        }
    }

    /// What the policy is for.
    #[must_use]
    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.description = Some(text.into());
        self
    }

    /// Adds a target.
    #[must_use]
    pub fn target(mut self, target: WebhookTargetObject) -> Self {
        self.targets.get_or_insert_with(Vec::new).push(target);
        self
    }

    /// Adds event types.
    #[must_use]
    pub fn events(mut self, events: impl IntoIterator<Item = WebhookEventType>) -> Self {
        self.event_types.get_or_insert_with(Vec::new).extend(events);
        self
    }

    /// Whether the policy sends (default `true`).
    #[must_use]
    pub fn enabled(mut self, on: bool) -> Self {
        self.enabled = Some(on);
        self
    }
}

impl WebhookTargetObject {
    /// An HTTP target: Harbor POSTs the payload to `address`.
    #[must_use]
    pub fn http(address: impl Into<String>) -> Self {
        WebhookTargetObject {
            r#type: Some(NotifyType::Http),
            address: Some(address.into()),
            skip_cert_verify: Some(false),
            ..WebhookTargetObject::default()
        }
    }

    /// A Slack incoming webhook at `address`.
    #[must_use]
    pub fn slack(address: impl Into<String>) -> Self {
        WebhookTargetObject {
            r#type: Some(NotifyType::Slack),
            ..WebhookTargetObject::http(address)
        }
    }

    /// The `Authorization` header value Harbor sends (a secret).
    #[must_use]
    pub fn auth_header(mut self, value: impl Into<Secret>) -> Self {
        self.auth_header = Some(value.into());
        self
    }

    /// Whether Harbor skips verifying the target's certificate.
    #[must_use]
    pub fn skip_cert_verify(mut self, skip: bool) -> Self {
        self.skip_cert_verify = Some(skip);
        self
    }

    /// The payload format (Harbor 2.8 and later; default Harbor's own).
    #[must_use]
    pub fn payload_format(mut self, format: WebhookPayloadFormat) -> Self {
        self.payload_format = Some(format);
        self
    }
}

impl ReplicationPolicy {
    /// An enabled policy that pulls from the registry endpoint `source_registry_id` into this
    /// Harbor, started by hand until a [`ReplicationPolicy::trigger`] is set.
    ///
    /// ```
    /// use harbor_client::api::models::{ReplicationFilter, ReplicationPolicy, ReplicationTrigger};
    /// let body = ReplicationPolicy::pull("mirror-hub", 3)
    ///     .filter(ReplicationFilter::name("library/**"))
    ///     .filter(ReplicationFilter::tag("v*"))
    ///     .trigger(ReplicationTrigger::scheduled("0 0 * * * *"))
    ///     .dest_namespace("mirror")
    ///     .override_existing(true);
    /// assert_eq!(body.filters.as_ref().map(Vec::len), Some(2));
    /// ```
    #[must_use]
    pub fn pull(name: impl Into<String>, source_registry_id: i64) -> Self {
        ReplicationPolicy {
            src_registry: Some(registry_ref(source_registry_id)),
            ..ReplicationPolicy::named(name)
        }
    }

    /// An enabled policy that pushes from this Harbor to the registry endpoint
    /// `dest_registry_id`, started by hand until a [`ReplicationPolicy::trigger`] is set.
    #[must_use]
    pub fn push(name: impl Into<String>, dest_registry_id: i64) -> Self {
        ReplicationPolicy {
            dest_registry: Some(registry_ref(dest_registry_id)),
            ..ReplicationPolicy::named(name)
        }
    }

    fn named(name: impl Into<String>) -> Self {
        ReplicationPolicy {
            name: Some(name.into()),
            enabled: Some(true),
            r#override: Some(false),
            trigger: Some(ReplicationTrigger::manual()),
            filters: Some(Vec::new()),
            ..ReplicationPolicy::default()
        }
    }

    /// What the policy is for.
    #[must_use]
    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.description = Some(text.into());
        self
    }

    /// Adds a filter (all must match).
    #[must_use]
    pub fn filter(mut self, filter: ReplicationFilter) -> Self {
        self.filters.get_or_insert_with(Vec::new).push(filter);
        self
    }

    /// What starts the replication (default [`ReplicationTrigger::manual`]).
    #[must_use]
    pub fn trigger(mut self, trigger: ReplicationTrigger) -> Self {
        self.trigger = Some(trigger);
        self
    }

    /// The namespace (project) at the destination; default the source's.
    #[must_use]
    pub fn dest_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.dest_namespace = Some(namespace.into());
        self
    }

    /// Whether artifacts that exist at the destination are overwritten.
    #[must_use]
    pub fn override_existing(mut self, on: bool) -> Self {
        self.r#override = Some(on);
        self
    }

    /// Whether deletions are replicated too (event-based triggers).
    #[must_use]
    pub fn replicate_deletion(mut self, on: bool) -> Self {
        self.replicate_deletion = Some(on);
        self
    }
}

fn registry_ref(id: i64) -> Registry {
    Registry {
        id: Some(id),
        ..Registry::default()
    }
}

impl ReplicationFilter {
    fn of(kind: ReplicationFilterType, value: Value) -> Self {
        // Harbor reads a decoration on tag and label filters only.
        let decoration = matches!(
            kind,
            ReplicationFilterType::Tag | ReplicationFilterType::Label
        )
        .then_some(SelectorDecoration::Matches);
        ReplicationFilter {
            r#type: Some(kind),
            value: Some(value),
            decoration,
        }
    }

    /// Repositories whose name matches a glob (`library/**`).
    #[must_use]
    pub fn name(pattern: impl Into<String>) -> Self {
        Self::of(ReplicationFilterType::Name, Value::String(pattern.into()))
    }

    /// Tags that match a glob (`v*`).
    #[must_use]
    pub fn tag(pattern: impl Into<String>) -> Self {
        Self::of(ReplicationFilterType::Tag, Value::String(pattern.into()))
    }

    /// Artifacts with all these labels.
    #[must_use]
    pub fn labels<S: Into<String>>(labels: impl IntoIterator<Item = S>) -> Self {
        let labels = labels
            .into_iter()
            .map(|l| Value::String(l.into()))
            .collect();
        Self::of(ReplicationFilterType::Label, Value::Array(labels))
    }

    /// Artifacts of a resource type (`image`, `artifact`).
    #[must_use]
    pub fn resource(kind: impl Into<String>) -> Self {
        Self::of(ReplicationFilterType::Resource, Value::String(kind.into()))
    }

    /// Selects what does *not* match instead (tags and labels).
    #[must_use]
    pub fn excluding(mut self) -> Self {
        self.decoration = Some(SelectorDecoration::Excludes);
        self
    }
}

impl ReplicationTrigger {
    /// Started by hand ([`HarborClient::start_replication`](crate::api::HarborClient::start_replication)).
    #[must_use]
    pub fn manual() -> Self {
        ReplicationTrigger {
            r#type: Some(ReplicationTriggerType::Manual),
            trigger_settings: None,
        }
    }

    /// Started by a cron schedule with seconds (`0 0 * * * *`: hourly).
    #[must_use]
    pub fn scheduled(cron: impl Into<String>) -> Self {
        ReplicationTrigger {
            r#type: Some(ReplicationTriggerType::Scheduled),
            trigger_settings: Some(ReplicationTriggerSettings {
                cron: Some(cron.into()),
            }),
        }
    }

    /// Started by pushes (and deletions) in this Harbor (push policies only).
    #[must_use]
    pub fn event_based() -> Self {
        ReplicationTrigger {
            r#type: Some(ReplicationTriggerType::EventBased),
            trigger_settings: None,
        }
    }
}

impl RetentionPolicy {
    /// The tag retention policy of the project `project_id`, with no rule yet and no
    /// schedule (run by hand). Harbor keeps what any rule retains and deletes the rest.
    ///
    /// ```
    /// use harbor_client::api::models::{RetentionPolicy, RetentionRule};
    /// let body = RetentionPolicy::for_project(7)
    ///     .rule(RetentionRule::latest_pushed(10).repositories("**").tags("**"))
    ///     .rule(RetentionRule::pushed_within_days(30).repositories_except("tmp/**"))
    ///     .schedule("0 0 0 * * *");
    /// assert_eq!(body.rules.as_ref().map(Vec::len), Some(2));
    /// ```
    #[must_use]
    pub fn for_project(project_id: i64) -> Self {
        RetentionPolicy {
            id: None,
            algorithm: Some("or".to_owned()),
            rules: Some(Vec::new()),
            trigger: Some(RetentionRuleTrigger {
                kind: Some("Schedule".to_owned()),
                settings: Some(json!({ "cron": "" })),
                references: Some(json!({})),
            }),
            scope: Some(RetentionPolicyScope {
                level: Some("project".to_owned()),
                r#ref: Some(project_id),
            }),
        }
    }

    /// Adds a rule.
    #[must_use]
    pub fn rule(mut self, rule: RetentionRule) -> Self {
        self.rules.get_or_insert_with(Vec::new).push(rule);
        self
    }

    /// Runs on a cron schedule with seconds (`0 0 0 * * *`: daily at midnight).
    #[must_use]
    pub fn schedule(mut self, cron: impl Into<String>) -> Self {
        let trigger = self
            .trigger
            .get_or_insert_with(RetentionRuleTrigger::default);
        trigger.kind = Some("Schedule".to_owned());
        trigger.settings = Some(json!({ "cron": cron.into() }));
        self
    }
}

impl RetentionRule {
    fn template(template: RetentionTemplate, param: Option<i64>) -> Self {
        let params: BTreeMap<String, Value> = param
            .map(|n| (template.as_str().to_owned(), Value::from(n)))
            .into_iter()
            .collect();
        RetentionRule {
            disabled: Some(false),
            action: Some(RetentionAction::Retain),
            template: Some(template),
            params: Some(params),
            ..RetentionRule::default()
        }
        .repositories("**")
        .tags("**")
    }

    /// Retain the `k` most recently pushed artifacts (of every repository and tag until
    /// narrowed).
    #[must_use]
    pub fn latest_pushed(k: i64) -> Self {
        Self::template(RetentionTemplate::LatestPushedK, Some(k))
    }

    /// Retain the `n` most recently pulled artifacts.
    #[must_use]
    pub fn latest_pulled(n: i64) -> Self {
        Self::template(RetentionTemplate::LatestPulledN, Some(n))
    }

    /// Retain the artifacts pushed within the last `days` days.
    #[must_use]
    pub fn pushed_within_days(days: i64) -> Self {
        Self::template(RetentionTemplate::NDaysSinceLastPush, Some(days))
    }

    /// Retain the artifacts pulled within the last `days` days.
    #[must_use]
    pub fn pulled_within_days(days: i64) -> Self {
        Self::template(RetentionTemplate::NDaysSinceLastPull, Some(days))
    }

    /// Retain every selected artifact.
    #[must_use]
    pub fn always() -> Self {
        Self::template(RetentionTemplate::Always, None)
    }
}

/// The selector setters retention and immutability rules share (their selectors are two
/// models of the same shape).
macro_rules! selector_setters {
    ($rule:ident, $selector:ident) => {
        impl $rule {
            fn scope(mut self, decoration: SelectorDecoration, pattern: String) -> Self {
                let selector = $selector {
                    kind: Some(SelectorKind::Doublestar),
                    decoration: Some(decoration),
                    pattern: Some(pattern),
                    extras: None,
                };
                self.scope_selectors =
                    Some(BTreeMap::from([("repository".to_owned(), vec![selector])]));
                self
            }

            fn tag(mut self, decoration: SelectorDecoration, pattern: String) -> Self {
                self.tag_selectors = Some(vec![$selector {
                    kind: Some(SelectorKind::Doublestar),
                    decoration: Some(decoration),
                    pattern: Some(pattern),
                    extras: Some(r#"{"untagged":true}"#.to_owned()),
                }]);
                self
            }

            /// Applies to repositories matching a glob (`**`, the default: all).
            #[must_use]
            pub fn repositories(self, pattern: impl Into<String>) -> Self {
                self.scope(SelectorDecoration::RepoMatches, pattern.into())
            }

            /// Applies to repositories not matching a glob.
            #[must_use]
            pub fn repositories_except(self, pattern: impl Into<String>) -> Self {
                self.scope(SelectorDecoration::RepoExcludes, pattern.into())
            }

            /// Applies to tags matching a glob (`**`, the default: all, untagged included).
            #[must_use]
            pub fn tags(self, pattern: impl Into<String>) -> Self {
                self.tag(SelectorDecoration::Matches, pattern.into())
            }

            /// Applies to tags not matching a glob.
            #[must_use]
            pub fn tags_except(self, pattern: impl Into<String>) -> Self {
                self.tag(SelectorDecoration::Excludes, pattern.into())
            }
        }
    };
}

selector_setters!(RetentionRule, RetentionSelector);
selector_setters!(ImmutableRule, ImmutableSelector);

impl ImmutableRule {
    /// An enabled immutable-tag rule over every repository and tag; narrow it with
    /// [`ImmutableRule::repositories`] and [`ImmutableRule::tags`].
    ///
    /// ```
    /// use harbor_client::api::models::ImmutableRule;
    /// let body = ImmutableRule::new().repositories("apps/**").tags("v*");
    /// assert_eq!(body.template.as_deref(), Some("immutable_template"));
    /// ```
    #[must_use]
    pub fn new() -> Self {
        ImmutableRule {
            disabled: Some(false),
            action: Some("immutable".to_owned()),
            template: Some("immutable_template".to_owned()),
            ..ImmutableRule::default()
        }
        .repositories("**")
        .tags("**")
    }
}

impl ScannerRegistrationReq {
    /// Authenticates to the adapter with `Authorization: Bearer <token>`.
    ///
    /// ```
    /// use harbor_client::api::models::ScannerRegistrationReq;
    /// let body = ScannerRegistrationReq::new("trivy", "http://trivy-adapter:8080")
    ///     .bearer("token")
    ///     .description("Trivy")
    ///     .use_internal_addr(true);
    /// assert_eq!(body.url, "http://trivy-adapter:8080");
    /// ```
    #[must_use]
    pub fn bearer(self, token: impl Into<Secret>) -> Self {
        self.auth(ScannerAuth::Bearer, token.into())
    }

    /// Authenticates with `Authorization: Basic`, from `user:password`.
    #[must_use]
    pub fn basic(self, user: &str, password: &str) -> Self {
        self.auth(
            ScannerAuth::Basic,
            Secret::new(format!("{user}:{password}")),
        )
    }

    /// Authenticates with `X-ScannerAdapter-API-Key: <key>`.
    #[must_use]
    pub fn api_key(self, key: impl Into<Secret>) -> Self {
        self.auth(ScannerAuth::ApiKey, key.into())
    }

    fn auth(mut self, auth: ScannerAuth, credential: Secret) -> Self {
        self.auth = Some(auth);
        self.access_credential = Some(credential);
        self
    }

    /// What the scanner is.
    #[must_use]
    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.description = Some(text.into());
        self
    }

    /// Whether Harbor skips verifying the adapter's certificate.
    #[must_use]
    pub fn skip_cert_verify(mut self, skip: bool) -> Self {
        self.skip_cert_verify = Some(skip);
        self
    }

    /// Whether the adapter pulls through Harbor's internal registry address.
    #[must_use]
    pub fn use_internal_addr(mut self, on: bool) -> Self {
        self.use_internal_addr = Some(on);
        self
    }
}
