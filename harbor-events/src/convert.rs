//! Conversions between the wire formats and the unified [`Event`].

use std::borrow::Cow;

use crate::v2::{Repository, Resource};
use crate::{
    Error, Event, EventKind, Format, Payload, Result, cloudevents, distribution, v1, v1_documented,
    v2,
};

/// Media type given to artifact events encoded as registry notifications.
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

fn base<'a>(kind: EventKind<'a>, format: Format) -> Event<'a> {
    let mut event = Event::new(kind);
    event.format = format;
    event
}

/// Splits `project/name…` keeping borrowed text borrowed.
fn split_full_name<'a>(full: &Cow<'a, str>) -> (Cow<'a, str>, Cow<'a, str>) {
    match full {
        Cow::Borrowed(s) => {
            let (ns, name) = s.split_once('/').unwrap_or(("", s));
            (Cow::Borrowed(ns), Cow::Borrowed(name))
        }
        Cow::Owned(s) => {
            let (ns, name) = s.split_once('/').unwrap_or(("", s));
            (Cow::Owned(ns.to_owned()), Cow::Owned(name.to_owned()))
        }
    }
}

fn from_v1_resource(r: v1::Resource<'_>) -> Resource<'_> {
    Resource {
        digest: r.digest,
        tag: Some(r.tag),
        resource_url: r.resource_url,
        scan_overview: r.scan_overview,
        sbom_overview: None,
    }
}

pub(crate) fn into_events(payload: Payload<'_>) -> Vec<Event<'_>> {
    match payload {
        Payload::V1(p) => {
            let mut event = base(p.kind(), Format::V1);
            event.occurred_at = p.occur_at;
            event.operator = p.operator;
            if let Some(d) = p.event_data {
                event.data.resources = d.resources.into_iter().map(from_v1_resource).collect();
                event.data.repository = Some(d.repository);
                event.data.custom_attributes = d.custom_attributes;
            }
            vec![event]
        }
        Payload::V2(p) => {
            let mut event = base(p.kind(), Format::V2);
            event.occurred_at = p.occur_at;
            event.operator = p.operator;
            event.data = p.event_data.map(|d| *d).unwrap_or_default();
            vec![event]
        }
        Payload::CloudEvent(p) => {
            let mut event = base(p.kind(), Format::CloudEvents);
            event.occurred_at = p.time;
            event.operator = p.operator.unwrap_or_default();
            event.id = Some(p.id);
            event.source = Some(p.source);
            event.request_id = p.requestid;
            event.data = p.data.map(|d| *d).unwrap_or_default();
            vec![event]
        }
        Payload::V1Documented(p) => {
            let kind = p.kind();
            p.events
                .into_iter()
                .map(|e| {
                    let mut event = base(kind.clone(), Format::V1Documented);
                    event.occurred_at = e.trigger_time;
                    event.data.repository = Some(Repository {
                        date_created: None,
                        name: e.repo_name,
                        namespace: e.project,
                        repo_full_name: e.full_name,
                        repo_type: e.project_type,
                    });
                    let digest = if e.image_id.is_empty() {
                        None
                    } else if e.image_id.len() == 64
                        && e.image_id.bytes().all(|b| b.is_ascii_hexdigit())
                    {
                        Some(Cow::Owned(format!("sha256:{}", e.image_id)))
                    } else {
                        Some(e.image_id)
                    };
                    event.data.resources = vec![Resource {
                        digest,
                        tag: Some(e.tag),
                        ..Resource::default()
                    }];
                    event
                })
                .collect()
        }
        Payload::Distribution(p) => p.events.into_iter().map(from_registry).collect(),
    }
}

fn from_registry(e: distribution::Event<'_>) -> Event<'_> {
    let mut event = base(e.kind(), Format::Distribution);
    event.occurred_at = e.timestamp;
    event.operator = e.actor.name.clone().unwrap_or_default();
    event.id = (!e.id.is_empty()).then(|| e.id.clone());
    event.request_id = e.request.id.clone();
    if let Some(full) = &e.target.repository {
        let (namespace, name) = split_full_name(full);
        event.data.repository = Some(Repository {
            name,
            namespace,
            repo_full_name: full.clone(),
            ..Repository::default()
        });
        let resource_url = e.request.host.as_deref().map(|host| {
            Cow::Owned(match (&e.target.tag, &e.target.digest) {
                (Some(tag), _) => format!("{host}/{full}:{tag}"),
                (None, Some(d)) => format!("{host}/{full}@{d}"),
                (None, None) => format!("{host}/{full}"),
            })
        });
        event.data.resources = vec![Resource {
            digest: e.target.digest.clone(),
            tag: e.target.tag.clone(),
            resource_url,
            ..Resource::default()
        }];
    }
    event.registry = Some(e);
    event
}

impl<'a> Event<'a> {
    fn type_name(&self, format: Format) -> Result<Cow<'a, str>> {
        match &self.kind {
            EventKind::Unknown(text) if format != Format::Distribution => Ok(text.clone()),
            kind => {
                kind.known_name(format)
                    .map(Cow::Borrowed)
                    .ok_or_else(|| Error::UnsupportedKind {
                        kind: kind.to_string(),
                        format,
                    })
            }
        }
    }

    /// Builds the payload of this event in `format`, to send to an endpoint (e.g. in tests).
    ///
    /// Missing attributes get documented defaults: CloudEvents `id` `<kind>-<unix seconds>`,
    /// `source` `/harbor-events`, `requestid` `""`; registry events an OCI manifest media
    /// type. 1.x and 2.x carry whole seconds.
    ///
    /// # Errors
    ///
    /// [`Error::UnsupportedKind`] when the format cannot express the kind (e.g. `REPLICATION`
    /// in 1.x, chart events in CloudEvents, quota events in registry notifications).
    ///
    /// # Example
    ///
    /// ```
    /// use harbor_events::{Event, EventKind, Format};
    ///
    /// let event = Event::artifact_event(
    ///     EventKind::PushArtifact,
    ///     "library/alpine",
    ///     "sha256:954b378c375d852eb3c63ab88978f640b4348b01c1b3456a024a81536dafbbf4",
    ///     Some("3.19"),
    /// )
    /// .with_operator("admin")
    /// .with_id("b3b0c9a4-0d1e-4a0e-9a43-7d4f2b1d3e55");
    /// for format in [Format::V1, Format::V2, Format::CloudEvents, Format::Distribution] {
    ///     let body = event.encode(format)?;
    ///     let back = harbor_events::decode(&body)?;
    ///     assert_eq!(back.format(), format);
    ///     assert_eq!(back.events()[0].artifact().unwrap().tag, Some("3.19"));
    /// }
    /// # Ok::<(), harbor_events::Error>(())
    /// ```
    pub fn to_payload(&self, format: Format) -> Result<Payload<'a>> {
        let event_type = self.type_name(format)?;
        Ok(match format {
            Format::V2 => Payload::V2(v2::Payload {
                event_type,
                occur_at: self.occurred_at,
                operator: self.operator.clone(),
                event_data: Some(Box::new(self.data.clone())),
            }),
            Format::V1 => {
                let d = &self.data;
                let data = v1::EventData {
                    resources: d
                        .resources
                        .iter()
                        .map(|r| v1::Resource {
                            digest: r.digest.clone(),
                            tag: r.tag.clone().unwrap_or_default(),
                            resource_url: r.resource_url.clone(),
                            scan_overview: r.scan_overview.clone(),
                        })
                        .collect(),
                    repository: d.repository.clone().unwrap_or_default(),
                    custom_attributes: d.custom_attributes.clone(),
                };
                Payload::V1(v1::Payload {
                    event_type,
                    occur_at: self.occurred_at,
                    operator: self.operator.clone(),
                    event_data: Some(Box::new(data)),
                })
            }
            Format::CloudEvents => Payload::CloudEvent(cloudevents::CloudEvent {
                specversion: Cow::Borrowed("1.0"),
                id: self.id.clone().unwrap_or_else(|| {
                    Cow::Owned(format!(
                        "{}-{}",
                        self.kind.as_str().to_ascii_lowercase(),
                        self.occurred_at.timestamp()
                    ))
                }),
                source: self
                    .source
                    .clone()
                    .unwrap_or(Cow::Borrowed("/harbor-events")),
                event_type,
                datacontenttype: Some(Cow::Borrowed("application/json")),
                time: self.occurred_at,
                data: Some(Box::new(self.data.clone())),
                requestid: Some(self.request_id.clone().unwrap_or_default()),
                operator: Some(self.operator.clone()),
                extensions: crate::StrMap::new(),
            }),
            Format::V1Documented => {
                let repo = self.data.repository.clone().unwrap_or_default();
                let resources = self.data.resources.clone();
                let one = |r: Option<Resource<'a>>| {
                    let r = r.unwrap_or_default();
                    let image_id = match r.digest {
                        Some(Cow::Borrowed(d)) => {
                            Cow::Borrowed(d.strip_prefix("sha256:").unwrap_or(d))
                        }
                        Some(Cow::Owned(d)) => {
                            Cow::Owned(d.strip_prefix("sha256:").unwrap_or(&d).to_owned())
                        }
                        None => Cow::Borrowed(""),
                    };
                    v1_documented::DocumentedEvent {
                        project: repo.namespace.clone(),
                        repo_name: repo.name.clone(),
                        tag: r.tag.unwrap_or_default(),
                        full_name: repo.repo_full_name.clone(),
                        trigger_time: self.occurred_at,
                        image_id,
                        project_type: repo.repo_type.clone(),
                    }
                };
                let events = if resources.is_empty() {
                    vec![one(None)]
                } else {
                    resources.into_iter().map(|r| one(Some(r))).collect()
                };
                Payload::V1Documented(v1_documented::Payload { event_type, events })
            }
            Format::Distribution => {
                let resources = self.data.resources.clone();
                let one = |r: Option<Resource<'a>>| {
                    let mut e = self.registry.clone().unwrap_or_default();
                    e.id = self.id.clone().unwrap_or_else(|| {
                        Cow::Owned(format!("{}-{}", event_type, self.occurred_at.timestamp()))
                    });
                    e.timestamp = self.occurred_at;
                    e.action = event_type.clone();
                    if let Some(r) = r {
                        e.target.digest = r.digest.clone();
                        e.target.tag = r.tag.clone().filter(|_| r.real_tag().is_some());
                    }
                    if let Some(repo) = &self.data.repository {
                        e.target.repository = Some(repo.repo_full_name.clone());
                    }
                    if e.target.media_type.is_none()
                        && matches!(
                            self.kind,
                            EventKind::PushArtifact
                                | EventKind::PullArtifact
                                | EventKind::DeleteArtifact
                        )
                    {
                        e.target.media_type = Some(Cow::Borrowed(OCI_MANIFEST));
                    }
                    if !self.operator.is_empty() {
                        e.actor.name = Some(self.operator.clone());
                    }
                    if self.request_id.is_some() {
                        e.request.id = self.request_id.clone();
                    }
                    e
                };
                let events = if resources.is_empty() {
                    vec![one(None)]
                } else {
                    resources.into_iter().map(|r| one(Some(r))).collect()
                };
                Payload::Distribution(distribution::Envelope { events })
            }
            // A format added to the shared `Format` that this crate cannot write yet.
            _ => {
                return Err(Error::UnsupportedKind {
                    kind: self.kind.to_string(),
                    format,
                });
            }
        })
    }

    /// Encodes this event in `format` as compact JSON (see [`Event::to_payload`]).
    ///
    /// # Errors
    ///
    /// As [`Event::to_payload`], and [`Error::Encode`].
    pub fn encode(&self, format: Format) -> Result<Vec<u8>> {
        self.to_payload(format)?.to_vec()
    }

    /// Encodes this event in its own [`Event::format`].
    ///
    /// # Errors
    ///
    /// As [`Event::encode`].
    pub fn encode_default(&self) -> Result<Vec<u8>> {
        self.encode(self.format)
    }
}
