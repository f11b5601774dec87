//! Request smuggling and malformed HTTP/1.1 (RFC 9112): each raw request of the corpus is
//! refused before a guest sees it, or framed so that nothing hides behind it, and the server
//! goes on serving.

use crate::support::{FIXTURES_WASM, TestServer, raw_exchange as exchange};

/// What a case must get: refused with one of these statuses, and nothing else answered on
/// the connection.
struct Case {
    name: &'static str,
    request: Vec<u8>,
    statuses: &'static [u16],
}

fn case(name: &'static str, request: impl Into<Vec<u8>>, statuses: &'static [u16]) -> Case {
    Case {
        name,
        request: request.into(),
        statuses,
    }
}

/// A second request hidden in the first one's body: it must never be answered.
const SMUGGLED: &str = "GET /count HTTP/1.1\r\nHost: x\r\n\r\n";

fn corpus() -> Vec<Case> {
    let post = |headers: &str, body: &str| {
        format!("POST /echo HTTP/1.1\r\nHost: x\r\n{headers}\r\n\r\n{body}{SMUGGLED}")
    };
    let get = |headers: &str| format!("GET /ok HTTP/1.1\r\n{headers}\r\n\r\n");
    let long_uri = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(70_000));
    let big_headers = format!(
        "GET /ok HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "b".repeat(20_000)
    );
    vec![
        // CL.TE / TE.CL: both framings at once (RFC 9112 §6.1: reject, or let TE win and
        // close after the response).
        case(
            "CL+TE",
            post(
                "Content-Length: 6\r\nTransfer-Encoding: chunked",
                "0\r\n\r\n",
            ),
            &[200, 400],
        ),
        case(
            "TE+CL",
            post(
                "Transfer-Encoding: chunked\r\nContent-Length: 100",
                "0\r\n\r\n",
            ),
            &[200, 400],
        ),
        // Content-Length that is not one number.
        case(
            "two CL",
            post("Content-Length: 3\r\nContent-Length: 4", "abcd"),
            &[400],
        ),
        case("CL list", post("Content-Length: 3, 4", "abcd"), &[400]),
        case("CL not a number", post("Content-Length: abc", ""), &[400]),
        case("CL negative", post("Content-Length: -1", ""), &[400]),
        case("CL with sign", post("Content-Length: +3", "abc"), &[400]),
        case("CL in hex", post("Content-Length: 0x3", "abc"), &[400]),
        case(
            "CL overflow",
            post("Content-Length: 99999999999999999999999", ""),
            &[400, 413],
        ),
        // Transfer-Encoding whose final coding is not chunked (RFC 9112 §6.3: 400 and close).
        case(
            "TE not chunked",
            post("Transfer-Encoding: gzip", "abc"),
            &[400, 501],
        ),
        case(
            "TE chunked twice",
            post("Transfer-Encoding: chunked, chunked", "0\r\n\r\n"),
            &[200, 400, 501],
        ),
        case(
            "TE obfuscated",
            post("Transfer-Encoding: xchunked", "0\r\n\r\n"),
            &[400, 501],
        ),
        case(
            "TE with space before colon",
            post("Transfer-Encoding : chunked", "0\r\n\r\n"),
            &[400],
        ),
        // Bad chunked framing.
        case(
            "chunk size not hex",
            post("Transfer-Encoding: chunked", "zz\r\nabc\r\n0\r\n\r\n"),
            &[400, 500],
        ),
        case(
            "chunk size overflow",
            post(
                "Transfer-Encoding: chunked",
                "fffffffffffffffffff\r\nabc\r\n0\r\n\r\n",
            ),
            &[400, 413, 500],
        ),
        case(
            "chunk without CRLF",
            post("Transfer-Encoding: chunked", "3\r\nabcX0\r\n\r\n"),
            &[400, 500],
        ),
        // Header syntax (RFC 9112 §5).
        case("obs-fold", get("Host: x\r\nX-A: a\r\n b"), &[400]),
        case("space before colon", get("Host : x"), &[400]),
        case("bare CR in a value", get("Host: x\r\nX-A: a\rb"), &[400]),
        case("NUL in a value", get("Host: x\r\nX-A: a\0b"), &[400]),
        case("whitespace before the first field", get(" Host: x"), &[400]),
        case("no colon", get("Host: x\r\nX-A"), &[400]),
        case(
            "control character in a name",
            get("Host: x\r\nX\u{1}A: a"),
            &[400],
        ),
        // Host rules (RFC 9112 §3.2).
        case("no Host", "GET /ok HTTP/1.1\r\n\r\n", &[400]),
        case("two Host", get("Host: a\r\nHost: b"), &[400]),
        case("Host with user info", get("Host: u@a"), &[400]),
        // Request line.
        case(
            "bad method",
            "G\u{1}T /ok HTTP/1.1\r\nHost: x\r\n\r\n",
            &[400],
        ),
        case(
            "bad version",
            "GET /ok HTTP/9.9\r\nHost: x\r\n\r\n",
            &[400, 505],
        ),
        case(
            "space in target",
            "GET /o k HTTP/1.1\r\nHost: x\r\n\r\n",
            &[400],
        ),
        // Sizes.
        case("oversized URI", long_uri, &[400, 414, 431]),
        case("oversized header section", big_headers, &[431]),
    ]
}

#[tokio::test]
async fn malformed_and_smuggling_requests_are_refused_and_the_server_goes_on() -> anyhow::Result<()>
{
    let server = TestServer::start(FIXTURES_WASM).await?;
    for Case {
        name,
        request,
        statuses,
    } in corpus()
    {
        let answer = exchange(&server, &request).await?;
        let status: Option<u16> = answer
            .strip_prefix("HTTP/1.1 ")
            .and_then(|rest| rest.get(..3))
            .and_then(|code| code.parse().ok());
        assert!(
            status.is_some_and(|s| statuses.contains(&s)),
            "{name}: expected one of {statuses:?}, got {answer:?}"
        );
        // Nothing behind it was taken as a request of its own.
        assert_eq!(answer.matches("HTTP/1.1 ").count(), 1, "{name}: {answer:?}");
        if status == Some(200) {
            // Framed by Transfer-Encoding alone: the body was empty, the rest not a request.
            assert!(
                answer.ends_with("\r\n0\r\n\r\n") || answer.contains("\r\n\r\n0"),
                "{name}: {answer:?}"
            );
        }
        // Still serving.
        let ok = exchange(
            &server,
            b"GET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .await?;
        assert!(ok.starts_with("HTTP/1.1 200"), "after {name}: {ok:?}");
    }
    Ok(())
}
