//! The container files (`docker/Dockerfile`, `docker/compose.yaml`, `.dockerignore`),
//! checked without a Docker engine: what they copy exists and is not ignored, every
//! workspace member reaches the build, the commands and flags they run exist in `rilla`,
//! the ports agree, the user is not root, and the image's default command really serves
//! the health check path.

use std::{
    collections::BTreeSet,
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use rilla_tests::{http, rilla, rilla_bin, stack::free_port};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the repository")
        .to_path_buf()
}

fn read(relative: &str) -> String {
    let path = repo_root().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// One Dockerfile instruction, continuation lines joined.
#[derive(Debug)]
struct Instruction {
    /// Upper-case keyword (`FROM`, `COPY`, …).
    keyword: String,
    /// Everything after the keyword.
    args: String,
    /// Index of the `FROM` stage it belongs to (0 for the first stage).
    stage: usize,
}

/// Splits a Dockerfile into instructions: comments and blank lines dropped, lines ending in
/// `\` joined with the next.
fn instructions(text: &str) -> Vec<Instruction> {
    let mut out = Vec::new();
    let mut pending = String::new();
    let mut stage = 0;
    let mut seen_from = false;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if let Some(head) = trimmed.strip_suffix('\\') {
            pending.push_str(head);
            pending.push(' ');
            continue;
        }
        pending.push_str(trimmed);
        let full = std::mem::take(&mut pending);
        let (keyword, args) = full.split_once(char::is_whitespace).unwrap_or((&full, ""));
        let keyword = keyword.to_ascii_uppercase();
        if keyword == "FROM" {
            if seen_from {
                stage += 1;
            }
            seen_from = true;
        }
        out.push(Instruction {
            keyword,
            args: args.trim().to_owned(),
            stage,
        });
    }
    assert!(
        pending.is_empty(),
        "the Dockerfile ends inside a continuation"
    );
    out
}

struct Dockerfile {
    text: String,
    instructions: Vec<Instruction>,
}

impl Dockerfile {
    fn load() -> Self {
        let text = read("docker/Dockerfile");
        let instructions = instructions(&text);
        Self { text, instructions }
    }

    fn all(&self, keyword: &str) -> impl Iterator<Item = &Instruction> {
        self.instructions
            .iter()
            .filter(move |i| i.keyword == keyword)
    }

    fn last_stage(&self) -> usize {
        self.instructions.iter().map(|i| i.stage).max().unwrap_or(0)
    }

    /// The argument of the single instruction `keyword` in the final stage.
    fn final_one(&self, keyword: &str) -> &str {
        let last = self.last_stage();
        let found: Vec<_> = self.all(keyword).filter(|i| i.stage == last).collect();
        assert_eq!(
            found.len(),
            1,
            "expected exactly one {keyword} in the final stage, found {found:?}"
        );
        &found[0].args
    }

    /// `CMD` or `ENTRYPOINT` in exec (JSON) form.
    fn exec_form(&self, keyword: &str) -> Vec<String> {
        json_array(self.final_one(keyword))
    }

    /// The command of `HEALTHCHECK [options] CMD [...]`.
    fn healthcheck(&self) -> Vec<String> {
        let args = self.final_one("HEALTHCHECK");
        let (_, command) = args
            .split_once("CMD ")
            .unwrap_or_else(|| panic!("HEALTHCHECK without CMD: {args}"));
        json_array(command)
    }
}

fn json_array(text: &str) -> Vec<String> {
    serde_json::from_str(text.trim())
        .unwrap_or_else(|e| panic!("not a JSON array of strings (exec form): {text}: {e}"))
}

/// The value following `flag` in a command (`--listen 0.0.0.0:8080` or `--listen=…`).
fn flag_value<'a>(command: &'a [String], flag: &str) -> &'a str {
    let prefixed = format!("{flag}=");
    command
        .iter()
        .enumerate()
        .find_map(|(i, arg)| {
            if arg == flag {
                command.get(i + 1).map(String::as_str)
            } else {
                arg.strip_prefix(&prefixed)
            }
        })
        .unwrap_or_else(|| panic!("{command:?} has no {flag}"))
}

fn port_of(addr: &str) -> u16 {
    addr.rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {addr:?}"))
}

