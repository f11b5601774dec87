//! What a guest sees of the host's files: a Spin component's `files` (and `exclude_files`),
//! staged read-only, and `edge-host serve --dir`; nothing else, and nothing writable.

use host::{GuestDir, RuntimeConfig, ServerConfig};

use crate::support::{FIXTURES_WASM, TestServer};
use crate::up::{AppDir, text};

const MANIFEST: &str = r#"spin_manifest_version = 2
[application]
name = "files"

[[trigger.http]]
route = "/..."
component = "site"

[[trigger.http]]
route = "/bare/..."
component = "bare"

[component.site]
source = "fixtures.wasm"
files = ["static/**/*", { source = "conf", destination = "/etc/app" }]
exclude_files = ["**/*.key"]

[component.bare]
source = "fixtures.wasm"
"#;

fn site() -> anyhow::Result<AppDir> {
    let dir = AppDir::fixtures(MANIFEST)?;
    for (path, contents) in [
        ("static/index.html", "<h1>home</h1>"),
        ("static/css/site.css", "body { margin: 0 }"),
        ("static/tls.key", "private"),
        ("conf/app.conf", "mode = edge"),
        ("secret.txt", "not for the guest"),
    ] {
        let path = dir.root.join(path);
        std::fs::create_dir_all(path.parent().expect("a parent"))?;
        std::fs::write(path, contents)?;
    }
    Ok(dir)
}

#[tokio::test]
async fn a_component_reads_its_files_and_nothing_else() -> anyhow::Result<()> {
    let dir = site()?;
    let server = dir.serve(&[]).await?;

    let page = server.get("/fs/read?path=/static/index.html").await?;
    assert_eq!(page.status(), 200, "{}", text(&page));
    assert_eq!(text(&page), "<h1>home</h1>");
    let css = server.get("/fs/read?path=/static/css/site.css").await?;
    assert_eq!(text(&css), "body { margin: 0 }");
    let conf = server.get("/fs/read?path=/etc/app/app.conf").await?;
    assert_eq!(conf.status(), 200, "{}", text(&conf));
    assert_eq!(text(&conf), "mode = edge");

    // What the mounts name, less what exclude_files keeps out.
    let root = server.get("/fs/list?path=/").await?;
    assert_eq!(root.status(), 200, "{}", text(&root));
    assert_eq!(text(&root), "etc\nstatic");
    let listed = server.get("/fs/list?path=/static").await?;
    assert_eq!(text(&listed), "css\nindex.html");
    for path in [
        "/static/tls.key",
        "/secret.txt",
        "/spin.toml",
        "/static/../../secret.txt",
        "/../../../../etc/passwd",
        "/etc/passwd",
    ] {
        let refused = server.get(&format!("/fs/read?path={path}")).await?;
        assert_eq!(refused.status(), 404, "{path}: {}", text(&refused));
        assert!(
            text(&refused).starts_with(path),
            "{path}: {}",
            text(&refused)
        );
    }
    Ok(())
}

#[tokio::test]
async fn the_files_are_read_only_and_the_host_copy_is_untouched() -> anyhow::Result<()> {
    let dir = site()?;
    let server = dir.serve(&[]).await?;

    for path in [
        "/static/index.html",
        "/static/new.html",
        "/etc/app/app.conf",
    ] {
        let write = server.get(&format!("/fs/write?path={path}")).await?;
        assert_eq!(write.status(), 404, "{path}: {}", text(&write));
        assert!(text(&write).starts_with(path), "{path}: {}", text(&write));
    }
    let page = server.get("/fs/read?path=/static/index.html").await?;
    assert_eq!(text(&page), "<h1>home</h1>");
    assert_eq!(
        std::fs::read_to_string(dir.root.join("static/index.html"))?,
        "<h1>home</h1>"
    );
    assert!(!dir.root.join("static/new.html").exists());
    Ok(())
}

#[tokio::test]
async fn a_component_without_files_sees_no_file_system() -> anyhow::Result<()> {
    let dir = site()?;
    let server = dir.serve(&[]).await?;
    for path in ["/", "/static"] {
        let listed = server.get(&format!("/bare/fs/list?path={path}")).await?;
        assert_eq!(listed.status(), 404, "{path}: {}", text(&listed));
    }
    let read = server.get("/bare/fs/read?path=/static/index.html").await?;
    assert_eq!(read.status(), 404, "{}", text(&read));
    Ok(())
}

