//! The README's reference tables are the code's: every flag with its environment variable and
//! default, every `Ready` reason and every event reason, in both directions.

use std::collections::BTreeSet;

use clap::CommandFactory;
use cognito_mfa_operator::cli::Cli;
use cognito_mfa_operator::logic::conditions::Reason;
use cognito_mfa_operator::logic::plan::EventReason;

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap()
}

/// The rows of the first table after `heading`, as cells without their backticks' content
/// changed (a cell `` `x` `` stays `` `x` ``).
fn table(heading: &str) -> Vec<Vec<String>> {
    let text = readme();
    let start = text
        .find(heading)
        .unwrap_or_else(|| panic!("README has {heading:?}"));
    text[start..]
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2) // header and separator
        .map(|l| {
            l.trim_matches('|')
                .split(" | ")
                .map(|c| c.trim().to_owned())
                .collect()
        })
        .collect()
}

fn unquote(cell: &str) -> Option<&str> {
    cell.strip_prefix('`')?.strip_suffix('`')
}

#[test]
fn the_flag_table_is_the_command_line() {
    let cli = Cli::command();
    let run = cli.find_subcommand("run").expect("a run subcommand");
    let documented: Vec<(String, String, String)> = table("| Flag | Environment | Default |")
        .into_iter()
        .map(|row| (row[0].clone(), row[1].clone(), row[2].clone()))
        .collect();
    let mut flags = BTreeSet::new();
    for arg in run.get_arguments() {
        let Some(long) = arg.get_long() else { continue };
        if ["help", "version"].contains(&long) {
            continue;
        }
        flags.insert(format!("`--{long}`"));
        let row = documented
            .iter()
            .find(|(flag, ..)| *flag == format!("`--{long}`"))
            .unwrap_or_else(|| panic!("README's flag table lacks --{long}"));
        let env = arg.get_env().map(|e| format!("`{}`", e.to_string_lossy()));
        assert_eq!(Some(&row.1), env.as_ref(), "--{long}: environment variable");
        let default: Vec<String> = arg
            .get_default_values()
            .iter()
            .map(|v| v.to_string_lossy().into_owned())
            .filter(|v| !v.is_empty())
            .collect();
        match (default.as_slice(), unquote(&row.2)) {
            ([value], Some(shown)) => assert_eq!(value, shown, "--{long}: default"),
            ([], None) => {} // no default: the README says in words what applies
            (value, shown) => {
                panic!("--{long}: default {value:?} in the code, {shown:?} in the README")
            }
        }
    }
    let rows: BTreeSet<String> = documented.into_iter().map(|(flag, ..)| flag).collect();
    assert_eq!(rows, flags, "README documents exactly the flags there are");
}

#[test]
fn the_reason_table_is_every_reason() {
    let documented: BTreeSet<String> = table("| Reason | Ready |")
        .into_iter()
        .map(|row| unquote(&row[0]).expect("a reason in backticks").to_owned())
        .collect();
    let code: BTreeSet<String> = Reason::ALL.iter().map(|r| r.as_str().to_owned()).collect();
    assert_eq!(
        documented, code,
        "README's Ready reasons are exactly Reason::ALL"
    );
}

#[test]
fn the_events_paragraph_names_every_event_reason() {
    let text = readme();
    let start = text
        .find("- **Events**")
        .expect("README describes the events");
    let paragraph: String = text[start..]
        .lines()
        .enumerate()
        .take_while(|(i, l)| *i == 0 || l.starts_with("  "))
        .map(|(_, l)| l)
        .collect::<Vec<_>>()
        .join(" ");
    let named: BTreeSet<&str> = paragraph
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|w| w.starts_with(|c: char| c.is_ascii_uppercase()) && *w != "Ready")
        .collect();
    let own: BTreeSet<&str> = EventReason::OWN.iter().map(|r| r.as_str()).collect();
    let ready: BTreeSet<&str> = Reason::ALL.iter().map(|r| r.as_str()).collect();
    assert!(
        own.is_subset(&named),
        "README names {named:?}, the code {own:?}"
    );
    let unknown: Vec<_> = named
        .iter()
        .filter(|w| !own.contains(*w) && !ready.contains(*w))
        .collect();
    assert!(
        unknown.is_empty(),
        "README names event reasons the code lacks: {unknown:?}"
    );
}
