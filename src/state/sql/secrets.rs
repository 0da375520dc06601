//! What of a database URL may be shown: the URL without userinfo or query, and a driver's
//! message with the password (as written, percent-decoded, or from the query) taken out.

/// The URL as shown: no userinfo, no query (which may carry a password too).
pub(super) fn shown_url(url: &str) -> String {
    let without_query = url.split(['?', '#']).next().unwrap_or_default();
    crate::redact::url_credentials(without_query)
}

/// The password of a URL, as written and percent-decoded, and any `password=` in its query.
pub(super) fn secrets_of(url: &str) -> Vec<String> {
    let mut out = Vec::new();
    if let Some((_, rest)) = url.split_once("://") {
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if let Some((userinfo, _)) = authority.rsplit_once('@')
            && let Some((_, password)) = userinfo.split_once(':')
        {
            out.push(password.to_owned());
        }
        if let Some((_, query)) = rest.split_once('?') {
            for pair in query.split('&') {
                if let Some((k, v)) = pair.split_once('=')
                    && k.contains("password")
                {
                    out.push(v.to_owned());
                }
            }
        }
    }
    let decoded: Vec<String> = out
        .iter()
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect();
    out.extend(decoded);
    out.retain(|s| !s.is_empty());
    out.sort();
    out.dedup();
    out
}

/// A driver's message without credentials: URLs' userinfo hidden, and the password itself
/// taken out wherever it appears.
pub(super) fn scrubbed(text: &str, secrets: &[String]) -> String {
    let mut out = crate::redact::url_credentials(text);
    for s in secrets {
        out = out.replace(s.as_str(), "***");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show() {
        let url = "postgres://ktra:s%40cret@127.0.0.1:5432/ktra?sslpassword=other";
        assert_eq!(shown_url(url), "postgres://***@127.0.0.1:5432/ktra");
        let secrets = secrets_of(url);
        let text = format!("bad s%40cret s@cret other {url}");
        let out = scrubbed(&text, &secrets);
        for s in ["s%40cret", "s@cret", "other"] {
            assert!(!out.contains(s), "{out}");
        }
    }
}
