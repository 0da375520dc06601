//! nginx in front of a registry, configured by `ktra nginx-config`: files from `public/`, the
//! API and (for private registries) token checks through `ktra serve`. Real cargo builds.

use crate::e2e_cargo::{check_token_build, make_private, yank_base_1_1};
use crate::serve::{Serve, request};
use crate::support::{CONSUMER_STDOUT, Protocol, Registry};
use std::fs;
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};

struct Nginx {
    child: Child,
    port: u16,
}

impl Nginx {
    /// nginx in the foreground, one process, every path inside `dir`.
    fn start(dir: &Path, server_block: &str, port: u16) -> Nginx {
        fs::create_dir_all(dir).unwrap();
        let d = dir.display();
        let conf = format!(
            "daemon off;\nmaster_process off;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
             events {{ worker_connections 64; }}\n\
             http {{\n  access_log {d}/access.log;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n  \
             fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\n{server_block}\n}}\n"
        );
        fs::write(dir.join("nginx.conf"), conf).unwrap();
        let mut child = Command::new("nginx")
            .arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(dir.join("stderr.log")).unwrap())
            .spawn()
            .expect("start nginx: it must be installed (.ci/run installs it)");
        for _ in 0..200 {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Nginx { child, port };
            }
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "nginx did not start: {}",
            fs::read_to_string(dir.join("error.log")).unwrap_or_default()
        );
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn cargo_builds_through_nginx_public_and_private() {
    let reg = Registry::new(Protocol::Sparse);
    reg.add_all_examples();
    yank_base_1_1(&reg);
    let serve = Serve::start(&reg.root);
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let block = reg
        .ktra([
            "nginx-config",
            "--listen",
            &listen,
            "--upstream",
            &serve.url(),
        ])
        .success()
        .stdout;
    assert!(
        !block.contains("auth_request /"),
        "a public registry needs no token checks:\n{block}"
    );
    let nginx = Nginx::start(&reg.base().join("nginx-public"), &block, port);
    let url = nginx.url();
    reg.ktra(["set-url", &url, "--api", &url]).success();
    crate::serve::settle();

    let run_public = reg.run_consumer_at(&format!("sparse+{url}/index/"), "nginx");
    assert_eq!(run_public.outcome.stdout, CONSUMER_STDOUT);
    let krate = request(port, "GET", "/crates/demo-base-1.0.0.crate", &[]);
    assert_eq!(
        krate.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    let index = request(port, "GET", "/index/de/mo/demo-base", &[]);
    assert_eq!(index.header("cache-control"), Some("public, max-age=60"));
    let etag = index.header("etag").unwrap().to_owned();
    assert_eq!(
        request(
            port,
            "GET",
            "/index/de/mo/demo-base",
            &[("If-None-Match", &etag)]
        )
        .status,
        304
    );
    assert_eq!(
        request(port, "GET", "/api/v1/crates?q=demo-sys", &[]).status,
        200,
        "the API goes through to ktra serve"
    );
    drop(nginx);

    // The same registry made private: nginx asks `ktra serve` about every file.
    make_private(&reg);
    crate::serve::settle();
    let block = reg
        .ktra([
            "nginx-config",
            "--listen",
            &listen,
            "--upstream",
            &serve.url(),
        ])
        .success()
        .stdout;
    assert!(block.contains("auth_request /.ktra-check;"), "{block}");
    let _nginx = Nginx::start(&reg.base().join("nginx-private"), &block, port);
    let anonymous = request(port, "GET", "/index/config.json", &[]);
    assert_eq!(anonymous.status, 401);
    assert_eq!(
        anonymous.header("www-authenticate"),
        Some(format!("Cargo login_url=\"{url}/me\"").as_str()),
        "nginx passes the challenge through"
    );
    assert_eq!(
        request(port, "GET", "/crates/demo-base-1.0.0.crate", &[]).status,
        401
    );
    check_token_build(&reg, &format!("sparse+{url}/index/"), "nginx-private");
}
