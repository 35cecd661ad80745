//! `rilla_origin::run` as a real process: it prints its address, serves, and exits cleanly
//! on SIGTERM. The test re-runs its own binary as the child process.

#![allow(clippy::unwrap_used)]
#![cfg(unix)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CHILD_ENV: &str = "RILLA_ORIGIN_TEST_CHILD";
const NAME: &str = "run_prints_its_address_serves_and_exits_on_sigterm";

/// Kills the child if the test fails before it exits.
struct Reap(Child);

impl Drop for Reap {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

#[test]
fn run_prints_its_address_serves_and_exits_on_sigterm() {
    if std::env::var_os(CHILD_ENV).is_some() {
        rilla_origin::run("127.0.0.1:0".parse().unwrap()).unwrap();
        return;
    }
    let child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", NAME, "--nocapture", "--test-threads", "1"])
        .env(CHILD_ENV, "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut child = Reap(child);
    let stdout = child.0.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("the child printed its address")
            .unwrap();
        // The harness may print the test's name on the same line first.
        if let Some((_, addr)) = line.split_once("origin listening on http://") {
            break addr.trim().to_owned();
        }
    };
    let mut stream = TcpStream::connect(&addr).unwrap();
    stream
        .write_all(b"GET /live/ch1/master.m3u8 HTTP/1.1\r\nHost: o\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
    assert!(reply.contains("v360/index.m3u8"));

    let killed = Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the origin did not exit on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
}