#[tokio::test]
async fn a_missing_source_stops_the_start_with_its_path() -> anyhow::Result<()> {
    let manifest = MANIFEST.replace("\"conf\"", "\"no-such-dir\"");
    let dir = AppDir::fixtures(&manifest)?;
    let Err(err) = dir.load(&[], RuntimeConfig::default(), Default::default()) else {
        anyhow::bail!("an application with a missing file source loaded");
    };
    let message = format!("{err:#}");
    assert!(
        message.contains("component.site.files[1]") && message.contains("no-such-dir"),
        "{message}"
    );
    Ok(())
}

#[tokio::test]
async fn serve_dir_gives_one_directory_read_only() -> anyhow::Result<()> {
    let dir = site()?;
    let runtime = RuntimeConfig {
        dirs: vec![GuestDir::new(dir.root.join("static"), "/www")],
        ..RuntimeConfig::default()
    };
    let server = TestServer::start_with(FIXTURES_WASM, runtime, ServerConfig::default()).await?;
    let page = server.get("/fs/read?path=/www/index.html").await?;
    assert_eq!(page.status(), 200, "{}", text(&page));
    assert_eq!(text(&page), "<h1>home</h1>");
    // A directory given as it is: everything in it, nothing above it, nothing written.
    let key = server.get("/fs/read?path=/www/tls.key").await?;
    assert_eq!(text(&key), "private");
    let above = server.get("/fs/read?path=/www/../secret.txt").await?;
    assert_eq!(above.status(), 404, "{}", text(&above));
    let write = server.get("/fs/write?path=/www/index.html").await?;
    assert_eq!(write.status(), 404, "{}", text(&write));
    assert_eq!(
        std::fs::read_to_string(dir.root.join("static/index.html"))?,
        "<h1>home</h1>"
    );

    let missing = RuntimeConfig {
        dirs: vec![GuestDir::new(dir.root.join("nope"), "/www")],
        ..RuntimeConfig::default()
    };
    let Err(err) = TestServer::start_with(FIXTURES_WASM, missing, ServerConfig::default()).await
    else {
        anyhow::bail!("a missing --dir was accepted");
    };
    assert!(format!("{err:#}").contains("nope"), "{err:#}");
    Ok(())
}

/// The example application's `GET /static/{*path}` (the toolkit's `StaticFiles`) on the
/// files the repository's spin.toml mounts.
mod example {
    use super::*;
    use crate::support::{Proto, assert_problem, request_with, send};

    const INDEX: &str = "handler/example/static/index.html";

