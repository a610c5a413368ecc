//! Kubernetes Events about the resources (events.k8s.io/v1), published as kube's `Recorder`
//! does: a new Event the first time, and a repeat of the same event within six minutes
//! becomes a patch of that Event's series (count, last seen) instead of a new object. Unlike
//! kube's `Recorder`, which keeps every Event it published for six minutes and scans them all
//! at each publish, this keeps only what a repeat needs (the stamp in the Event's name, its
//! count, when it was last seen) and sweeps them once a minute (a deleted resource's go with the
//! sweep): at 10,000 resources converging, kube's kept 35 MB of the operator's heap and scanned
//! 10,000 Events per publish.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Patch, PatchParams, PostParams};
use kube::core::Request;
use kube::{Client, Resource};
use serde_json::json;

use crate::api::UserPoolMfaConfig;

/// How long a repeat is merged into the Event it repeats (as kube's `Recorder`).
const SERIES_WINDOW: Duration = Duration::from_secs(6 * 60);
/// How often the expired entries are dropped.
const SWEEP_EVERY: Duration = Duration::from_secs(60);
/// The action of every Event: what the operator was doing.
const ACTION: &str = "Reconcile";

/// An Event to publish about one resource.
pub struct Notice<'a> {
    pub warning: bool,
    pub reason: &'static str,
    pub note: &'a str,
}

/// What makes a repeat: the object, the type and the reason (as kube's `Recorder`; the note is
/// not part of it: a repeat keeps the first note).
#[derive(Hash, PartialEq, Eq)]
struct Key {
    uid: String,
    warning: bool,
    reason: &'static str,
}

/// The Event a repeat patches (its name is the resource's and this stamp: one string less per
/// entry, of which there is one per resource and reason).
struct Published {
    stamp: i128,
    count: i32,
    last: Instant,
}

pub struct Events {
    client: Client,
    controller: String,
    instance: String,
    published: Mutex<(HashMap<Key, Published>, Instant)>,
}

impl Events {
    pub fn new(client: Client, controller: &str, instance: &str) -> Self {
        Self {
            client,
            controller: controller.to_owned(),
            instance: instance.to_owned(),
            published: Mutex::new((HashMap::new(), Instant::now())),
        }
    }

    /// Publishes `notice` about `obj`: a new Event, or a repeat counted on the one it repeats.
    pub async fn publish(&self, obj: &UserPoolMfaConfig, notice: &Notice<'_>) -> kube::Result<()> {
        let regarding = obj.object_ref(&());
        let namespace = regarding.namespace.clone().unwrap_or_default();
        let key = Key {
            uid: regarding.uid.clone().unwrap_or_default(),
            warning: notice.warning,
            reason: notice.reason,
        };
        let repeat = self.repeat_of(&key);
        let events = Request::new(Event::url_path(&(), Some(&namespace)));
        let now = Timestamp::now();
        let (request, stamp, count) = match repeat {
            Some((stamp, count)) => {
                let series =
                    json!({"series": {"count": count, "lastObservedTime": MicroTime(now)}});
                let name = self.name(&regarding, stamp);
                let request = events.patch(&name, &PatchParams::default(), &Patch::Merge(&series));
                (request, stamp, count)
            }
            None => {
                let stamp = now.as_nanosecond();
                let event = self.event(regarding, notice, stamp, now);
                let body = serde_json::to_vec(&event).map_err(kube::Error::SerdeError)?;
                (events.create(&PostParams::default(), body), stamp, 1)
            }
        };
        // The answer, the Event as stored, is not parsed: nothing reads it.
        let request = request.map_err(kube::Error::BuildRequest)?;
        self.client.request_text(request).await?;
        let mut published = self.published.lock().expect("events lock");
        published.0.insert(
            key,
            Published {
                stamp,
                count,
                last: Instant::now(),
            },
        );
        Ok(())
    }

    /// The stamp of the Event `key` repeats and the repeat's count, if one was published within
    /// the window; drops the expired entries once a minute.
    fn repeat_of(&self, key: &Key) -> Option<(i128, i32)> {
        let mut published = self.published.lock().expect("events lock");
        let (entries, swept) = &mut *published;
        if swept.elapsed() >= SWEEP_EVERY {
            entries.retain(|_, p| p.last.elapsed() < SERIES_WINDOW);
            *swept = Instant::now();
        }
        entries
            .get(key)
            .filter(|p| p.last.elapsed() < SERIES_WINDOW)
            .map(|p| (p.stamp, p.count + 1))
    }

    /// An Event's name, as kube's `Recorder` makes it: the resource's name and a stamp.
    fn name(&self, regarding: &ObjectReference, stamp: i128) -> String {
        let resource = regarding.name.as_deref().unwrap_or(&self.controller);
        format!("{resource}.{stamp:x}")
    }

