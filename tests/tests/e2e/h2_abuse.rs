//! HTTP/2 abuse over raw frames (RFC 9113): a header block that never ends (CONTINUATION
//! flood) and a SETTINGS flood. Each ends the abusive connection within a bound and the
//! server goes on serving. (Rapid reset, a zero window and an invalid preface are tested in
//! `limits.rs` and `tls.rs`.)

use std::time::Duration;

use host::ServerLimits;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{fixtures_with as fixtures, h2_frames};

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// One frame: type, flags, stream and payload.
fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len())
        .expect("a small frame")
        .to_be_bytes();
    let mut out = vec![len[1], len[2], len[3], kind, flags];
    out.extend_from_slice(&stream.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

const SETTINGS: u8 = 0x4;
const HEADERS: u8 = 0x1;
const CONTINUATION: u8 = 0x9;
const GOAWAY: u8 = 0x7;
const END_STREAM: u8 = 0x1;

/// An HPACK header block fragment: `GET http://x/ok` from the static table, `:authority`
/// as a literal.
fn request_head() -> Vec<u8> {
    // :method GET, :scheme http, :path /, then :authority "x" (indexed name 1, literal value).
    vec![0x82, 0x86, 0x84, 0x41, 0x01, b'x']
}

/// A literal header field `x-a: <100 a>` without indexing, as one fragment.
fn filler() -> Vec<u8> {
    let mut out = vec![0x00, 0x03];
    out.extend_from_slice(b"x-a");
    out.push(100);
    out.extend(std::iter::repeat_n(b'a', 100));
    out
}

/// Reads what the server sends until it closes the connection or `within` passes; whether
/// it closed, and the frame types seen.
async fn drain(stream: &mut TcpStream, within: Duration) -> (bool, Vec<u8>) {
    let mut bytes = Vec::new();
    let closed = tokio::time::timeout(within, stream.read_to_end(&mut bytes))
        .await
        .is_ok();
    let kinds = h2_frames(&bytes)
        .into_iter()
        .map(|(kind, ..)| kind)
        .collect();
    (closed, kinds)
}

/// CVE-2024-27316's class: a HEADERS frame without END_HEADERS followed by CONTINUATION
/// frames without end. The server must not buffer them without bound: past the header
/// list limit it answers GOAWAY (or closes) while the client is still sending.
#[tokio::test]
async fn a_continuation_flood_ends_the_connection() -> anyhow::Result<()> {
    let server = fixtures(ServerLimits::default()).await?;
    let mut stream = TcpStream::connect(server.addr).await?;
    stream.write_all(PREFACE).await?;
    stream.write_all(&frame(SETTINGS, 0, 0, &[])).await?;
    stream
        .write_all(&frame(HEADERS, END_STREAM, 1, &request_head()))
        .await?;
    let continuation = frame(CONTINUATION, 0, 1, &filler());
    let batch: Vec<u8> = std::iter::repeat_n(continuation, 100).flatten().collect();
    // Up to 100 MB of header block, against a 16 KiB limit: the server stops it long
    // before (a write fails once it has closed).
    let mut sent = 0_usize;
    for _ in 0..10_000 {
        if stream.write_all(&batch).await.is_err() {
            break;
        }
        sent += batch.len();
    }
    let (closed, kinds) = drain(&mut stream, Duration::from_secs(5)).await;
    assert!(
        closed || kinds.contains(&GOAWAY),
        "sent {sent} bytes; the server saw {kinds:?}"
    );
    assert!(
        sent < 100 * 1024 * 1024,
        "the server took {sent} bytes of one header block"
    );
    assert_eq!(server.get("/ok").await?.status(), 200);
    Ok(())
}

/// A client that sends SETTINGS frames without end and reads none of the server's ACKs:
/// the server's replies back up, and once it cannot write for the send timeout the
/// connection ends, while others are served.
#[tokio::test]
async fn a_settings_flood_ends_the_connection() -> anyhow::Result<()> {
    let server = fixtures(ServerLimits {
        send_timeout: Duration::from_secs(2),
        ..ServerLimits::default()
    })
    .await?;
    let mut stream = TcpStream::connect(server.addr).await?;
    stream.write_all(PREFACE).await?;
    // SETTINGS_MAX_CONCURRENT_STREAMS = 100, again and again.
    let settings = frame(SETTINGS, 0, 0, &[0x00, 0x03, 0x00, 0x00, 0x00, 0x64]);
    let batch: Vec<u8> = std::iter::repeat_n(settings, 1000).flatten().collect();
    let flood = tokio::time::timeout(Duration::from_secs(30), async {
        for _ in 0..100_000 {
            if stream.write_all(&batch).await.is_err() {
                return true;
            }
        }
        false
    })
    .await;
    // Either the server closed on us mid-flood, or the flood ran out; what the server sends
    // now is its last.
    let (closed, kinds) = drain(&mut stream, Duration::from_secs(10)).await;
    assert!(
        flood == Ok(true) || closed,
        "the flooding connection is still open (server sent {} frames)",
        kinds.len()
    );
    assert_eq!(server.get("/ok").await?.status(), 200);
    Ok(())
}