/// The workspace members listed in the root `Cargo.toml`.
fn workspace_members() -> Vec<String> {
    let manifest = read("Cargo.toml");
    let start = manifest
        .find("members = [")
        .expect("Cargo.toml lists workspace members");
    let list = &manifest[start..];
    let list = &list[..list.find(']').expect("the members list is closed")];
    list.split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// Patterns of `.dockerignore`, without comments, leading `**/` or `/`, or trailing `/`.
fn dockerignore_patterns() -> Vec<String> {
    read(".dockerignore")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            l.trim_start_matches("**/")
                .trim_start_matches('/')
                .trim_end_matches('/')
                .to_owned()
        })
        .collect()
}

/// Whether `path` (relative to the context) is excluded by a simple `.dockerignore`
/// pattern: the path itself, a directory above it, or (for `**/name`) any component.
fn ignored(path: &str, patterns: &[String]) -> bool {
    let path = path.trim_start_matches("./").trim_end_matches('/');
    patterns.iter().any(|p| {
        path == p
            || path.starts_with(&format!("{p}/"))
            || (!p.contains('/') && path.split('/').any(|c| c == p))
    })
}

/// The sources of every `COPY` from the build context (not `--from=` a stage).
fn context_copies(dockerfile: &Dockerfile) -> Vec<String> {
    let mut sources = Vec::new();
    for copy in dockerfile.all("COPY") {
        if copy.args.contains("--from") {
            continue;
        }
        let words: Vec<&str> = copy
            .args
            .split_whitespace()
            .filter(|w| !w.starts_with("--"))
            .collect();
        assert!(
            words.len() >= 2,
            "COPY needs a source and a destination: {copy:?}"
        );
        sources.extend(words[..words.len() - 1].iter().map(|s| (*s).to_owned()));
    }
    sources
}

/// `rilla <subcommand> --help`, asserting that it succeeds.
fn help(subcommand: Option<&str>) -> String {
    let mut args: Vec<&str> = subcommand.into_iter().collect();
    args.push("--help");
    let run = rilla(&args, None);
    assert_eq!(run.code, 0, "rilla {args:?}: {run:?}");
    run.stdout
}

/// Asserts that `command` (arguments to `rilla`) names an existing subcommand and that
/// every `--flag` in it is one that subcommand accepts.
fn assert_rilla_accepts(command: &[String], origin: &str) {
    let sub = command
        .first()
        .unwrap_or_else(|| panic!("{origin}: empty command"));
    let top = help(None);
    assert!(
        top.lines()
            .any(|l| l.split_whitespace().next() == Some(sub.as_str())),
        "{origin}: `rilla --help` lists no subcommand {sub:?}:\n{top}"
    );
    let sub_help = help(Some(sub));
    for flag in command.iter().filter(|a| a.starts_with("--")) {
        let flag = flag.split('=').next().unwrap_or(flag);
        assert!(
            sub_help
                .split(|c: char| c.is_whitespace() || c == ',' || c == '=')
                .any(|word| word == flag),
            "{origin}: `rilla {sub} --help` has no {flag}:\n{sub_help}"
        );
    }
}

#[test]
fn every_copied_path_exists_and_is_not_dockerignored() {
    let dockerfile = Dockerfile::load();
    let patterns = dockerignore_patterns();
    let sources = context_copies(&dockerfile);
    assert!(!sources.is_empty(), "the Dockerfile copies nothing");
    for src in &sources {
        assert!(
            repo_root().join(src).exists(),
            "the Dockerfile copies {src}, which is not in the repository"
        );
        assert!(
            !ignored(src, &patterns),
            "the Dockerfile copies {src}, which .dockerignore excludes"
        );
    }
    for needed in ["target", ".git", "fuzz/target", "node_modules"] {
        assert!(
            ignored(needed, &patterns),
            ".dockerignore should exclude {needed}"
        );
    }
}

#[test]
fn the_build_stage_gets_the_whole_workspace() {
    let dockerfile = Dockerfile::load();
    let sources: BTreeSet<String> = context_copies(&dockerfile)
        .iter()
        .map(|s| s.trim_start_matches("./").trim_end_matches('/').to_owned())
        .collect();
    for file in ["Cargo.toml", "Cargo.lock"] {
        assert!(
            sources.contains(file),
            "the Dockerfile does not copy {file}"
        );
    }
    let members = workspace_members();
    assert!(
        members.contains(&"proxy".to_owned()),
        "members: {members:?}"
    );
    for member in &members {
        assert!(
            sources.contains(member),
            "workspace member {member} is not copied into the build stage, so \
             `cargo build --locked` fails there"
        );
    }
}

