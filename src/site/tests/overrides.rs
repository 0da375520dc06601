//! A registry's `templates/` folder replaces single files; mistakes are reported cargo-style.

use super::*;
use crate::site::Templates;

#[test]
fn a_file_in_the_folder_replaces_the_built_in_one() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("index.html"),
        "{% extends \"base.html\" %}{% block content %}<p>Ours: {{ crates|length }} {{ site.name }}</p>{% endblock %}",
    )
    .unwrap();
    std::fs::write(dir.path().join("style.css"), "body { color: red }").unwrap();
    let custom = Templates::load(Some(dir.path())).unwrap();
    let builtin = Templates::load(None).unwrap();

    let page = home(vec![summary("a", "1.0.0", "", &[])], vec![]);
    let html = custom.home(&page).unwrap();
    assert!(html.contains("<p>Ours: 1 acme</p>"), "{html}");
    assert!(
        html.contains("<a class=\"skip\""),
        "the built-in base.html still wraps it"
    );
    let assets = custom.assets();
    assert_eq!(
        assets[0],
        (
            "static/style.css".to_owned(),
            b"body { color: red }".to_vec()
        )
    );
    assert_eq!(assets[1], builtin.assets()[1]);
    // The stylesheet changed, so its links change and browsers fetch it again.
    let version = |html: &str| html.split("style.css?v=").nth(1).map(|v| v[..8].to_owned());
    assert_ne!(version(&html), version(&builtin.home(&page).unwrap()));
    // Untouched templates stay built in.
    let page = crate_page("w", 2);
    let unversioned = |html: String| html.replace(&version(&html).unwrap(), "");
    assert_eq!(
        unversioned(custom.crate_page(&page).unwrap()),
        unversioned(builtin.crate_page(&page).unwrap())
    );

    // A missing folder is no error: every file is built in.
    let none = Templates::load(Some(&dir.path().join("missing"))).unwrap();
    assert_eq!(
        none.home(&home(vec![], vec![])).unwrap(),
        builtin.home(&home(vec![], vec![])).unwrap()
    );
}

#[test]
fn errors_name_the_template_and_the_crate() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("404.html"), "{% if %}").unwrap();
    let err = Templates::load(Some(dir.path())).err().unwrap();
    let message = format!("{err:#}");
    assert!(
        message.starts_with("failed to parse template `"),
        "{message}"
    );
    assert!(message.contains("404.html`"), "{message}");

    std::fs::write(dir.path().join("404.html"), "ok").unwrap();
    std::fs::write(dir.path().join("crate.html"), "{{ no_such_field.x }}").unwrap();
    let t = Templates::load(Some(dir.path())).unwrap();
    let err = t.crate_page(&crate_page("foo", 1)).unwrap_err();
    let message = format!("{err:#}");
    assert!(
        message.starts_with("failed to render `crate.html` for `foo`: "),
        "{message}"
    );
    assert!(message.contains("undefined"), "{message}");

    std::fs::write(dir.path().join("feed.xml"), [0xff, 0xfe]).unwrap();
    let err = Templates::load(Some(dir.path())).err().unwrap();
    assert!(
        format!("{err:#}").starts_with("failed to read template `"),
        "{err:#}"
    );
}
