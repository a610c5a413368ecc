//! Shards: which resources this deployment reconciles, chosen by a label selector written as
//! `kubectl get -l` takes it (`shard=a`, `shard!=a`, `tier in (x,y)`, `!legacy`).
//!
//! Every deployment still watches every resource, so that ownership of a pool is decided over
//! all its claimants whichever shard they are in; a selector only narrows what it reconciles.

use std::collections::{BTreeMap, BTreeSet};

use kube::core::{Expression, Selector, SelectorExt};

/// The resources of one shard; the empty selector (the default) takes them all.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Shard(Selector);

impl Shard {
    pub fn contains(&self, labels: &BTreeMap<String, String>) -> bool {
        self.0.matches(labels)
    }

    pub fn is_all(&self) -> bool {
        self.0.selects_all()
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::str::FromStr for Shard {
    type Err = String;

    /// Kubernetes' label selector syntax, with its key and value rules.
    fn from_str(text: &str) -> Result<Self, String> {
        let tokens = tokens(text)?;
        let mut parser = Parser {
            tokens: &tokens,
            at: 0,
        };
        let mut expressions = Vec::new();
        if !tokens.is_empty() {
            loop {
                expressions.push(parser.requirement()?);
                match parser.next() {
                    None => break,
                    Some(Token::Comma) => {}
                    Some(t) => return Err(format!("expected ',' between requirements, got {t}")),
                }
            }
        }
        Ok(Self(Selector::from_iter(expressions)))
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Word(String),
    Not,
    Equals,
    NotEquals,
    Open,
    Close,
    Comma,
}

impl std::fmt::Display for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Token::Word(w) => write!(f, "'{w}'"),
            Token::Not => f.write_str("'!'"),
            Token::Equals => f.write_str("'='"),
            Token::NotEquals => f.write_str("'!='"),
            Token::Open => f.write_str("'('"),
            Token::Close => f.write_str("')'"),
            Token::Comma => f.write_str("','"),
        }
    }
}

fn tokens(text: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let token = match c {
            c if c.is_whitespace() => continue,
            '(' => Token::Open,
            ')' => Token::Close,
            ',' => Token::Comma,
            '=' => {
                chars.next_if_eq(&'=');
                Token::Equals
            }
            '!' if chars.next_if_eq(&'=').is_some() => Token::NotEquals,
            '!' => Token::Not,
            c if word_char(c) => {
                let mut word = c.to_string();
                while let Some(c) = chars.next_if(|&c| word_char(c)) {
                    word.push(c);
                }
                Token::Word(word)
            }
            c => return Err(format!("unexpected character {c:?}")),
        };
        out.push(token);
    }
    Ok(out)
}

fn word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/')
}

struct Parser<'a> {
    tokens: &'a [Token],
    at: usize,
}

impl Parser<'_> {
    fn next(&mut self) -> Option<&Token> {
        let t = self.tokens.get(self.at);
        self.at += 1;
        t
    }

    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn key(&mut self) -> Result<String, String> {
        match self.next() {
            Some(Token::Word(w)) => label_key(w).map(|()| w.clone()),
            Some(t) => Err(format!("expected a label key, got {t}")),
            None => Err("expected a label key, got the end".into()),
        }
    }

    /// A value after `=`/`!=`: may be empty.
    fn value(&mut self) -> Result<String, String> {
        match self.peek() {
            Some(Token::Word(w)) => {
                let w = w.clone();
                self.at += 1;
                label_value(&w).map(|()| w)
            }
            Some(Token::Comma) | None => Ok(String::new()),
            Some(t) => Err(format!("expected a label value, got {t}")),
        }
    }

    fn set(&mut self) -> Result<BTreeSet<String>, String> {
        if self.next() != Some(&Token::Open) {
            return Err("expected '(' after in/notin".into());
        }
        let mut values = BTreeSet::new();
        loop {
            values.insert(self.value()?);
            match self.next() {
                Some(Token::Comma) => {}
                Some(Token::Close) => return Ok(values),
                _ => return Err("expected ',' or ')' in a value set".into()),
            }
        }
    }

    fn requirement(&mut self) -> Result<Expression, String> {
        if self.peek() == Some(&Token::Not) {
            self.at += 1;
            return Ok(Expression::DoesNotExist(self.key()?));
        }
        let key = self.key()?;
        Ok(match self.peek() {
            Some(Token::Equals) => {
                self.at += 1;
                Expression::Equal(key, self.value()?)
            }
            Some(Token::NotEquals) => {
                self.at += 1;
                Expression::NotEqual(key, self.value()?)
            }
            Some(Token::Word(w)) if w == "in" => {
                self.at += 1;
                Expression::In(key, self.set()?)
            }
            Some(Token::Word(w)) if w == "notin" => {
                self.at += 1;
                Expression::NotIn(key, self.set()?)
            }
            Some(Token::Comma) | None => Expression::Exists(key),
            Some(t) => return Err(format!("expected an operator after '{key}', got {t}")),
        })
    }
}

