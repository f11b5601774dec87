//! A user's first steps, outside this repository: `edge-host new` writes a project into a
//! temporary directory, `edge-host build` builds its component, `edge-host up` serves it, and
//! the project's own `cargo test` passes, with no edits.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const NAME: &str = "hello-edge";

fn edge_host(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_edge-host"));
    command.current_dir(dir);
    command
}

/// The workspace this test belongs to.
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ has a parent")
        .to_owned()
}

/// Stops `edge-host up` when the test ends, passed or not.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One HTTP/1.1 request on a fresh connection: the status and the body (not chunked: the
/// request asks for HTTP/1.0 framing by closing).
fn request(addr: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connects");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout set");
    write!(
        stream,
        "{method} {path} HTTP/1.0\r\nHost: localhost\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .expect("request sent");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response read");
    let (head, body) = response.split_once("\r\n\r\n").expect("a head and a body");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    (status, body.to_owned())
}

#[test]
fn a_new_project_builds_serves_and_passes_its_own_test() {
    let root = std::env::temp_dir().join(format!("edge-host-new-e2e-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).expect("temp dir");
    let dir = root.join(NAME);

    let out = edge_host(&root)
        .args(["new", NAME])
        .output()
        .expect("edge-host new runs");
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("edge-host up --build"), "{stdout}");
    // The versions this workspace is tested with, so the project does not resolve anew.
    std::fs::copy(workspace().join("Cargo.lock"), dir.join("Cargo.lock")).expect("lockfile");

    let out = edge_host(&dir)
        .arg("build")
        .output()
        .expect("edge-host build runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let wasm = dir.join("target/wasm32-wasip2/release/hello_edge.wasm");
    assert!(wasm.is_file(), "no {}", wasm.display());
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Built component `hello-edge`"),
        "{out:?}"
    );

    let mut child = edge_host(&dir)
        .args(["up", "--listen", "127.0.0.1:0", "--no-cache"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("edge-host up starts");
    let stdout = child.stdout.take().expect("stdout piped");
    let server = Server(child);
    let mut lines = BufReader::new(stdout).lines();
    let addr = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|line| {
            line.strip_prefix("Serving hello-edge on http://")
                .map(str::to_owned)
        })
        .expect("edge-host up says where it serves");
    let (status, body) = request(&addr, "GET", "/hello/Ada", "");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, r#"{"message":"Hello, Ada!"}"#);
    assert_eq!(request(&addr, "PUT", "/notes/n", "buy milk").0, 204);
    assert_eq!(
        request(&addr, "GET", "/notes/n", ""),
        (200, "buy milk".to_owned())
    );
    let (status, body) = request(&addr, "GET", "/notes/none", "");
    assert_eq!(status, 404, "{body}");
    assert!(body.contains(r#""status":404"#), "{body}");
    drop(server);

    // The project's own tests, through the harness; dependencies come from this
    // workspace's build directory, so only the project and the host are compiled again.
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut test = Command::new(cargo);
    test.arg("test").current_dir(&dir);
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy().into_owned();
        if (name.starts_with("CARGO") && name != "CARGO_HOME") || name.starts_with("RUSTC") {
            test.env_remove(&name);
        }
    }
    test.env("CARGO_TARGET_DIR", workspace().join("target"));
    let out = test.output().expect("cargo test runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("test notes_are_stored ... ok"), "{stdout}");
    assert!(
        stdout.contains("test greets_with_the_variable ... ok"),
        "{stdout}"
    );
    assert!(
        stdout.contains("test tests::greets_by_name ... ok"),
        "{stdout}"
    );

    std::fs::remove_dir_all(&root).expect("cleaned up");
}
