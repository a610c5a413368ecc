//! AWS partitions (aws, aws-cn, aws-us-gov, ...): which one a region belongs to, resolved as the
//! AWS SDKs do it: a listed region, else the first partition whose region pattern matches.
//! Credentials work only within their own partition, so a pool is called only with credentials
//! of the pool's partition.
//!
//! The table is `partitions.json` beside this file, kept equal to the partition metadata that
//! botocore ships (a test compares them).

use std::sync::LazyLock;

use regex::Regex;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Partition {
    id: String,
    #[serde(with = "serde_regex_str")]
    region_regex: Regex,
    regions: Vec<String>,
}

mod serde_regex_str {
    use regex::{Regex, RegexBuilder};
    use serde::{Deserialize, Deserializer};

    /// ASCII classes (`\w`, `\d`), as in the SDKs that share this table: region names are
    /// ASCII, and the Unicode classes made these few patterns 1.6 MB of compiled automata.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Regex, D::Error> {
        let pattern = String::deserialize(d)?;
        RegexBuilder::new(&pattern)
            .unicode(false)
            .build()
            .map_err(serde::de::Error::custom)
    }
}

#[derive(Deserialize)]
struct Table {
    partitions: Vec<Partition>,
}

static PARTITIONS: LazyLock<Vec<Partition>> = LazyLock::new(|| {
    serde_json::from_str::<Table>(include_str!("partitions.json"))
        .expect("partitions.json is a valid partition table")
        .partitions
});

/// The partition of `region`, or `None` when no partition has it.
pub fn partition_of(region: &str) -> Option<&'static str> {
    let table = &*PARTITIONS;
    table
        .iter()
        .find(|p| p.regions.iter().any(|r| r == region))
        .or_else(|| table.iter().find(|p| p.region_regex.is_match(region)))
        .map(|p| p.id.as_str())
}

/// The partition an ARN names (`arn:aws-cn:iam::...` -> `aws-cn`).
pub fn arn_partition(arn: &str) -> Option<&str> {
    arn.split(':').nth(1).filter(|p| !p.is_empty())
}

/// Why credentials of `caller` (a partition, `None` when unknown) cannot call a pool in
/// `pool_region`, if they cannot. `via` says whose credentials they are, for the message.
pub fn mismatch(pool_region: &str, caller: Option<&str>, via: &str) -> Option<String> {
    let pool = partition_of(pool_region)?;
    (caller != Some(pool)).then(|| {
        format!(
            "the pool is in AWS partition {pool} ({pool_region}), but {via} belong to partition {}: credentials work only within their partition; name a role of partition {pool} in the pool's UserPoolAccessPolicy",
            caller.unwrap_or("unknown")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pool_is_called_only_with_credentials_of_its_partition() {
        assert_eq!(mismatch("us-east-1", Some("aws"), "x"), None);
        assert_eq!(mismatch("cn-north-1", Some("aws-cn"), "x"), None);
        assert_eq!(
            mismatch("cn-north-1", Some("aws"), "the operator's own credentials").as_deref(),
            Some(
                "the pool is in AWS partition aws-cn (cn-north-1), but the operator's own credentials belong to partition aws: credentials work only within their partition; name a role of partition aws-cn in the pool's UserPoolAccessPolicy"
            )
        );
        assert_eq!(
            mismatch("us-east-1", Some("aws-cn"), "x")
                .map(|m| m.contains("partition aws (us-east-1)")),
            Some(true)
        );
        assert_eq!(
            mismatch("us-gov-west-1", None, "x")
                .map(|m| m.contains("x belong to partition unknown")),
            Some(true),
            "credentials of no known partition call no pool"
        );
        assert_eq!(
            mismatch("moon-1", Some("aws"), "x"),
            None,
            "a region of no partition is not refused here (the call fails on its own)"
        );
    }

    #[test]
    fn regions_resolve_to_their_partition() {
        for (region, partition) in [
            ("us-east-1", Some("aws")),
            ("eu-west-1", Some("aws")),
            ("il-central-1", Some("aws")),
            ("cn-north-1", Some("aws-cn")),
            ("us-gov-west-1", Some("aws-us-gov")),
            ("us-iso-east-1", Some("aws-iso")),
            ("eusc-de-east-1", Some("aws-eusc")),
            // Not listed yet, but of a partition's pattern: a new region works as in the SDKs.
            ("eu-west-9", Some("aws")),
            // The patterns' classes are ASCII: no region name has other letters or digits.
            ("us-éast-1", None),
            ("us-east-١", None),
            ("xx-west-1", None),
            ("moon-1", None),
            ("local", None),
            ("", None),
        ] {
            assert_eq!(partition_of(region), partition, "{region}");
        }
    }

    #[test]
    fn arns_name_their_partition() {
        assert_eq!(
            arn_partition("arn:aws-cn:iam::123456789012:role/x"),
            Some("aws-cn")
        );
        assert_eq!(
            arn_partition("arn:aws:iam::123456789012:role/x"),
            Some("aws")
        );
        assert_eq!(arn_partition("nonsense"), None);
        assert_eq!(
            arn_partition("arn::iam::123456789012:role/x"),
            None,
            "empty"
        );
    }
}