/// `[prefix/]name`: a DNS subdomain prefix of up to 253 characters, a name of up to 63.
fn label_key(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    if let Some(prefix) = prefix {
        let subdomain = !prefix.is_empty()
            && prefix.len() <= 253
            && prefix.split('.').all(|part| {
                !part.is_empty()
                    && part
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                    && !part.starts_with('-')
                    && !part.ends_with('-')
            });
        if !subdomain {
            return Err(format!(
                "label key {key:?}: the prefix must be a DNS subdomain"
            ));
        }
    }
    if name.is_empty() || !name_like(name) {
        return Err(format!(
            "label key {key:?}: the name must be 1-63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit"
        ));
    }
    Ok(())
}

fn label_value(value: &str) -> Result<(), String> {
    if value.is_empty() || name_like(value) {
        Ok(())
    } else {
        Err(format!(
            "label value {value:?}: at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit"
        ))
    }
}

fn name_like(s: &str) -> bool {
    s.len() <= 63
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.ends_with(|c: char| c.is_ascii_alphanumeric())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn shard(text: &str) -> Shard {
        text.parse()
            .unwrap_or_else(|e| panic!("{text:?} is refused: {e}"))
    }

    #[test]
    fn the_empty_selector_takes_everything() {
        for text in ["", "  "] {
            let all = shard(text);
            assert!(all.is_all());
            assert!(all.contains(&labels(&[])));
            assert!(all.contains(&labels(&[("shard", "a")])));
        }
        assert!(!shard("shard=a").is_all());
    }

    #[test]
    fn each_operator_matches_as_kubectl_does() {
        type Labels<'a> = &'a [(&'a str, &'a str)];
        // (selector, labels, in the shard)
        let cases: &[(&str, Labels, bool)] = &[
            ("shard=a", &[("shard", "a")], true),
            ("shard==a", &[("shard", "a")], true),
            ("shard=a", &[("shard", "b")], false),
            ("shard=a", &[], false),
            ("shard!=a", &[("shard", "b")], true),
            ("shard!=a", &[], true),
            ("shard!=a", &[("shard", "a")], false),
            ("shard in (a, b)", &[("shard", "b")], true),
            ("shard in(a,b)", &[("shard", "c")], false),
            ("shard in (a,b)", &[], false),
            ("shard notin (a,b)", &[("shard", "c")], true),
            ("shard notin (a,b)", &[], true),
            ("shard notin (a,b)", &[("shard", "a")], false),
            ("shard", &[("shard", "")], true),
            ("shard", &[], false),
            ("!shard", &[], true),
            ("!shard", &[("shard", "a")], false),
            ("shard=", &[("shard", "")], true),
            ("shard=", &[("shard", "a")], false),
            ("team=x,shard!=a", &[("team", "x")], true),
            ("team=x, shard!=a", &[("team", "x"), ("shard", "a")], false),
            ("example.com/shard=a", &[("example.com/shard", "a")], true),
        ];
        for (text, pairs, expected) in cases {
            assert_eq!(
                shard(text).contains(&labels(pairs)),
                *expected,
                "{text:?} on {pairs:?}"
            );
        }
    }

    #[test]
    fn malformed_selectors_are_refused_with_the_reason() {
        let cases = [
            ("shard=a,", "expected a label key, got the end"),
            (",shard=a", "expected a label key, got ','"),
            ("shard=a shard=b", "expected ',' between requirements"),
            ("shard in a", "expected '(' after in/notin"),
            ("shard in (a", "expected ',' or ')'"),
            ("shard > 1", "unexpected character '>'"),
            ("shard=-a", "label value \"-a\""),
            ("Example.com/shard=a", "the prefix must be a DNS subdomain"),
            ("/shard=a", "the prefix must be a DNS subdomain"),
            ("a/b/c=x", "label key \"a/b/c\""),
            ("shard.=a", "label key \"shard.\""),
            ("!=a", "expected a label key, got '!='"),
            ("shard a", "expected an operator after 'shard', got 'a'"),
        ];
        for (text, reason) in cases {
            let err = text.parse::<Shard>().expect_err(text);
            assert!(err.contains(reason), "{text:?}: {err}");
        }
        let long = format!("shard={}", "a".repeat(64));
        assert!(long.parse::<Shard>().unwrap_err().contains("at most 63"));
        assert!(format!("shard={}", "a".repeat(63)).parse::<Shard>().is_ok());
    }

    #[test]
    fn shown_in_the_canonical_form() {
        assert_eq!(
            shard("shard in (b,a), !legacy").to_string(),
            "shard in (a,b),!legacy"
        );
    }
}