    fn header<'a>(res: &'a http::Response<bytes::Bytes>, name: &str) -> &'a str {
        res.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    async fn static_files_are_served_with_validators_and_ranges(
        example: &str,
    ) -> anyhow::Result<()> {
        let dir = AppDir::repository(example)?;
        let index = std::fs::read_to_string(dir.root.join(INDEX))?;
        let server = dir.serve(&[]).await?;

        for proto in [Proto::Http1, Proto::Http2] {
            let page = send(
                server.addr,
                proto,
                request_with("GET", "/static/index.html", &[], "")?,
            )
            .await?;
            assert_eq!(page.status(), 200, "{}", text(&page));
            assert_eq!(text(&page), index);
            assert_eq!(header(&page, "content-type"), "text/html; charset=utf-8");
            assert_eq!(header(&page, "content-length"), index.len().to_string());
            assert_eq!(header(&page, "accept-ranges"), "bytes");
            assert_eq!(header(&page, "cache-control"), "public, max-age=300");
            assert!(
                header(&page, "etag").starts_with('"'),
                "{:?}",
                page.headers()
            );
            assert!(!header(&page, "last-modified").is_empty());
        }
        let page = server.get("/static/index.html").await?;
        let etag = header(&page, "etag").to_owned();
        let modified = header(&page, "last-modified").to_owned();

        let head = server.call("HEAD", "/static/index.html", &[], "").await?;
        assert_eq!(head.status(), 200);
        assert!(head.body().is_empty());
        assert_eq!(header(&head, "etag"), etag);
        assert_eq!(header(&head, "last-modified"), modified);
        // wasi:http fails a body shorter than its declared length, so the glue leaves
        // HEAD's Content-Length out (RFC 9110 §8.6 allows it).
        assert_eq!(header(&head, "content-length"), "");

        let fresh = server
            .call("GET", "/static/index.html", &[("if-none-match", &etag)], "")
            .await?;
        assert_eq!(fresh.status(), 304);
        assert!(fresh.body().is_empty());
        assert_eq!(header(&fresh, "etag"), etag);
        let since = server
            .call(
                "GET",
                "/static/index.html",
                &[("if-modified-since", &modified)],
                "",
            )
            .await?;
        assert_eq!(since.status(), 304);
        let stale = server
            .call(
                "GET",
                "/static/index.html",
                &[("if-match", "\"other\"")],
                "",
            )
            .await?;
        assert_problem(&stale, 412)?;

        let part = server
            .call("GET", "/static/index.html", &[("range", "bytes=0-14")], "")
            .await?;
        assert_eq!(part.status(), 206, "{}", text(&part));
        assert_eq!(text(&part), &index[..15]);
        assert_eq!(
            header(&part, "content-range"),
            format!("bytes 0-14/{}", index.len())
        );
        let tail = server
            .call("GET", "/static/index.html", &[("range", "bytes=-8")], "")
            .await?;
        assert_eq!(tail.status(), 206);
        assert_eq!(text(&tail), &index[index.len() - 8..]);
        let two = server
            .call(
                "GET",
                "/static/index.html",
                &[("range", "bytes=0-1,-2")],
                "",
            )
            .await?;
        assert_eq!(two.status(), 206);
        assert!(
            header(&two, "content-type").starts_with("multipart/byteranges; boundary="),
            "{:?}",
            two.headers()
        );
        let boundary = header(&two, "content-type")
            .split_once("boundary=")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        let len = index.len();
        let part = |range: &str, bytes: &str| {
            format!(
                "--{boundary}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Range: bytes {range}/{len}\r\n\r\n{bytes}\r\n"
            )
        };
        let expected = format!(
            "{}{}--{boundary}--\r\n",
            part("0-1", &index[..2]),
            part(&format!("{}-{}", len - 2, len - 1), &index[len - 2..]),
        );
        assert_eq!(text(&two), expected);
        let outside = server
            .call(
                "GET",
                "/static/index.html",
                &[("range", "bytes=100000-")],
                "",
            )
            .await?;
        assert_eq!(outside.status(), 416);
        assert_eq!(
            header(&outside, "content-range"),
            format!("bytes */{}", index.len())
        );
        let changed = server
            .call(
                "GET",
                "/static/index.html",
                &[("range", "bytes=0-14"), ("if-range", "\"not-the-etag\"")],
                "",
            )
            .await?;
        assert_eq!(changed.status(), 200);
        assert_eq!(text(&changed), index);

        let coded = server
            .call(
                "GET",
                "/static/index.html",
                &[("accept-encoding", "gzip")],
                "",
            )
            .await?;
        assert_eq!(coded.status(), 200);
        assert_eq!(header(&coded, "content-encoding"), "gzip");
        let vary: Vec<_> = coded
            .headers()
            .get_all("vary")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        assert!(
            vary.iter().any(|v| v.contains("Accept-Encoding")),
            "{vary:?}"
        );
        assert_eq!(
            header(&coded, "etag"),
            format!("{}-gzip\"", etag.trim_end_matches('"'))
        );
        assert!(coded.body().len() < index.len());
        let css = server.get("/static/site.css").await?;
        assert_eq!(css.status(), 200);
        assert_eq!(header(&css, "content-type"), "text/css; charset=utf-8");

        for path in [
            "/static/%2e%2e/spin.toml",
            "/static/a%2f..%2f..%2fspin.toml",
        ] {
            let refused = server.get(path).await?;
            assert_problem(&refused, 400)?;
        }
        let missing = server.get("/static/missing.css").await?;
        assert_problem(&missing, 404)?;
        Ok(())
    }

    crate::each_world!(static_files_are_served_with_validators_and_ranges);
}