    fn event(
        &self,
        regarding: ObjectReference,
        notice: &Notice<'_>,
        stamp: i128,
        now: Timestamp,
    ) -> Event {
        Event {
            metadata: ObjectMeta {
                name: Some(self.name(&regarding, stamp)),
                namespace: regarding.namespace.clone(),
                ..ObjectMeta::default()
            },
            action: Some(ACTION.to_owned()),
            reason: Some(notice.reason.to_owned()),
            note: Some(notice.note.to_owned()),
            type_: Some(if notice.warning { "Warning" } else { "Normal" }.to_owned()),
            event_time: Some(MicroTime(now)),
            reporting_controller: Some(self.controller.clone()),
            reporting_instance: Some(self.instance.clone()),
            regarding: Some(regarding),
            ..Event::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use http::{Request, Response};
    use kube::client::Body;
    use serde_json::Value;

    use super::*;

    /// (method, path, body) of each request the API server received.
    type Sent = Arc<Mutex<Vec<(String, String, Value)>>>;

    /// A client whose API server answers `{}` to every request (no answer is read), and the
    /// requests it received.
    fn api_server() -> (Client, Sent) {
        let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let sent = Arc::new(Mutex::new(Vec::new()));
        let record = sent.clone();
        tokio::spawn(async move {
            while let Some((request, respond)) = handle.next_request().await {
                let (method, path) = (
                    request.method().to_string(),
                    request.uri().path().to_owned(),
                );
                let bytes = request.into_body().collect_bytes().await.unwrap();
                let body: Value = serde_json::from_slice(&bytes).unwrap();
                record.lock().unwrap().push((method, path, body));
                respond.send_response(
                    Response::builder()
                        .header("content-type", "application/json")
                        .body(Body::from(b"{}".to_vec()))
                        .unwrap(),
                );
            }
        });
        (Client::new(service, "default"), sent)
    }

    fn resource(name: &str) -> UserPoolMfaConfig {
        serde_json::from_value(json!({
            "apiVersion": "cognitoidp.operators.dev/v1alpha1",
            "kind": "UserPoolMfaConfig",
            "metadata": {"name": name, "namespace": "team", "uid": format!("uid-{name}")},
            "spec": {"userPoolId": "us-east-1_a", "mfaConfiguration": "OFF"},
        }))
        .unwrap()
    }

    #[tokio::test]
    async fn a_repeat_counts_on_the_event_it_repeats_and_anything_else_is_a_new_event() {
        let (client, sent) = api_server();
        let events = Events::new(client, "cognito-mfa-operator", "replica-a");
        let failed = Notice {
            warning: true,
            reason: "InvalidSpec",
            note: "spec.mfaConfiguration: ON needs a factor",
        };
        events.publish(&resource("r"), &failed).await.unwrap();
        let reworded = Notice {
            note: "another note",
            ..failed
        };
        events.publish(&resource("r"), &reworded).await.unwrap();
        events.publish(&resource("r"), &failed).await.unwrap();
        let applied = Notice {
            warning: false,
            reason: "Applied",
            note: "ON: TOTP",
        };
        events.publish(&resource("r"), &applied).await.unwrap();
        events.publish(&resource("other"), &failed).await.unwrap();

        let sent = sent.lock().unwrap();
        let (method, path, first) = &sent[0];
        assert_eq!(
            (method.as_str(), path.as_str()),
            ("POST", "/apis/events.k8s.io/v1/namespaces/team/events")
        );
        let name = first["metadata"]["name"].as_str().unwrap();
        assert!(name.starts_with("r."), "{name}");
        for (field, value) in [
            ("type", "Warning"),
            ("reason", "InvalidSpec"),
            ("note", "spec.mfaConfiguration: ON needs a factor"),
            ("action", "Reconcile"),
            ("reportingController", "cognito-mfa-operator"),
            ("reportingInstance", "replica-a"),
        ] {
            assert_eq!(first[field], value, "{field}");
        }
        assert_eq!(first["regarding"]["uid"], "uid-r");
        assert_eq!(first["regarding"]["kind"], "UserPoolMfaConfig");
        // The repeats (the note is not part of what makes one): patches of that Event's series.
        let path = format!("/apis/events.k8s.io/v1/namespaces/team/events/{name}");
        for (i, count) in [(1, 2), (2, 3)] {
            assert_eq!(
                (sent[i].0.as_str(), sent[i].1.as_str()),
                ("PATCH", path.as_str())
            );
            assert_eq!(sent[i].2["series"]["count"], count);
            assert!(sent[i].2["series"]["lastObservedTime"].is_string());
        }
        // Another reason, and the same reason about another object: new Events.
        assert_eq!(
            (sent[3].0.as_str(), sent[3].2["reason"].as_str()),
            ("POST", Some("Applied"))
        );
        assert_eq!(
            (sent[4].0.as_str(), sent[4].2["reason"].as_str()),
            ("POST", Some("InvalidSpec"))
        );
        assert_eq!(sent.len(), 5);
    }
}
