//! The processes an end-to-end test needs: the built-in origin and the edge proxy, each a
//! real `rilla` process on ephemeral loopback ports, stopped when dropped.

use std::{
    io::{BufRead as _, BufReader},
    net::{SocketAddr, TcpListener},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use crate::{
    http::{self, HttpResponse},
    path_str, rilla, rilla_bin,
};

/// A free loopback port (bound, read, released).
///
/// # Panics
/// When no port can be bound.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A child process killed (SIGTERM, then SIGKILL) when dropped.
pub struct Process {
    child: Option<Child>,
    name: &'static str,
}

impl Process {
    /// Takes charge of a started child.
    pub fn new(child: Child, name: &'static str) -> Self {
        Self {
            child: Some(child),
            name,
        }
    }

    /// Sends SIGTERM and waits up to `limit` for the exit; returns how long it took, or
    /// `None` if it had to be killed.
    pub fn terminate(&mut self, limit: Duration) -> Option<Duration> {
        let child = self.child.as_mut()?;
        let started = Instant::now();
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        while started.elapsed() < limit {
            if let Ok(Some(_)) = child.try_wait() {
                self.child = None;
                return Some(started.elapsed());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        self.child = None;
        None
    }

    /// Sends a signal by name (`HUP`, …).
    pub fn signal(&self, name: &str) {
        if let Some(child) = &self.child {
            let _ = Command::new("kill")
                .args([&format!("-{name}"), &child.id().to_string()])
                .status();
        }
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            for _ in 0..100 {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            eprintln!("{} did not stop on SIGTERM; killing it", self.name);
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The built-in origin as a separate process.
pub struct Origin {
    /// Its address.
    pub addr: SocketAddr,
    _process: Process,
}

impl Origin {
    /// Starts `rilla origin --listen 127.0.0.1:0` and reads the bound address.
    ///
    /// # Panics
    /// When the origin does not start.
    pub fn start() -> Self {
        let mut child = Command::new(rilla_bin())
            .args(["origin", "--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the origin starts");
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("the origin prints its address");
        let addr = line
            .trim()
            .rsplit("http://")
            .next()
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("unexpected origin banner {line:?}"));
        Self {
            addr,
            _process: Process {
                child: Some(child),
                name: "origin",
            },
        }
    }

    /// Requests per path so far (`GET /_origin/stats`).
    pub fn stats(&self) -> serde_json::Value {
        let resp = http::get(self.addr, "/_origin/stats");
        serde_json::from_slice(&resp.body).expect("origin stats are JSON")
    }

    /// How many requests the origin received for `path`.
    pub fn count(&self, path: &str) -> u64 {
        self.stats()
            .get(path)
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0)
    }

    /// The full target of the last request for `path`.
    pub fn last_target(&self, path: &str) -> Option<String> {
        self.stats()
            .get("last_target")
            .and_then(|m| m.get(path))
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    }

    /// Total requests received.
    pub fn total(&self) -> u64 {
        self.stats()
            .get("total")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0)
    }
}

/// An edge proxy process with its own key directory and configuration file.
pub struct Proxy {
    /// Public listener.
    pub addr: SocketAddr,
    /// Admin listener.
    pub admin: SocketAddr,
    /// TLS listener, when configured.
    pub tls_addr: Option<SocketAddr>,
    /// Directory holding `keys/` and `rilla.toml`.
    pub dir: tempfile::TempDir,
    /// The running process.
    pub process: Process,
}

/// What to put into the proxy's configuration besides listeners and keys.
pub struct ProxyConfig {
    /// TOML appended after the generated `[server]` and `[tokens]` sections: origins,
    /// routes, limits.
    pub body: String,
    /// Extra lines for the `[tokens]` section.
    pub tokens: String,
    /// Whether to add a TLS listener with a self-signed certificate.
    pub tls: bool,
}

impl Proxy {
    /// Writes the configuration, makes a key and starts `rilla proxy`, waiting until
    /// `/healthz` answers.
    ///
    /// # Panics
    /// When the proxy does not become healthy within a minute.
    pub fn start(cfg: &ProxyConfig) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let keys = dir.path().join("keys");
        let run = rilla(&["token", "keygen", "--out", path_str(&keys)], None);
        assert_eq!(run.code, 0, "keygen: {run:?}");
        let addr: SocketAddr = ([127, 0, 0, 1], free_port()).into();
        let admin: SocketAddr = ([127, 0, 0, 1], free_port()).into();
        let mut server = format!(
            "[server]\nlisten = \"{addr}\"\nadmin_listen = \"{admin}\"\nthreads = 2\nshutdown_grace = \"1s\"\n"
        );
        let tls_addr = cfg.tls.then(|| {
            let tls: SocketAddr = ([127, 0, 0, 1], free_port()).into();
            write_self_signed(dir.path());
            server.push_str(&format!(
                "tls_listen = \"{tls}\"\ntls_cert = \"cert.pem\"\ntls_key = \"key.pem\"\n"
            ));
            tls
        });
        let text = format!(
            "{server}\n[tokens]\nkeys_dir = \"keys\"\n{}\n\n{}\n",
            cfg.tokens, cfg.body
        );
        let config_path = dir.path().join("rilla.toml");
        std::fs::write(&config_path, text).expect("config written");
        let child = Command::new(rilla_bin())
            .args(["proxy", "--config", path_str(&config_path)])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the proxy starts");
        let mut proxy = Self {
            addr,
            admin,
            tls_addr,
            dir,
            process: Process {
                child: Some(child),
                name: "proxy",
            },
        };
        let started = Instant::now();
        loop {
            if let Ok(r) = http::request(addr, "GET", "/healthz", &[], b"")
                && r.status == 200
            {
                break;
            }
            assert!(
                proxy.process.is_running(),
                "the proxy exited during start-up"
            );
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the proxy did not become healthy"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        proxy
    }

    /// The configuration file.
    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("rilla.toml")
    }

    /// The key directory.
    pub fn keys(&self) -> PathBuf {
        self.dir.path().join("keys")
    }

    /// `GET target` on the public listener.
    pub fn get(&self, target: &str) -> HttpResponse {
        http::get(self.addr, target)
    }

    /// The admin `/metrics` text.
    pub fn metrics(&self) -> String {
        http::get(self.admin, "/metrics").text()
    }

    /// The sum of a metric's samples whose labels contain every `label="value"` given.
    pub fn metric(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        metric_sum(&self.metrics(), name, labels)
    }

    /// Signs a token for `scope` with this proxy's key.
    pub fn sign(&self, sub: &str, scope: &str, ttl: &str) -> String {
        let keys = self.keys();
        let run = rilla(
            &[
                "token",
                "sign",
                "--keys",
                path_str(&keys),
                "--sub",
                sub,
                "--scope",
                scope,
                "--ttl",
                ttl,
            ],
            None,
        );
        assert_eq!(run.code, 0, "sign: {run:?}");
        run.stdout.trim().to_owned()
    }
}

/// Sums a metric's samples in Prometheus text whose labels contain every pair given.
pub fn metric_sum(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .filter(|l| {
            labels
                .iter()
                .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
        })
        .filter_map(|l| l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()))
        .sum::<f64>()
        + 0.0 // an empty sum is -0.0
}

/// Writes `cert.pem` and `key.pem` for `localhost`/`127.0.0.1` into `dir`.
fn write_self_signed(dir: &Path) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
        .expect("a self-signed certificate");
    std::fs::write(dir.join("cert.pem"), cert.cert.pem()).expect("cert written");
    std::fs::write(dir.join("key.pem"), cert.signing_key.serialize_pem()).expect("key written");
}
