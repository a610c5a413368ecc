//! Generated files must match the code that generates them.

use std::path::Path;

#[test]
fn committed_crds_match_the_rust_types() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("crds");
    let crds = cognito_mfa_operator::api::crds();
    for (file, yaml) in &crds {
        let path = dir.join(file);
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == *yaml,
            "{} is stale or missing: run scripts/generate and commit the result",
            path.display()
        );
    }
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    let mut want: Vec<String> = crds.into_iter().map(|(f, _)| f).collect();
    want.sort();
    assert_eq!(files, want, "crds/ holds exactly the generated CRDs");
}
