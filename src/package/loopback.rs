//! A short-lived static server on 127.0.0.1 that shows cargo this registry while `ktra add`
//! packages a directory, so crates depending on crates of this registry can be packaged and
//! verified. Its `config.json` points downloads back at itself. It serves only `index/` and
//! `crates/` of the registry's served files (read through storage), read-only, and stops when
//! dropped.

use anyhow::{Context, Result};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

pub struct Loopback {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Loopback {
    pub fn start(public: crate::storage::Store) -> Result<Self> {
        let listener =
            TcpListener::bind("127.0.0.1:0").context("failed to open a loopback port")?;
        let port = listener.local_addr()?.port();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let config = format!(
            "{{\"dl\":\"{}\"}}",
            crate::index::path::dl_template(&format!(
                "http://127.0.0.1:{port}{}",
                crate::index::path::PACKAGING_PATH
            ))
        );
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if flag.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (public, config) = (public.clone(), config.clone());
                std::thread::spawn(move || {
                    let _ = serve(conn, &public, &config);
                });
            }
        });
        Ok(Self {
            port,
            stop,
            thread: Some(thread),
        })
    }

    /// The sparse index URL cargo should use.
    pub fn index_url(&self) -> String {
        format!(
            "sparse+http://127.0.0.1:{}{}/index/",
            self.port,
            crate::index::path::PACKAGING_PATH
        )
    }
}

impl Drop for Loopback {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(conn: TcpStream, public: &crate::storage::Store, config: &str) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    loop {
        let mut request = String::new();
        if reader.read_line(&mut request)? == 0 {
            return Ok(());
        }
        // Skip the headers.
        let mut line = String::new();
        while reader.read_line(&mut line)? > 2 {
            line.clear();
        }
        let path = request.split_whitespace().nth(1).unwrap_or("/");
        let body = lookup(public, config, path);
        let mut out = &conn;
        match body {
            Some(bytes) => {
                write!(
                    out,
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
                    bytes.len()
                )?;
                out.write_all(&bytes)?;
            }
            None => write!(out, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")?,
        }
        out.flush()?;
    }
}

fn lookup(public: &crate::storage::Store, config: &str, path: &str) -> Option<Vec<u8>> {
    let path = path
        .split('?')
        .next()?
        .strip_prefix(crate::index::path::PACKAGING_PATH)?
        .trim_start_matches('/');
    if path == "index/config.json" {
        return Some(config.as_bytes().to_vec());
    }
    let allowed = path.starts_with("index/") || path.starts_with("crates/");
    if !allowed
        || path
            .split('/')
            .any(|p| p.is_empty() || p == "." || p == ".." || p.contains('%'))
    {
        return None;
    }
    public
        .read(crate::storage::Area::Public, path)
        .ok()
        .flatten()
}