#[test]
fn the_image_builds_and_runs_the_rilla_binary() {
    let dockerfile = Dockerfile::load();
    let froms: Vec<&str> = dockerfile.all("FROM").map(|i| i.args.as_str()).collect();
    assert_eq!(
        froms.len(),
        2,
        "a build stage and a runtime stage: {froms:?}"
    );
    assert!(froms[0].starts_with("rust:1-bookworm "), "{froms:?}");
    assert_eq!(
        froms[1].split_whitespace().next(),
        Some("debian:bookworm-slim")
    );

    let build = dockerfile
        .all("RUN")
        .find(|r| r.args.contains("cargo build"))
        .expect("a RUN with cargo build");
    assert_eq!(build.stage, 0, "cargo build runs in the build stage");
    for part in ["--release", "--locked", "--bin rilla"] {
        assert!(build.args.contains(part), "cargo build without {part}");
    }
    let proxy_manifest = read("proxy/Cargo.toml");
    assert!(
        proxy_manifest.contains("[[bin]]") && proxy_manifest.contains("name = \"rilla\""),
        "proxy/Cargo.toml declares no binary named rilla"
    );

    let copy = dockerfile
        .all("COPY")
        .find(|c| c.args.contains("--from"))
        .expect("the runtime stage copies the binary from the build stage");
    assert_eq!(copy.stage, dockerfile.last_stage());
    let words: Vec<&str> = copy.args.split_whitespace().collect();
    assert_eq!(words.last(), Some(&"/usr/local/bin/rilla"), "{copy:?}");
    let built = words[words.len() - 2];
    assert!(
        build.args.contains(built),
        "the binary copied from {built} is not produced by the build step"
    );

    assert_eq!(dockerfile.exec_form("ENTRYPOINT"), ["rilla"]);
}

#[test]
fn the_default_command_and_the_compose_commands_exist() {
    let dockerfile = Dockerfile::load();
    let cmd = dockerfile.exec_form("CMD");
    assert_eq!(cmd.first().map(String::as_str), Some("demo"));
    assert_rilla_accepts(&cmd, "Dockerfile CMD");

    // `command:` lines of compose.yaml, the commented-out proxy example included.
    let compose = read("docker/compose.yaml");
    let commands: Vec<Vec<String>> = compose
        .lines()
        .map(|l| l.trim().trim_start_matches('#').trim())
        .filter_map(|l| l.strip_prefix("command:"))
        .map(json_array)
        .collect();
    assert!(commands.contains(&cmd), "compose runs the image's CMD");
    assert!(
        commands
            .iter()
            .any(|c| c.first().map(String::as_str) == Some("proxy")),
        "compose.yaml shows how to run `proxy --config`"
    );
    for command in &commands {
        assert_rilla_accepts(command, "compose.yaml");
    }
}

