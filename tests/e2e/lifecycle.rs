//! A resource's life: examples, spec changes, drift, conflicts and deletion.

use std::time::Duration;

use cognito_mfa_operator::api::{ManagementPolicy, RESET_FINALIZER, UserPoolMfaConfig};
use cognito_mfa_operator::logic::drift::{diff, normalise, reset};
use kube::api::{Patch, PatchParams};
use kube::{Api, ResourceExt};
use serde_json::{Value, json};

use test_kit::*;

/// The MFA part of a spec in the API's PascalCase shape (for seeding the emulator).
fn pascal_case(v: &Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| {
                    !matches!(
                        k.as_str(),
                        "userPoolId" | "managementPolicy" | "deletionPolicy"
                    )
                })
                .map(|(k, v)| (k[..1].to_ascii_uppercase() + &k[1..], pascal_case(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

async fn events_for(ns: &str, name: &str) -> Vec<String> {
    let out = env()
        .kubectl(&["get", "events.events.k8s.io", "-n", ns, "-o", "json"])
        .success()
        .stdout;
    let list: Value = serde_json::from_str(&out).unwrap();
    list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["regarding"]["name"] == name)
        .map(|e| e["reason"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn every_example_reaches_ready_and_the_pool_holds_it() {
    let env = env();
    let ns = env.namespace("examples");
    let _op = Operator::start(&ns);
    let api: Api<UserPoolMfaConfig> = env.api(&ns).await;
    let dir = test_kit::repo().join("deploy/examples");
    let mut names = vec![];
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let mut obj: Value = serde_saphyr::from_str(&text).unwrap();
        obj["metadata"]["namespace"] = ns.clone().into();
        let spec = obj["spec"].clone();
        let pool = spec["userPoolId"].as_str().unwrap().to_owned();
        let (status, body) = env.emulator(
            "POST",
            "/_emulator/pools",
            Some(json!({"id": pool, "tier": "ESSENTIALS", "emailSendingAccount": "DEVELOPER"})),
        );
        assert!(status == 200 || status == 409, "{body}");
        if spec["managementPolicy"] == "Observe" {
            env.put_pool_mfa(&pool, pascal_case(&spec));
        }
        env.kubectl_with_input(&["apply", "-f", "-"], &obj.to_string())
            .success();
        names.push((
            obj["metadata"]["name"].as_str().unwrap().to_owned(),
            pool,
            path,
        ));
    }
    assert!(
        names.len() >= 5,
        "deploy/examples covers each mode and factor"
    );
    for (name, pool, path) in &names {
        wait_reason(&api, name, "Synced", Duration::from_secs(30)).await;
        let obj = api.get(name).await.unwrap();
        let held = env.pool_mfa(pool);
        assert_eq!(
            diff(&obj.spec.mfa, &held),
            Vec::<&str>::new(),
            "{} differs in the emulator",
            path.display()
        );
        if obj.spec.management_policy == ManagementPolicy::Observe {
            // The pool was seeded with the spec: what matters is that it was only read.
            assert_eq!(
                env.calls(pool, "SetUserPoolMfaConfig"),
                0,
                "{}",
                path.display()
            );
        }
        assert_eq!(
            obj.status.unwrap().live_configuration,
            Some(normalise(held))
        );
    }
    for (name, ..) in &names {
        delete(&api, name).await;
    }
}

#[tokio::test]
async fn a_spec_change_is_one_set_and_advances_the_status() {
    let env = env();
    let ns = env.namespace("change");
    let mut opts = OperatorOptions::new(&ns);
    opts.resync = "1h";
    let _op = Operator::start_with(opts);
    let api: Api<UserPoolMfaConfig> = env.api(&ns).await;
    let pool = env.new_pool();

    create(&api, &resource(&ns, "change", totp_on(&pool))).await;
    wait_reason(&api, "change", "Synced", Duration::from_secs(30)).await;
    assert_eq!(
        (
            env.calls(&pool, "SetUserPoolMfaConfig"),
            env.calls(&pool, "GetUserPoolMfaConfig")
        ),
        (1, 0),
        "one Set, no read before it"
    );
    let first = api.get("change").await.unwrap();
    assert_eq!(first.status.as_ref().unwrap().observed_generation, Some(1));
    tokio::time::sleep(Duration::from_millis(1100)).await; // status times have second precision

    let patch = json!({"spec": {"mfaConfiguration": "OPTIONAL", "emailMfaConfiguration": {"message": "Code {####}", "subject": "Code"}}});
    api.patch("change", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    wait_for(
        Duration::from_secs(30),
        "generation 2 to be synced",
        async || {
            ready_at_generation(&api, "change")
                .await
                .filter(|r| r.1 == "Synced" && r.0 == "True")
        },
    )
    .await;
    let second = api.get("change").await.unwrap();
    let status = second.status.as_ref().unwrap();
    assert_eq!(status.observed_generation, Some(2));
    let live = status.live_configuration.as_ref().unwrap();
    assert_eq!(live.mfa_configuration.as_str(), "OPTIONAL");
    assert!(live.email_mfa_configuration.is_some());
    let first_sync = first.status.as_ref().unwrap().last_sync_time.clone();
    assert!(
        first_sync.is_some() && status.last_sync_time > first_sync,
        "the sync time moved on: {:?} -> {:?}",
        first_sync,
        status.last_sync_time
    );
    assert_eq!(
        (
            env.calls(&pool, "SetUserPoolMfaConfig"),
            env.calls(&pool, "GetUserPoolMfaConfig")
        ),
        (2, 0)
    );
    assert!(env.pool_mfa(&pool).email_mfa_configuration.is_some());
    // The recorder folds repeated events (same reason) into one object with a series count.
    let events: Value = serde_json::from_str(
        &env.kubectl(&["get", "events.events.k8s.io", "-n", &ns, "-o", "json"])
            .success()
            .stdout,
    )
    .unwrap();
    let applied: u64 = events["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["regarding"]["name"] == "change" && e["reason"] == "Applied")
        .map(|e| e["series"]["count"].as_u64().unwrap_or(1))
        .sum();
    assert_eq!(applied, 2, "one Applied event per generation");
    assert!(
        !first.finalizers().iter().any(|f| f == RESET_FINALIZER),
        "Retain adds no finalizer"
    );
}

#[tokio::test]
async fn drift_is_corrected_and_a_steady_state_writes_nothing() {
    let env = env();
    let ns = env.namespace("drift");
    let _op = Operator::start(&ns);
    let api: Api<UserPoolMfaConfig> = env.api(&ns).await;
    let pool = synced_totp(&api, &ns, "drift").await;

    // Steady state over three resync periods (2 s): reads only, no writes anywhere. Requests
    // are counted at the API server: an unchanged status apply would leave the object alone
    // yet still be a request.
    let rv = api.get("drift").await.unwrap().resource_version();
    let (sets, gets) = (
        env.calls(&pool, "SetUserPoolMfaConfig"),
        env.calls(&pool, "GetUserPoolMfaConfig"),
    );
    let writes = status_and_event_writes(&ns, "drift");
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(
        api.get("drift").await.unwrap().resource_version(),
        rv,
        "no status change at steady state"
    );
    assert_eq!(
        status_and_event_writes(&ns, "drift"),
        writes,
        "no status or event request at steady state"
    );
    assert_eq!(
        env.calls(&pool, "SetUserPoolMfaConfig"),
        sets,
        "no Cognito write at steady state"
    );
    let resyncs = env.calls(&pool, "GetUserPoolMfaConfig") - gets;
    assert!(
        (2..=4).contains(&resyncs),
        "one Get per resync, got {resyncs} in 3 periods"
    );

    env.put_pool_mfa(&pool, json!({"MfaConfiguration": "OFF"}));
    wait_until(Duration::from_secs(10), "the drift to be corrected", || {
        diff(
            &serde_json::from_value(totp_on(&pool)).unwrap(),
            &env.pool_mfa(&pool),
        )
        .is_empty()
    });
    assert_eq!(
        env.calls(&pool, "SetUserPoolMfaConfig"),
        sets + 1,
        "one write corrects the drift"
    );
    wait_for(
        Duration::from_secs(10),
        "a DriftCorrected event",
        async || {
            events_for(&ns, "drift")
                .await
                .contains(&"DriftCorrected".to_owned())
                .then_some(())
        },
    )
    .await;
}

#[tokio::test]
async fn observe_mode_reports_drift_and_never_writes() {
    let env = env();
    let ns = env.namespace("observe");
    let _op = Operator::start(&ns);
    let api: Api<UserPoolMfaConfig> = env.api(&ns).await;
    let pool = env.new_pool();
    env.put_pool_mfa(
        &pool,
        json!({"MfaConfiguration": "ON", "SoftwareTokenMfaConfiguration": {"Enabled": true}}),
    );
    let mut spec = totp_on(&pool);
    spec["managementPolicy"] = "Observe".into();
    create(&api, &resource(&ns, "observe", spec)).await;
    wait_reason(&api, "observe", "Synced", Duration::from_secs(30)).await;

    env.put_pool_mfa(&pool, json!({"MfaConfiguration": "OFF"}));
    let message = wait_reason(&api, "observe", "DriftDetected", Duration::from_secs(10)).await;
    assert!(
        message.contains("mfaConfiguration") && message.contains("softwareTokenMfaConfiguration"),
        "{message}"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        env.calls(&pool, "SetUserPoolMfaConfig"),
        0,
        "Observe never writes"
    );
    assert_eq!(
        env.pool_mfa(&pool),
        reset(),
        "the emulator is left as it was"
    );
    let live = api
        .get("observe")
        .await
        .unwrap()
        .status
        .unwrap()
        .live_configuration
        .unwrap();
    assert_eq!(live, reset(), "status shows the live configuration");
}

#[tokio::test]
async fn the_status_holds_live_values_the_spec_would_refuse() {
    let env = env();
    let ns = env.namespace("live-values");
    let _op = Operator::start(&ns);
    let api: Api<UserPoolMfaConfig> = env.api(&ns).await;
    let pool = env.new_pool();
    // Cognito can hold what a spec may not say: a message without the placeholder, a role
    // ARN that is not an IAM role, an external ID longer than IAM allows.
    let message = "Your code, without a placeholder";
    let external_id = "e".repeat(1500);
    env.put_pool_mfa(
        &pool,
        json!({"MfaConfiguration": "ON", "SmsMfaConfiguration": {"SmsAuthenticationMessage": message,
            "SmsConfiguration": {"SnsCallerArn": "arn:aws:sns:us-east-1:123456789012:not-a-role", "ExternalId": external_id}}}),
    );
    let mut spec = totp_on(&pool);
    spec["managementPolicy"] = "Observe".into();
    create(&api, &resource(&ns, "observer", spec)).await;
    wait_reason(&api, "observer", "DriftDetected", Duration::from_secs(30)).await;
    let live = api
        .get("observer")
        .await
        .unwrap()
        .status
        .unwrap()
        .live_configuration
        .expect("the status was written, live values and all");
    let sms = live.sms_mfa_configuration.unwrap();
    assert_eq!(sms.sms_authentication_message.as_deref(), Some(message));
    assert_eq!(
        sms.sms_configuration.external_id.as_deref(),
        Some(external_id.as_str())
    );
}

#[tokio::test]
async fn the_younger_of_two_resources_on_one_pool_is_in_conflict() {
    let env = env();
    let ns = env.namespace("conflict");
    let _op = Operator::start(&ns);
    let api: Api<UserPoolMfaConfig> = env.api(&ns).await;
    let pool = synced_totp(&api, &ns, "older").await;
    tokio::time::sleep(Duration::from_millis(1100)).await; // creation times have second precision
    let mut spec = totp_on(&pool);
    spec["mfaConfiguration"] = "OPTIONAL".into();
    create(&api, &resource(&ns, "younger", spec)).await;
    let message = wait_reason(&api, "younger", "Conflict", Duration::from_secs(30)).await;
    assert!(
        message.contains("older resource older in this namespace"),
        "{message}"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        env.calls(&pool, "SetUserPoolMfaConfig"),
        1,
        "the younger one made no write"
    );
    assert_eq!(env.pool_mfa(&pool).mfa_configuration.as_str(), "ON");

    delete(&api, "older").await;
    wait_reason(&api, "younger", "Synced", Duration::from_secs(30)).await;
    assert_eq!(
        env.pool_mfa(&pool).mfa_configuration.as_str(),
        "OPTIONAL",
        "the younger took over"
    );
}

#[tokio::test]
async fn deletion_policies_retain_and_reset() {
    let env = env();
    let ns = env.namespace("deletion");
    let _op = Operator::start(&ns);
    let api: Api<UserPoolMfaConfig> = env.api(&ns).await;

    let kept = synced_totp(&api, &ns, "retain").await;
    assert!(api.get("retain").await.unwrap().finalizers().is_empty());
    delete(&api, "retain").await;
    wait_for(Duration::from_secs(10), "retain to go", async || {
        api.get_opt("retain").await.unwrap().is_none().then_some(())
    })
    .await;
    assert_eq!(
        env.pool_mfa(&kept).mfa_configuration.as_str(),
        "ON",
        "Retain leaves the pool"
    );

    let cleared = env.new_pool();
    let mut spec = totp_on(&cleared);
    spec["deletionPolicy"] = "Reset".into();
    create(&api, &resource(&ns, "reset", spec)).await;
    wait_reason(&api, "reset", "Synced", Duration::from_secs(30)).await;
    assert_eq!(
        api.get("reset").await.unwrap().finalizers(),
        [RESET_FINALIZER]
    );

    // Switching the policy adds and removes the finalizer.
    let to = |policy: &str| json!({"spec": {"deletionPolicy": policy}});
    api.patch(
        "reset",
        &PatchParams::default(),
        &Patch::Merge(&to("Retain")),
    )
    .await
    .unwrap();
    wait_for(Duration::from_secs(10), "the finalizer to go", async || {
        api.get("reset")
            .await
            .unwrap()
            .finalizers()
            .is_empty()
            .then_some(())
    })
    .await;
    api.patch(
        "reset",
        &PatchParams::default(),
        &Patch::Merge(&to("Reset")),
    )
    .await
    .unwrap();
    wait_for(
        Duration::from_secs(10),
        "the finalizer to come back",
        async || (!api.get("reset").await.unwrap().finalizers().is_empty()).then_some(()),
    )
    .await;

    // A delete during a Cognito fault keeps the finalizer until the fault clears.
    env.fault(&cleared, "SetUserPoolMfaConfig", "InternalErrorException");
    delete(&api, "reset").await;
    wait_reason(&api, "reset", "InternalError", Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        api.get("reset").await.unwrap().finalizers(),
        [RESET_FINALIZER],
        "still held"
    );
    env.clear_faults(&cleared);
    wait_for(Duration::from_secs(20), "reset to go", async || {
        api.get_opt("reset").await.unwrap().is_none().then_some(())
    })
    .await;
    assert_eq!(env.pool_mfa(&cleared), reset(), "Reset turned MFA off");
    assert!(
        events_for(&ns, "reset")
            .await
            .contains(&"MfaReset".to_owned()),
        "the reset is announced"
    );

    // A pool that no longer exists releases the finalizer too.
    let gone = env.new_pool();
    let mut spec = totp_on(&gone);
    spec["deletionPolicy"] = "Reset".into();
    create(&api, &resource(&ns, "gone", spec)).await;
    wait_reason(&api, "gone", "Synced", Duration::from_secs(30)).await;
    let (status, body) = env.emulator("DELETE", &format!("/_emulator/pools/{gone}"), None);
    assert_eq!(status, 200, "{body}");
    delete(&api, "gone").await;
    wait_for(Duration::from_secs(20), "gone to go", async || {
        api.get_opt("gone").await.unwrap().is_none().then_some(())
    })
    .await;
}

/// `Restore` adopts a pool as it is: one read before the first write, kept in the status, and
/// put back at deletion.
#[tokio::test]
async fn restore_puts_back_what_the_pool_held_before_the_first_write() {
    let env = env();
    let ns = env.namespace("restore");
    let _op = Operator::start(&ns);
    let api: Api<UserPoolMfaConfig> = env.api(&ns).await;
    let pool = env.new_pool();
    let before = json!({"userPoolId": pool, "mfaConfiguration": "OPTIONAL", "emailMfaConfiguration": {"message": "Code {####}", "subject": "Sign-in"}});
    env.put_pool_mfa(&pool, pascal_case(&before));
    let held = env.pool_mfa(&pool);

    let mut spec = totp_on(&pool);
    spec["deletionPolicy"] = "Restore".into();
    create(&api, &resource(&ns, "adopter", spec)).await;
    wait_reason(&api, "adopter", "Synced", Duration::from_secs(30)).await;
    let obj = api.get("adopter").await.unwrap();
    assert_eq!(obj.finalizers(), [RESET_FINALIZER]);
    let status = obj.status.unwrap();
    assert_eq!(
        status.original_configuration.as_deref(),
        Some(&normalise(held.clone()))
    );
    assert_eq!(env.pool_mfa(&pool).mfa_configuration.as_str(), "ON");
    let records = env.cognito.call_records(&pool, "");
    let ops: Vec<&str> = records
        .iter()
        .map(|r| r["operation"].as_str().unwrap())
        .collect();
    assert_eq!(
        ops,
        ["GetUserPoolMfaConfig", "SetUserPoolMfaConfig"],
        "one read, before the first write"
    );

    // A new generation is one more write, with no second read before it.
    change_spec_and_wait_synced(&api, "adopter", json!({"mfaConfiguration": "OPTIONAL"})).await;
    assert_eq!(env.calls(&pool, "SetUserPoolMfaConfig"), 2);
    assert_eq!(
        api.get("adopter")
            .await
            .unwrap()
            .status
            .unwrap()
            .original_configuration
            .as_deref(),
        Some(&normalise(held.clone())),
        "kept, not replaced by what the resource wrote"
    );

    delete(&api, "adopter").await;
    gone(&api, "adopter").await;
    assert!(
        diff(&normalise(held.clone()), &env.pool_mfa(&pool)).is_empty(),
        "{:?}",
        env.pool_mfa(&pool)
    );
    assert!(
        events_for(&ns, "adopter")
            .await
            .contains(&"MfaRestored".to_owned()),
        "the restore is announced"
    );
}

/// Waits until `name` is gone.
async fn gone(api: &Api<UserPoolMfaConfig>, name: &str) {
    wait_for(
        Duration::from_secs(30),
        &format!("{name} to go"),
        async || api.get_opt(name).await.unwrap().is_none().then_some(()),
    )
    .await;
}

#[tokio::test]
async fn deletion_follows_the_policy_in_force_when_the_resource_goes() {
    let env = env();
    let ns = env.namespace("deletion-now");
    let mut op = Operator::start(&ns);
    let api: Api<UserPoolMfaConfig> = env.api(&ns).await;
    let pool = env.new_pool();
    let mut spec = totp_on(&pool);
    spec["deletionPolicy"] = "Reset".into();
    create(&api, &resource(&ns, "switched", spec)).await;
    wait_reason(&api, "switched", "Synced", Duration::from_secs(30)).await;

    // While the operator is down: switched to Retain, then deleted (the finalizer holds it).
    op.kill();
    api.patch(
        "switched",
        &PatchParams::default(),
        &Patch::Merge(&json!({"spec": {"deletionPolicy": "Retain"}})),
    )
    .await
    .unwrap();
    delete(&api, "switched").await;
    let _op = Operator::start(&ns);
    gone(&api, "switched").await;
    assert_eq!(
        env.pool_mfa(&pool).mfa_configuration.as_str(),
        "ON",
        "Retain, in force at deletion, left the pool"
    );
    assert_eq!(env.calls(&pool, "SetUserPoolMfaConfig"), 1, "no reset call");
    assert!(
        events_for(&ns, "switched")
            .await
            .contains(&"ResetSkipped".to_owned()),
        "the skipped reset is announced"
    );
}

#[tokio::test]
async fn a_reset_resource_that_never_configured_its_pool_leaves_it_alone() {
    let env = env();
    let ns = env.namespace("never-synced");
    let _op = Operator::start(&ns);
    let api: Api<UserPoolMfaConfig> = env.api(&ns).await;
    let pool = env.new_pool();
    env.put_pool_mfa(
        &pool,
        json!({"MfaConfiguration": "ON", "SoftwareTokenMfaConfiguration": {"Enabled": true}}),
    );
    // Every write fails: the resource never configures the pool.
    env.fault(&pool, "SetUserPoolMfaConfig", "NotAuthorizedException");
    let mut spec = totp_on(&pool);
    spec["deletionPolicy"] = "Reset".into();
    spec["mfaConfiguration"] = "OPTIONAL".into();
    create(&api, &resource(&ns, "never", spec)).await;
    wait_reason(&api, "never", "NotAuthorized", Duration::from_secs(30)).await;
    env.clear_faults(&pool);
    let writes = env.calls(&pool, "SetUserPoolMfaConfig");
    delete(&api, "never").await;
    gone(&api, "never").await;
    assert_eq!(
        env.calls(&pool, "SetUserPoolMfaConfig"),
        writes,
        "no reset of a pool it never configured"
    );
    assert_eq!(env.pool_mfa(&pool).mfa_configuration.as_str(), "ON");
    let events = events_for(&ns, "never").await;
    assert!(events.contains(&"ResetSkipped".to_owned()), "{events:?}");
    assert!(!events.contains(&"MfaReset".to_owned()), "{events:?}");
}

#[tokio::test]
async fn deleting_an_observe_resource_writes_nothing() {
    let env = env();
    let ns = env.namespace("observe-delete");
    let _op = Operator::start(&ns);
    let api: Api<UserPoolMfaConfig> = env.api(&ns).await;
    let pool = env.new_pool();
    let mut spec = totp_on(&pool);
    spec["managementPolicy"] = "Observe".into();
    create(&api, &resource(&ns, "watcher", spec)).await;
    wait_reason(&api, "watcher", "DriftDetected", Duration::from_secs(30)).await;
    assert!(api.get("watcher").await.unwrap().finalizers().is_empty());
    delete(&api, "watcher").await;
    gone(&api, "watcher").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(env.calls(&pool, "SetUserPoolMfaConfig"), 0);
    assert_eq!(env.pool_mfa(&pool), reset(), "the pool is as it was");
}

#[tokio::test]
async fn of_two_resources_created_at_once_for_one_pool_exactly_one_owns_it() {
    let env = env();
    let ns = env.namespace("same-second");
    let _op = Operator::start(&ns);
    let api: Api<UserPoolMfaConfig> = env.api(&ns).await;
    let pool = env.new_pool();
    let mut optional = totp_on(&pool);
    optional["mfaConfiguration"] = "OPTIONAL".into();
    // One request, "a" first: they get the same creation second (the tie goes by name, "a"
    // before "b") or "a" an earlier one, so "a" owns the pool either way.
    let list = json!({"apiVersion": "v1", "kind": "List", "items": [
        resource(&ns, "a", totp_on(&pool)), resource(&ns, "b", optional),
    ]});
    env.kubectl_with_input(&["create", "-f", "-"], &list.to_string())
        .success();
    wait_reason(&api, "a", "Synced", Duration::from_secs(30)).await;
    wait_reason(&api, "b", "Conflict", Duration::from_secs(30)).await;
    // It stays so: no pass of "b" writes or reports Synced again.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let reason = |name: &'static str| {
        let api = api.clone();
        async move { ready_at_generation(&api, name).await.unwrap().1 }
    };
    assert_eq!(
        (reason("a").await, reason("b").await),
        ("Synced".to_owned(), "Conflict".to_owned())
    );
    assert_eq!(
        env.pool_mfa(&pool).mfa_configuration.as_str(),
        "ON",
        "a's spec"
    );
}

#[tokio::test]
async fn kstatus_conditions_tell_working_from_needing_a_person() {
    let env = env();
    let ns = env.namespace("kstatus");
    let _op = Operator::start(&ns);
    let api: Api<UserPoolMfaConfig> = env.api(&ns).await;
    let statuses = async |name: &str| {
        let obj = api.get(name).await.unwrap();
        let conditions = obj.status.unwrap().conditions.to_vec();
        ["Ready", "Reconciling", "Stalled"].map(|t| {
            conditions
                .iter()
                .find(|c| c.type_ == t)
                .map(|c| c.status.clone())
                .unwrap_or_default()
        })
    };
    synced_totp(&api, &ns, "done").await;
    assert_eq!(statuses("done").await, ["True", "False", "False"]);

    let throttled = env.new_pool();
    env.fault(
        &throttled,
        "SetUserPoolMfaConfig",
        "TooManyRequestsException",
    );
    create(&api, &resource(&ns, "retrying", totp_on(&throttled))).await;
    wait_reason(&api, "retrying", "TooManyRequests", Duration::from_secs(30)).await;
    assert_eq!(statuses("retrying").await, ["False", "True", "False"]);

    create(
        &api,
        &resource(&ns, "missing", totp_on("us-east-1_NoSuchPool1")),
    )
    .await;
    wait_reason(&api, "missing", "ResourceNotFound", Duration::from_secs(30)).await;
    assert_eq!(statuses("missing").await, ["False", "False", "True"]);
    // Generic tools can wait for it without knowing any reason.
    env.kubectl(&[
        "wait",
        "-n",
        &ns,
        "--for=condition=Stalled",
        "--timeout=10s",
        "upmfa/missing",
    ])
    .success();
}

#[tokio::test]
async fn a_reconcile_request_runs_a_pass_now_and_is_echoed() {
    let env = env();
    let ns = env.namespace("on-demand");
    let mut opts = OperatorOptions::new(&ns);
    opts.resync = "10m"; // no resync during the test: only the request can correct the drift
    let _op = Operator::start_with(opts);
    let api: Api<UserPoolMfaConfig> = env.api(&ns).await;
    let pool = synced_totp(&api, &ns, "asked").await;
    env.put_pool_mfa(&pool, json!({"MfaConfiguration": "OFF"}));
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        env.pool_mfa(&pool).mfa_configuration.as_str(),
        "OFF",
        "no pass yet"
    );

    let at = "2026-12-01T10:00:00Z";
    env.kubectl(&[
        "annotate",
        "-n",
        &ns,
        "upmfa/asked",
        "--overwrite",
        &format!("reconcile.cognitoidp.operators.dev/requestedAt={at}"),
    ])
    .success();
    wait_for(
        Duration::from_secs(10),
        "the request to be handled",
        async || {
            let status = api.get("asked").await.unwrap().status?;
            (status.last_handled_reconcile_at.as_deref() == Some(at)).then_some(())
        },
    )
    .await;
    assert_eq!(
        env.pool_mfa(&pool).mfa_configuration.as_str(),
        "ON",
        "the pass corrected the drift"
    );
}

#[tokio::test]
async fn a_failing_resync_read_and_a_failing_correction_recover_without_extra_writes() {
    let env = env();
    let ns = env.namespace("resync-faults");
    let _op = Operator::start(&ns);
    let api: Api<UserPoolMfaConfig> = env.api(&ns).await;
    let pool = synced_totp(&api, &ns, "resynced").await;

    // A resync read fails: the status says so, nothing is written, and it recovers by reading.
    env.fault(&pool, "GetUserPoolMfaConfig", "InternalErrorException");
    wait_reason(&api, "resynced", "InternalError", Duration::from_secs(10)).await;
    env.clear_faults(&pool);
    wait_reason(&api, "resynced", "Synced", Duration::from_secs(20)).await;
    assert_eq!(
        env.calls(&pool, "SetUserPoolMfaConfig"),
        1,
        "a confirmed pool is read again, not rewritten"
    );

    // The drift correction fails: the drifted live configuration is recorded, and the next
    // pass corrects it with one write.
    env.fault(
        &pool,
        "SetUserPoolMfaConfig",
        "ConcurrentModificationException",
    );
    env.put_pool_mfa(&pool, json!({"MfaConfiguration": "OFF"}));
    wait_reason(
        &api,
        "resynced",
        "ConcurrentModification",
        Duration::from_secs(10),
    )
    .await;
    let live = api
        .get("resynced")
        .await
        .unwrap()
        .status
        .unwrap()
        .live_configuration
        .unwrap();
    assert_eq!(live, reset(), "the status shows what the pool holds");
    let failed = env.calls(&pool, "SetUserPoolMfaConfig");
    env.clear_faults(&pool);
    wait_reason(&api, "resynced", "Synced", Duration::from_secs(20)).await;
    assert_eq!(env.pool_mfa(&pool).mfa_configuration.as_str(), "ON");
    assert_eq!(
        env.calls(&pool, "SetUserPoolMfaConfig"),
        failed + 1,
        "one write corrects it"
    );
}

#[tokio::test]
async fn wide_output_shows_the_policy_the_live_mode_and_the_message() {
    let env = env();
    let ns = env.namespace("wide");
    let _op = Operator::start(&ns);
    let api: Api<UserPoolMfaConfig> = env.api(&ns).await;
    synced_totp(&api, &ns, "wide").await;
    let out = env
        .kubectl(&["get", "upmfa", "-n", &ns, "-o", "wide"])
        .success()
        .stdout;
    let header: Vec<&str> = out.lines().next().unwrap().split_whitespace().collect();
    assert!(
        header.ends_with(&["AGE", "POLICY", "LIVE", "MESSAGE"]),
        "{out}"
    );
    let row = out.lines().nth(1).unwrap();
    assert!(
        row.contains(" Manage ") && row.contains(" ON ") && row.contains("matches the spec"),
        "{out}"
    );
}

/// Another writer's status condition (an auditing tool's, applied server-side under its own
/// field manager) survives the operator's status writes, and stays that writer's: it can update
/// it again without a conflict.
#[tokio::test]
async fn another_writers_status_condition_is_kept_and_stays_its_own() {
    let env = env();
    let ns = env.namespace("cowriter");
    let _op = Operator::start(&ns);
    let api: Api<UserPoolMfaConfig> = env.api(&ns).await;
    let pool = synced_totp(&api, &ns, "shared").await;
    let audited = |status: &str| {
        json!({
            "apiVersion": "cognitoidp.operators.dev/v1alpha1",
            "kind": "UserPoolMfaConfig",
            "status": {"conditions": [{
                "type": "Audited", "status": status, "reason": "Reviewed",
                "message": "reviewed by the auditor", "lastTransitionTime": "2026-01-01T00:00:00Z",
            }]},
        })
    };
    let auditor = PatchParams::apply("auditor");
    api.patch_status("shared", &auditor, &Patch::Apply(&audited("True")))
        .await
        .unwrap();
    // A new generation: the operator writes its status again.
    change_spec_and_wait_synced(&api, "shared", json!({"mfaConfiguration": "OPTIONAL"})).await;
    assert_eq!(env.calls(&pool, "SetUserPoolMfaConfig"), 2);
    let conditions = |obj: &UserPoolMfaConfig| -> Vec<(String, String)> {
        obj.status
            .iter()
            .flat_map(|s| s.conditions.to_vec())
            .map(|c| (c.type_.clone(), c.status.clone()))
            .collect()
    };
    let obj = api.get("shared").await.unwrap();
    assert!(
        conditions(&obj).contains(&("Audited".into(), "True".into())),
        "{:?}",
        conditions(&obj)
    );
    // Still the auditor's: its next apply (without force) is no conflict.
    api.patch_status("shared", &auditor, &Patch::Apply(&audited("False")))
        .await
        .expect("the auditor still owns its condition");
    let obj = api.get("shared").await.unwrap();
    let all = conditions(&obj);
    assert!(all.contains(&("Audited".into(), "False".into())), "{all:?}");
    assert!(all.contains(&("Ready".into(), "True".into())), "{all:?}");
}
