//! Sharing one operator between tenants: UserPoolAccessPolicies decide which namespace may use
//! which pool, with which AWS identity and above which MFA floor. Checked by what Cognito saw.

use std::time::{Duration, Instant};

use cognito_mfa_operator::api::UserPoolMfaConfig;
use kube::Api;
use serde_json::{Value, json};

use test_kit::*;

/// Every Set and Get the emulator saw for `pool`.
fn calls_to(pool: &str) -> u64 {
    let env = env();
    env.calls(pool, "SetUserPoolMfaConfig") + env.calls(pool, "GetUserPoolMfaConfig")
}

#[tokio::test]
async fn no_policy_no_call_and_policy_changes_take_effect_at_run_time() {
    let env = env();
    let ns = env.bare_namespace("deny");
    let other = env.bare_namespace("other-team");
    let _op = Operator::start(&ns);
    let api: Api<UserPoolMfaConfig> = env.api(&ns).await;
    let pool = env.new_pool();
    let secret_pool = env.new_pool();
    // Another tenant's policy for another pool: it must neither help nor show.
    env.put_policy(
        &other,
        json!({"namespaces": {"names": [other]}, "userPools": [secret_pool]}),
    );
    create(&api, &resource(&ns, "mine", totp_on(&pool))).await;
    let message = wait_reason(&api, "mine", "NotPermitted", Duration::from_secs(30)).await;
    assert!(
        message.contains(&ns) && message.contains(&pool),
        "{message}"
    );
    for hidden in [&other, &secret_pool] {
        assert!(
            !message.contains(hidden.as_str()),
            "{message} reveals {hidden}"
        );
    }
    tokio::time::sleep(Duration::from_secs(3)).await; // a resync (2 s) makes no call either
    assert_eq!(
        calls_to(&pool),
        0,
        "a refused resource makes no Cognito call"
    );

    // Loosening: a policy for the namespace lets the waiting resource proceed.
    let policy = format!("{ns}-grant");
    env.put_policy(
        &policy,
        json!({"namespaces": {"names": [ns]}, "userPools": [pool]}),
    );
    wait_reason(&api, "mine", "Synced", Duration::from_secs(10)).await;
    let obj = api.get("mine").await.unwrap();
    let identity = obj.status.unwrap().identity.unwrap();
    assert_eq!(identity.policies, vec![policy.clone()]);
    assert_eq!(identity.role_arn, None, "the operator's own credentials");

    // Tightening: once the policy covers another pool only, drift is no longer corrected.
    env.put_policy(
        &policy,
        json!({"namespaces": {"names": [ns]}, "userPools": [secret_pool]}),
    );
    wait_reason(&api, "mine", "NotPermitted", Duration::from_secs(10)).await;
    let writes = env.calls(&pool, "SetUserPoolMfaConfig");
    env.put_pool_mfa(&pool, json!({"MfaConfiguration": "OFF"}));
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        env.calls(&pool, "SetUserPoolMfaConfig"),
        writes,
        "no write once refused"
    );
    assert_eq!(env.pool_mfa(&pool).mfa_configuration.as_str(), "OFF");
    env.delete_policy(&policy);
    env.delete_policy(&other);
}

#[tokio::test]
async fn namespaces_are_selected_by_their_labels() {
    let env = env();
    let ns = env.bare_namespace("labels");
    let team = format!("team-{}", &test_kit::random_suffix()[..6]);
    env.put_policy(
        &team,
        json!({"namespaces": {"selector": {"matchLabels": {"team": team}}}, "userPools": ["us-east-1_*"]}),
    );
    let _op = Operator::start(&ns);
    let api: Api<UserPoolMfaConfig> = env.api(&ns).await;
    let pool = env.new_pool();
    create(&api, &resource(&ns, "labelled", totp_on(&pool))).await;
    wait_reason(&api, "labelled", "NotPermitted", Duration::from_secs(30)).await;
    assert_eq!(calls_to(&pool), 0);

    env.kubectl(&["label", "namespace", &ns, &format!("team={team}")])
        .success();
    wait_reason(&api, "labelled", "Synced", Duration::from_secs(10)).await;
    assert_eq!(env.pool_mfa(&pool).mfa_configuration.as_str(), "ON");

    env.kubectl(&["label", "namespace", &ns, "team-"]).success();
    wait_reason(&api, "labelled", "NotPermitted", Duration::from_secs(10)).await;
    env.delete_policy(&team);
}

