//! A watch on the UserPoolMfaConfig objects of one namespace, held for a test or a phase: when each
//! became Ready, and its MODIFIED events (status writes) before and after.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use kube::ResourceExt;
use kube::api::{Api, ListParams, WatchEvent, WatchParams};

use cognito_mfa_operator::api::UserPoolMfaConfig;

use crate::unix_now;

/// What a watch saw of one object.
#[derive(Default, Clone, Debug)]
pub struct Track {
    /// First time it was seen Ready=True at its generation: (instant, unix seconds).
    pub ready: Option<(Instant, f64)>,
    /// MODIFIED events up to and including the one that made it Ready.
    pub modified_before_ready: u32,
    /// MODIFIED events after it was Ready.
    pub modified_after_ready: u32,
    /// After it was Ready: when (unix seconds) an event found it no longer Ready=True at its
    /// generation, having been so at the event before.
    pub left_ready: Vec<f64>,
    /// Whether the last event found it Ready=True at its generation.
    pub ready_now: bool,
}

#[derive(Default)]
struct WatchState {
    tracks: HashMap<String, Track>,
    error: Option<String>,
}

pub struct Tracker {
    state: Arc<Mutex<WatchState>>,
    task: tokio::task::JoinHandle<()>,
}

fn is_ready(o: &UserPoolMfaConfig) -> bool {
    o.status.as_ref().is_some_and(|s| {
        s.observed_generation == o.metadata.generation
            && s.ready().is_some_and(|c| c.status == "True")
    })
}

impl Tracker {
    /// Starts watching from now: objects already present are seen only when they change.
    pub async fn start(api: Api<UserPoolMfaConfig>) -> Self {
        let list = api
            .list_metadata(&ListParams::default())
            .await
            .expect("list UserPoolMfaConfig");
        let mut rv = list.metadata.resource_version.unwrap_or_else(|| "0".into());
        let state = Arc::new(Mutex::new(WatchState::default()));
        let shared = state.clone();
        let task = tokio::spawn(async move {
            loop {
                let wp = WatchParams::default().timeout(290);
                let events = match api.watch(&wp, &rv).await {
                    Ok(events) => events,
                    Err(e) => {
                        eprintln!("bench: watch failed, retrying: {e}");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        continue;
                    }
                };
                let mut events = std::pin::pin!(events);
                while let Some(event) = events.next().await {
                    let (now, unix) = (Instant::now(), unix_now());
                    let (obj, modified) = match event {
                        Ok(WatchEvent::Added(o)) => (o, false),
                        Ok(WatchEvent::Modified(o)) => (o, true),
                        Ok(WatchEvent::Deleted(o)) => {
                            rv = o.resource_version().unwrap_or(rv);
                            continue;
                        }
                        Ok(WatchEvent::Bookmark(b)) => {
                            rv = b.metadata.resource_version;
                            continue;
                        }
                        Ok(WatchEvent::Error(status)) => {
                            // 410 Gone: events were lost, the counts would be wrong.
                            shared.lock().unwrap().error =
                                Some(format!("watch error {}: {}", status.code, status.message));
                            return;
                        }
                        Err(e) => {
                            eprintln!("bench: watch stream ended with an error, resuming: {e}");
                            break;
                        }
                    };
                    rv = obj.resource_version().unwrap_or(rv);
                    let mut state = shared.lock().unwrap();
                    let track = state.tracks.entry(obj.name_any()).or_default();
                    let ready = is_ready(&obj);
                    match (track.ready.is_some(), modified) {
                        (true, true) => track.modified_after_ready += 1,
                        (true, false) => {}
                        (false, _) => {
                            track.modified_before_ready += u32::from(modified);
                            if ready {
                                track.ready = Some((now, unix));
                            }
                        }
                    }
                    if track.ready_now && !ready {
                        track.left_ready.push(unix);
                    }
                    track.ready_now = ready;
                }
            }
        });
        Self { state, task }
    }

    fn check(&self) {
        if let Some(e) = &self.state.lock().unwrap().error {
            panic!("the bench's watch failed: {e}");
        }
    }

    pub fn ready_count(&self) -> usize {
        self.check();
        let state = self.state.lock().unwrap();
        state.tracks.values().filter(|t| t.ready.is_some()).count()
    }

    pub fn track(&self, name: &str) -> Option<Track> {
        self.check();
        self.state.lock().unwrap().tracks.get(name).cloned()
    }

    pub fn snapshot(&self) -> HashMap<String, Track> {
        self.check();
        self.state.lock().unwrap().tracks.clone()
    }

    /// Waits until `n` objects are Ready; reports progress every 5 s.
    pub async fn wait_ready(&self, n: usize, timeout: Duration, what: &str) {
        let start = Instant::now();
        let mut last_note = Instant::now();
        loop {
            let ready = self.ready_count();
            if ready >= n {
                return;
            }
            if start.elapsed() > timeout {
                panic!("{what}: only {ready}/{n} resources Ready after {timeout:?}");
            }
            if last_note.elapsed() > Duration::from_secs(5) {
                eprintln!(
                    "bench: {what}: {ready}/{n} Ready after {:.0?}",
                    start.elapsed()
                );
                last_note = Instant::now();
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for Tracker {
    fn drop(&mut self) {
        self.task.abort();
    }
}
