//! The limits check: each limit at and over its value, the message naming the setting.

use super::*;
use crate::package::manifest::{RegistryIdentity, to_entry};

fn entry(extra: &str) -> IndexPackage {
    let text = format!("[package]\nname = \"a\"\nversion = \"1.0.0\"\n{extra}");
    to_entry(&text, &RegistryIdentity::default()).unwrap()
}

fn features(n: usize) -> String {
    let mut s = String::from("[features]\n");
    for i in 0..n {
        s.push_str(&format!("f{i} = []\n"));
    }
    s
}

fn deps(n: usize) -> String {
    let mut s = String::from("[dependencies]\n");
    for i in 0..n {
        s.push_str(&format!("d{i} = \"1\"\n"));
    }
    s
}

fn over_setting(r: Result<(), LimitError>) -> &'static str {
    match r {
        Err(LimitError::Over { setting, .. }) => setting,
        other => panic!("not over a limit: {other:?}"),
    }
}

#[test]
fn defaults_are_crates_ios() {
    let l = Limits::default();
    assert_eq!(
        (l.max_features, l.max_feature_values, l.max_dependencies),
        (300, 300, 500)
    );
    assert_eq!(
        (l.max_keywords, l.max_keyword_length, l.max_categories),
        (5, 20, 5)
    );
    assert_eq!(l.max_description_length, 1000);
}

#[test]
fn counts_features_dependencies_and_line_size_up_to_the_limit() {
    let l = Limits::default();
    let at = entry(&features(300));
    check(&at, 10, None, &l).unwrap();
    let e = entry(&features(301));
    let err = check(&e, 10, None, &l).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the number of features is 301, over the limit of 300 (setting `limits.max-features` in ktra.toml)"
    );
    let split = entry(&format!("{}x = [\"dep:d\"]\n", features(300)));
    assert_eq!(
        over_setting(check(&split, 10, None, &l)),
        "max-features",
        "features2 counts too"
    );
    let values: Vec<String> = (0..301).map(|i| format!("\"f{i}\"")).collect();
    let wide = entry(&format!("{}all = [{}]\n", features(0), values.join(",")));
    assert_eq!(
        over_setting(check(&wide, 10, None, &l)),
        "max-feature-values"
    );
    check(&entry(&deps(500)), 10, None, &l).unwrap();
    assert_eq!(
        over_setting(check(&entry(&deps(501)), 10, None, &l)),
        "max-dependencies"
    );
    let line = l.max_index_line_size as usize;
    check(&at, line, None, &l).unwrap();
    assert_eq!(
        over_setting(check(&at, line + 1, None, &l)),
        "max-index-line-size"
    );
    let raised = Limits {
        max_features: 301,
        ..Limits::default()
    };
    check(&e, 10, None, &raised).unwrap();
}

#[test]
fn checks_keywords_categories_description_and_readme() {
    let l = Limits::default();
    let e = entry("");
    let words = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let five = words(&["a", "b-c", "d_e", "f+g", "9x"]);
    let good = ManifestFacts {
        keywords: &five,
        description: Some(&"d".repeat(1000)),
        readme_size: Some(l.max_readme_size),
        ..Default::default()
    };
    check(&e, 1, Some(&good), &l).unwrap();
    let six = words(&["a", "b", "c", "d", "e", "f"]);
    let long_description = "é".repeat(1001);
    let cases: Vec<(ManifestFacts<'_>, &str)> = vec![
        (
            ManifestFacts {
                keywords: &six,
                ..Default::default()
            },
            "max-keywords",
        ),
        (
            ManifestFacts {
                categories: &six,
                ..Default::default()
            },
            "max-categories",
        ),
        (
            ManifestFacts {
                description: Some(&long_description),
                ..Default::default()
            },
            "max-description-length",
        ),
        (
            ManifestFacts {
                readme_size: Some(l.max_readme_size + 1),
                ..Default::default()
            },
            "max-readme-size",
        ),
    ];
    for (facts, setting) in &cases {
        assert_eq!(over_setting(check(&e, 1, Some(facts), &l)), *setting);
    }
    let long = words(&[&"k".repeat(21)]);
    let facts = ManifestFacts {
        keywords: &long,
        ..Default::default()
    };
    assert_eq!(
        over_setting(check(&e, 1, Some(&facts), &l)),
        "max-keyword-length"
    );
    for bad in ["-x", "a b", "é", "a/b", ""] {
        let kw = words(&[bad]);
        let facts = ManifestFacts {
            keywords: &kw,
            ..Default::default()
        };
        assert!(
            matches!(check(&e, 1, Some(&facts), &l), Err(LimitError::Keyword(_))),
            "{bad:?}"
        );
    }
}

#[test]
fn the_table_is_strict_and_optional() {
    let base = "version = 1\nname = \"demo\"\nurl = \"https://c.example\"\n";
    let c = crate::config::Config::parse(base).unwrap();
    assert!(c.limits.is_default());
    assert!(!c.to_toml().contains("[limits]"));
    let raised = format!("{base}[limits]\nmax-features = 400000\n");
    let c = crate::config::Config::parse(&raised).unwrap();
    assert_eq!(c.limits.max_features, 400_000);
    assert_eq!(c.limits.max_dependencies, 500);
    assert_eq!(crate::config::Config::parse(&c.to_toml()).unwrap(), c);
    assert!(crate::config::Config::parse(&format!("{base}[limits]\nmax-feature = 1\n")).is_err());
}