#[tokio::test]
async fn a_spec_below_the_floor_is_refused_and_reset_keeps_the_floor() {
    let env = env();
    let ns = env.namespace("floor");
    let pool = env.new_pool();
    let floor = format!("{ns}-floor");
    // A floor-only policy: it names no namespace, yet binds every claimant of the pool.
    env.put_policy(
        &floor,
        json!({"userPools": [pool], "mfaFloor": {"mfaConfiguration": "ON", "requiredFactors": ["TOTP"]}}),
    );
    let _op = Operator::start(&ns);
    let api: Api<UserPoolMfaConfig> = env.api(&ns).await;
    let optional = json!({"userPoolId": pool, "mfaConfiguration": "OPTIONAL", "softwareTokenMfaConfiguration": {"enabled": true}});
    create(&api, &resource(&ns, "lower", optional)).await;
    let message = wait_reason(&api, "lower", "BelowMfaFloor", Duration::from_secs(30)).await;
    assert!(
        message.contains("MFA ON with TOTP") && message.contains(&floor),
        "{message}"
    );
    assert_eq!(
        calls_to(&pool),
        0,
        "nothing below the floor reaches Cognito"
    );
    delete(&api, "lower").await;

    let mut spec = totp_on(&pool);
    spec["deletionPolicy"] = "Reset".into();
    create(&api, &resource(&ns, "at-floor", spec)).await;
    wait_reason(&api, "at-floor", "Synced", Duration::from_secs(30)).await;
    delete(&api, "at-floor").await;
    wait_for(Duration::from_secs(30), "the deletion", async || {
        api.get_opt("at-floor")
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;
    assert_eq!(
        env.pool_mfa(&pool).mfa_configuration.as_str(),
        "ON",
        "Reset does not turn MFA off under a floor"
    );
    assert_eq!(env.calls(&pool, "SetUserPoolMfaConfig"), 1);
    env.delete_policy(&floor);
}

#[tokio::test]
async fn a_resource_that_may_not_act_cannot_squat_on_a_pool() {
    let env = env();
    let squatter_ns = env.bare_namespace("squatter");
    let owner_ns = env.namespace("owner");
    let pool = env.new_pool();
    // The squatter may observe other pools, not this one; an observer of this pool is allowed.
    let squat = format!("{squatter_ns}-grant");
    env.put_policy(
        &squat,
        json!({"namespaces": {"names": [squatter_ns]}, "userPools": ["eu-west-1_*"]}),
    );
    let _op_squatter = Operator::start(&squatter_ns);
    let _op_owner = Operator::start(&owner_ns);
    let squatter: Api<UserPoolMfaConfig> = env.api(&squatter_ns).await;
    let owner: Api<UserPoolMfaConfig> = env.api(&owner_ns).await;
    let off = json!({"userPoolId": pool, "mfaConfiguration": "OFF"});
    create(&squatter, &resource(&squatter_ns, "first", off)).await;
    let mut observe = totp_on(&pool);
    observe["managementPolicy"] = "Observe".into();
    create(&owner, &resource(&owner_ns, "watcher", observe)).await;
    wait_reason(&squatter, "first", "NotPermitted", Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_millis(1100)).await; // creation times have second precision

    create(&owner, &resource(&owner_ns, "rightful", totp_on(&pool))).await;
    wait_reason(&owner, "rightful", "Synced", Duration::from_secs(30)).await;
    assert_eq!(env.pool_mfa(&pool).mfa_configuration.as_str(), "ON");
    wait_reason(&owner, "watcher", "Synced", Duration::from_secs(30)).await;
    env.delete_policy(&squat);
}

#[tokio::test]
async fn a_role_per_account_is_assumed_and_named_after_the_resource() {
    let env = env();
    let ns = env.bare_namespace("account-b");
    let account = "222222222222";
    let role = format!("arn:aws:iam::{account}:role/mfa-{ns}");
    env.cognito.add_role(&role, Some("tenant-b-external"));
    let pool = env.cognito.create_pool_in(account, "us-east-1");
    let policy = format!("{ns}-b");
    env.put_policy(
        &policy,
        json!({"namespaces": {"names": [ns]}, "userPools": [pool], "identity": {"roleArn": role, "externalId": "tenant-b-external"}}),
    );
    let _op = Operator::start(&ns);
    let api: Api<UserPoolMfaConfig> = env.api(&ns).await;
    create(&api, &resource(&ns, "in-b", totp_on(&pool))).await;
    wait_reason(&api, "in-b", "Synced", Duration::from_secs(30)).await;

    let sets = env.cognito.call_records(&pool, "SetUserPoolMfaConfig");
    assert_eq!(sets.len(), 1, "{sets:?}");
    let principal = &sets[0]["principal"];
    assert_eq!(sets[0]["account"], account, "{sets:?}");
    assert_eq!(principal["roleArn"], role.as_str(), "{sets:?}");
    assert_eq!(principal["externalId"], "tenant-b-external");
    assert_eq!(
        principal["sessionTags"]["kubernetes-namespace"],
        ns.as_str()
    );
    assert_eq!(principal["sessionTags"]["kubernetes-name"], "in-b");
    assert!(
        principal["sessionName"]
            .as_str()
            .is_some_and(|s| s.contains(&ns) && s.contains("in-b")),
        "{principal}"
    );
    let identity = api
        .get("in-b")
        .await
        .unwrap()
        .status
        .unwrap()
        .identity
        .unwrap();
    assert_eq!(identity.role_arn.as_deref(), Some(role.as_str()));
    assert_eq!(identity.account_id.as_deref(), Some(account));

    // A wrong external ID: STS refuses, nothing reaches the pool, the status says so.
    let other_pool = env.cognito.create_pool_in(account, "us-east-1");
    env.put_policy(
        &policy,
        json!({"namespaces": {"names": [ns]}, "userPools": [other_pool], "identity": {"roleArn": role, "externalId": "guessed"}}),
    );
    create(&api, &resource(&ns, "wrong-id", totp_on(&other_pool))).await;
    let (reason, message) = wait_for(Duration::from_secs(30), "the refused role", async || {
        ready_at_generation(&api, "wrong-id")
            .await
            .filter(|r| r.0 == "False")
            .map(|r| (r.1, r.2))
    })
    .await;
    assert_eq!(reason, "CredentialsUnavailable", "{message}");
    assert!(message.contains("AccessDenied"), "{message}");
    assert!(
        env.cognito
            .call_records(&other_pool, "SetUserPoolMfaConfig")
            .is_empty()
    );
    env.delete_policy(&policy);
}

#[tokio::test]
async fn with_enforcement_off_no_policy_is_needed() {
    let env = env();
    let ns = env.bare_namespace("single-team");
    let mut opts = OperatorOptions::new(&ns);
    opts.extra_env = vec![("ENFORCE_ACCESS_POLICIES", "false".into())];
    let _op = Operator::start_with(opts);
    let api: Api<UserPoolMfaConfig> = env.api(&ns).await;
    let pool = env.new_pool();
    create(&api, &resource(&ns, "open", totp_on(&pool))).await;
    wait_reason(&api, "open", "Synced", Duration::from_secs(30)).await;
    let identity = api
        .get("open")
        .await
        .unwrap()
        .status
        .unwrap()
        .identity
        .unwrap();
    assert!(identity.policies.is_empty() && identity.role_arn.is_none());
}

#[tokio::test]
async fn a_busy_namespace_does_not_hold_up_another() {
    let Some(env) = isolated_env() else { return };
    let env = &env;
    let busy = env.namespace("busy");
    let quiet = env.namespace("quiet");
    // One operator for both namespaces: all namespaces, with a write budget of 10/s.
    let mut opts = OperatorOptions::new("");
    opts.extra_env = vec![
        ("COGNITO_WRITE_RPS", "10".into()),
        ("COGNITO_BURST", "1".into()),
    ];
    let op = Operator::start_in(env, opts);
    op.wait_ready();
    const BUSY: usize = 150;
    let items: Vec<Value> = (0..BUSY)
        .map(|i| {
            let pool = env.new_pool();
            serde_json::to_value(resource(&busy, &format!("r{i}"), totp_on(&pool))).unwrap()
        })
        .collect();
    let list = json!({"apiVersion": "v1", "kind": "List", "items": items});
    env.kubectl_with_input(&["create", "-f", "-"], &list.to_string())
        .success();
    tokio::time::sleep(Duration::from_secs(2)).await; // the busy namespace's backlog builds up

    let quiet_api: Api<UserPoolMfaConfig> = env.api(&quiet).await;
    let pool = env.new_pool();
    let started = Instant::now();
    create(&quiet_api, &resource(&quiet, "single", totp_on(&pool))).await;
    wait_reason(&quiet_api, "single", "Synced", Duration::from_secs(30)).await;
    let waited = started.elapsed();
    let busy_api: Api<UserPoolMfaConfig> = env.api(&busy).await;
    let busy_done = busy_api
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .iter()
        .filter(|o| {
            o.status
                .as_ref()
                .and_then(|s| s.ready())
                .is_some_and(|c| c.reason == "Synced")
        })
        .count();
    eprintln!(
        "fairness: the quiet namespace's resource was Ready after {waited:?}, with {busy_done}/{BUSY} of the busy namespace's done"
    );
    assert!(
        busy_done < BUSY,
        "the busy namespace still had a backlog when the quiet one was served"
    );
    assert!(
        waited < Duration::from_secs(3),
        "the quiet namespace waited {waited:?} behind the busy one"
    );
    assert!(
        op.metric(
            "cognito_mfa_rate_limiter_wait_seconds_count",
            &format!(r#"namespace="{quiet}""#)
        ) >= 1.0,
        "waiting is shown per namespace"
    );
}

#[tokio::test]
async fn pools_are_called_only_with_credentials_of_their_partition() {
    let env = env();
    let ns = env.namespace("partitions");
    let _op = Operator::start(&ns);
    let api: Api<UserPoolMfaConfig> = env.api(&ns).await;

    // A region no partition has: refused as invalid, never dialled.
    create(&api, &resource(&ns, "nowhere", totp_on("xx-west-1_Abc123"))).await;
    let message = wait_reason(&api, "nowhere", "InvalidSpec", Duration::from_secs(30)).await;
    assert!(message.contains("xx-west-1"), "{message}");

    // A GovCloud pool with the operator's own (commercial, us-east-1) credentials: refused.
    let gov = env.cognito.create_pool("us-gov-west-1");
    create(&api, &resource(&ns, "gov", totp_on(&gov))).await;
    let message = wait_reason(&api, "gov", "PartitionMismatch", Duration::from_secs(30)).await;
    assert!(message.contains("aws-us-gov"), "{message}");
    assert_eq!(calls_to(&gov), 0);
    assert_eq!(calls_to("xx-west-1_Abc123"), 0);

    // With a role of the GovCloud partition, a pool there works.
    let role = format!("arn:aws-us-gov:iam::333333333333:role/mfa-{ns}");
    env.cognito.add_role(&role, None);
    let gov_b = env.cognito.create_pool_in("333333333333", "us-gov-west-1");
    let policy = format!("{ns}-gov");
    env.put_policy(
        &policy,
        json!({"namespaces": {"names": [ns]}, "userPools": [gov_b], "identity": {"roleArn": role}}),
    );
    create(&api, &resource(&ns, "gov-role", totp_on(&gov_b))).await;
    wait_reason(&api, "gov-role", "Synced", Duration::from_secs(30)).await;
    let sets = env.cognito.call_records(&gov_b, "SetUserPoolMfaConfig");
    assert_eq!(sets[0]["principal"]["roleArn"], role.as_str(), "{sets:?}");
    env.delete_policy(&policy);
}
