//! Generated files must match the code that generates them.

use std::path::Path;

#[test]
fn committed_crd_matches_the_rust_types() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("crds/userpoolmfaconfigs.cognitoidp.operators.dev.yaml");
    let committed = std::fs::read_to_string(&path).expect("crds/ holds the generated CRD");
    assert!(
        committed == cognito_mfa_operator::api::crd_yaml(),
        "{} is stale: run scripts/generate and commit the result",
        path.display()
    );
}