#[test]
fn ports_listeners_and_healthcheck_agree() {
    let dockerfile = Dockerfile::load();
    let cmd = dockerfile.exec_form("CMD");
    let listen = flag_value(&cmd, "--listen");
    let admin = flag_value(&cmd, "--admin-listen");
    for addr in [listen, admin] {
        assert!(
            addr.starts_with("0.0.0.0:") || addr.starts_with("[::]:"),
            "{addr} is unreachable through a published port: listen on all interfaces"
        );
    }
    let wanted: BTreeSet<u16> = [port_of(listen), port_of(admin)].into();
    let exposed: BTreeSet<u16> = dockerfile
        .all("EXPOSE")
        .flat_map(|e| e.args.split_whitespace())
        .map(|p| {
            p.split('/')
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("EXPOSE {p}"))
        })
        .collect();
    assert_eq!(exposed, wanted, "EXPOSE and the CMD's listeners differ");

    let check = dockerfile.healthcheck();
    let url = check
        .iter()
        .find(|a| a.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in the HEALTHCHECK {check:?}"));
    let expected = format!("http://127.0.0.1:{}/healthz", port_of(listen));
    assert_eq!(
        url, &expected,
        "the HEALTHCHECK must hit the public listener"
    );
    // The healthcheck tool must be installed in the runtime stage.
    let last = dockerfile.last_stage();
    assert!(
        dockerfile
            .all("RUN")
            .any(|r| r.stage == last && r.args.contains(check[0].as_str())),
        "{} is not installed in the runtime stage",
        check[0]
    );

    let compose = read("docker/compose.yaml");
    let mut in_ports = false;
    let mut published = BTreeSet::new();
    for line in compose.lines().filter(|l| !l.trim_start().starts_with('#')) {
        let trimmed = line.trim();
        if trimmed == "ports:" {
            in_ports = true;
            continue;
        }
        if in_ports {
            let Some(item) = trimmed.strip_prefix("- ") else {
                in_ports = false;
                continue;
            };
            let spec = item
                .split('#')
                .next()
                .unwrap_or(item)
                .trim()
                .trim_matches('"');
            let container = spec.rsplit(':').next().unwrap_or(spec);
            published.insert(container.parse::<u16>().expect("a container port"));
        }
    }
    assert_eq!(
        published, wanted,
        "compose publishes other ports than the image uses"
    );

    let test_line = compose
        .lines()
        .map(str::trim)
        .find_map(|l| l.strip_prefix("test:"))
        .expect("compose.yaml has a healthcheck");
    let compose_check = json_array(test_line);
    assert_eq!(compose_check.first().map(String::as_str), Some("CMD"));
    assert_eq!(
        compose_check[1..],
        check[..],
        "compose and Dockerfile healthchecks differ"
    );

    let context = compose
        .lines()
        .map(str::trim)
        .find_map(|l| l.strip_prefix("context:"))
        .expect("compose.yaml builds from a context")
        .trim();
    let file = compose
        .lines()
        .map(str::trim)
        .find_map(|l| l.strip_prefix("dockerfile:"))
        .expect("compose.yaml names the Dockerfile")
        .trim();
    let context_dir = repo_root().join("docker").join(context);
    assert!(
        context_dir.join("Cargo.lock").exists(),
        "the compose build context {context} is not the repository root"
    );
    assert!(
        context_dir.join(file).exists(),
        "compose builds {file}: missing"
    );
}

#[test]
fn the_image_runs_as_a_non_root_user() {
    let dockerfile = Dockerfile::load();
    let user = dockerfile.final_one("USER");
    let name = user.split(':').next().unwrap_or(user);
    assert!(
        name != "root" && name != "0",
        "the runtime stage runs as root ({user})"
    );
    if let Ok(uid) = name.parse::<u32>() {
        assert_ne!(uid, 0);
        assert!(
            dockerfile.text.contains(&format!("--uid {uid}")),
            "USER {uid} is not created in the image"
        );
    }
}

/// A child process killed when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn status(addr: SocketAddr, path: &str) -> Option<u16> {
    http::request(addr, "GET", path, &[], b"")
        .ok()
        .map(|r| r.status)
}

#[test]
fn the_default_command_serves_the_healthcheck_path() {
    // The image's CMD with its addresses moved to free loopback ports.
    let dockerfile = Dockerfile::load();
    let cmd = dockerfile.exec_form("CMD");
    let public: SocketAddr = ([127, 0, 0, 1], free_port()).into();
    let admin: SocketAddr = ([127, 0, 0, 1], free_port()).into();
    let listen = flag_value(&cmd, "--listen").to_owned();
    let admin_listen = flag_value(&cmd, "--admin-listen").to_owned();
    let args: Vec<String> = cmd
        .iter()
        .map(|a| {
            if *a == listen {
                public.to_string()
            } else if *a == admin_listen {
                admin.to_string()
            } else {
                a.clone()
            }
        })
        .collect();
    let mut demo = Running(
        Command::new(rilla_bin())
            .args(&args)
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("rilla demo starts"),
    );
    let check = dockerfile.healthcheck();
    let path = check
        .iter()
        .find_map(|a| a.strip_prefix("http://"))
        .and_then(|rest| rest.find('/').map(|i| rest[i..].to_owned()))
        .expect("the HEALTHCHECK URL has a path");
    let started = Instant::now();
    while status(public, &path) != Some(200) {
        assert!(
            matches!(demo.0.try_wait(), Ok(None)),
            "rilla {args:?} exited during start-up"
        );
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{path} did not answer 200 within a minute"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(status(admin, "/metrics"), Some(200), "admin /metrics");
}
