//! The nginx server block `ktra nginx-config` prints: `public/` served by nginx with the cache
//! lifetimes ktra uses, the web API passed to `ktra serve`, and for private registries every
//! file checked first by `ktra serve` (nginx `auth_request`).

use crate::registry::Registry;

const TEMPLATE: &str = include_str!("../../templates/nginx-server.conf");

/// The path of the check endpoint nginx asks before serving a file of a private registry.
pub const CHECK_PATH: &str = "/api/ktra/check-read";

pub fn server_block(reg: &Registry, listen: &str, upstream: &str) -> String {
    let upstream = upstream.trim_end_matches('/');
    let auth = if reg.config.auth_required {
        format!(
            "    # Private registry: `ktra serve` checks the token of every request for a file.\n    \
             auth_request /.ktra-check;\n    \
             location = /.ktra-check {{\n        \
             internal;\n        \
             proxy_pass {upstream}{CHECK_PATH};\n        \
             proxy_pass_request_body off;\n        \
             proxy_set_header Content-Length \"\";\n    \
             }}\n"
        )
    } else {
        String::new()
    };
    // The largest crate plus the metadata and the length fields.
    let body_limit = reg.config.max_crate_size + 1024 * 1024 + 8;
    TEMPLATE
        .replace("@NAME@", &reg.config.name)
        .replace("@LISTEN@", listen)
        .replace("@PUBLIC@", &reg.store.public_dir().display().to_string())
        .replace("@UPSTREAM@", upstream)
        .replace("@BODY_LIMIT@", &body_limit.to_string())
        .replace("@AUTH@", &auth)
}
