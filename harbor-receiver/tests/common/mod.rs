//! Payloads and helpers shared by this crate's integration tests.

#![allow(dead_code, unreachable_pub)]

use bytes::Bytes;
use harbor_events::Format;
use harbor_receiver::{Delivery, DeliveryKey};

/// A Harbor 2.x "Default" PUSH_ARTIFACT body for tag `v{n}` (distinct bytes per `n`).
pub fn v2_push(n: usize) -> String {
    format!(
        r#"{{"type":"PUSH_ARTIFACT","occur_at":1680501893,"operator":"admin","event_data":{{"resources":[{{"digest":"sha256:954b378c375d852eb3c63ab88978f640b4348b01c1b3456a024a81536dafbbf4","tag":"v{n}","resource_url":"harbor.example.com/library/alpine:v{n}"}}],"repository":{{"date_created":1680501800,"name":"alpine","namespace":"library","repo_full_name":"library/alpine","repo_type":"public"}}}}}}"#
    )
}

/// A Harbor 2.8+ CloudEvents body with id `id`.
pub fn cloudevent(id: &str) -> String {
    format!(
        r#"{{"specversion":"1.0","id":"{id}","requestid":"r-{id}","source":"/projects/1/webhook/policies/2","type":"harbor.artifact.pushed","datacontenttype":"application/json","time":"2023-04-03T06:12:52Z","data":{{"resources":[{{"digest":"sha256:954b378c375d852eb3c63ab88978f640b4348b01c1b3456a024a81536dafbbf4","tag":"ce","resource_url":"harbor.example.com/library/alpine:ce"}}],"repository":{{"name":"alpine","namespace":"library","repo_full_name":"library/alpine","repo_type":"public"}}}},"operator":"admin"}}"#
    )
}

/// A v2 delivery as the receiver would store it.
pub fn delivery(n: usize) -> Delivery {
    let body = Bytes::from(v2_push(n));
    Delivery::new(DeliveryKey::for_body(&body), Format::V2, body)
}
