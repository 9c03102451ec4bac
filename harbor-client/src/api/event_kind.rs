//! One vocabulary for webhook event types: the API's [`WebhookEventType`] (what a policy
//! subscribes to) and [`EventKind`] (what a receiver decodes, shared with `harbor-events`)
//! convert both ways and compare equal when they name the same event.
//!
//! A known kind maps to its Harbor 2.x name (`PUSH_ARTIFACT`); text either side does not know
//! is kept (`WebhookEventType::Other` ↔ `EventKind::Unknown`). Kinds no policy can subscribe
//! to (`testEndpoint`, the registry's blob events) become `WebhookEventType::Other` with
//! [`EventKind::as_str`]'s text.

use std::borrow::Cow;

use harbor_types::EventKind;

use super::models::WebhookEventType;

impl From<&EventKind<'_>> for WebhookEventType {
    fn from(kind: &EventKind<'_>) -> Self {
        WebhookEventType::from(kind.as_str())
    }
}

impl From<EventKind<'_>> for WebhookEventType {
    fn from(kind: EventKind<'_>) -> Self {
        match kind {
            EventKind::Unknown(text) => WebhookEventType::from(text.into_owned()),
            known => WebhookEventType::from(&known),
        }
    }
}

impl From<&WebhookEventType> for EventKind<'static> {
    fn from(event_type: &WebhookEventType) -> Self {
        EventKind::parse(Cow::Owned(event_type.as_str().to_owned()))
    }
}

impl From<WebhookEventType> for EventKind<'static> {
    fn from(event_type: WebhookEventType) -> Self {
        match event_type {
            WebhookEventType::Other(text) => EventKind::parse(Cow::Owned(text)),
            known => EventKind::from(&known),
        }
    }
}

impl PartialEq<EventKind<'_>> for WebhookEventType {
    #[allow(
        clippy::cmp_owned,
        reason = "the conversion allocates only for an unknown kind, whose text is compared"
    )]
    fn eq(&self, kind: &EventKind<'_>) -> bool {
        *self == WebhookEventType::from(kind)
    }
}

impl PartialEq<WebhookEventType> for EventKind<'_> {
    fn eq(&self, event_type: &WebhookEventType) -> bool {
        event_type == self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kind a Harbor 2.x policy can subscribe to.
    const SUBSCRIBABLE: [EventKind<'static>; 13] = [
        EventKind::PushArtifact,
        EventKind::PullArtifact,
        EventKind::DeleteArtifact,
        EventKind::UploadChart,
        EventKind::DownloadChart,
        EventKind::DeleteChart,
        EventKind::ScanningCompleted,
        EventKind::ScanningFailed,
        EventKind::ScanningStopped,
        EventKind::QuotaExceed,
        EventKind::QuotaWarning,
        EventKind::Replication,
        EventKind::TagRetention,
    ];

    #[test]
    fn every_known_policy_type_is_a_known_event_kind_and_back() {
        for t in WebhookEventType::KNOWN {
            let kind = EventKind::from(t);
            assert!(!kind.is_unknown(), "{t} has no EventKind");
            assert_eq!(kind.as_str(), t.as_str());
            assert_eq!(WebhookEventType::from(&kind), *t);
            assert_eq!(*t, kind);
            assert_eq!(kind, *t);
        }
        assert_eq!(WebhookEventType::KNOWN.len(), SUBSCRIBABLE.len());
        for kind in SUBSCRIBABLE {
            let t = WebhookEventType::from(kind.clone());
            assert!(t.is_known(), "{kind} is not a policy event type");
            assert_eq!(EventKind::from(t), kind);
        }
    }

    #[test]
    fn text_either_side_does_not_know_is_kept_both_ways() {
        let newer = WebhookEventType::from("ARTIFACT_SIGNED");
        let kind = EventKind::from(newer.clone());
        assert_eq!(kind, EventKind::Unknown(Cow::Borrowed("ARTIFACT_SIGNED")));
        assert_eq!(WebhookEventType::from(kind), newer);

        let unknown = EventKind::parse("harbor.artifact.signed");
        assert_eq!(
            WebhookEventType::from(&unknown),
            WebhookEventType::Other("harbor.artifact.signed".into())
        );
    }

    #[test]
    fn kinds_no_policy_subscribes_to_stay_distinct() {
        for kind in [
            EventKind::TestEndpoint,
            EventKind::BlobPush,
            EventKind::BlobPull,
            EventKind::BlobMount,
            EventKind::BlobDelete,
        ] {
            let t = WebhookEventType::from(&kind);
            assert!(!t.is_known(), "{kind}");
            assert!(WebhookEventType::KNOWN.iter().all(|k| *k != kind));
        }
    }

    #[test]
    fn a_policy_matches_events_decoded_from_any_format() {
        // The 1.x and CloudEvents names decode to the kind a 2.x policy names.
        let policy = [
            WebhookEventType::PushArtifact,
            WebhookEventType::ScanningCompleted,
        ];
        for text in ["pushImage", "harbor.artifact.pushed", "scanningCompleted"] {
            let kind = EventKind::parse(text);
            assert!(policy.iter().any(|t| *t == kind), "{text}");
        }
        assert!(!policy.iter().any(|t| *t == EventKind::parse("pullImage")));
    }
}
