//! The component's entry point: exports the application as `wasi:http/incoming-handler`.
//! (The platform modules [`kv`](crate::kv), [`config`](crate::config) and
//! [`client`](crate::client) hold the other host calls.)
//!
//! It uses spin-sdk's streaming signature: the request is read into an
//! [`http::Request<Vec<u8>>`](crate::Request), [`app::handle`](crate::app::handle) answers
//! it, and the response is written through the `ResponseOutparam`: status and headers, the
//! buffered body, then each chunk of a [`BodyStream`], flushed as it comes, so server-sent
//! events reach the client one by one. Dropping the body sink finishes the body.
#![expect(
    unsafe_code,
    reason = "spin-sdk's #[http_component] expands to the unsafe canonical-ABI export"
)]

use futures::SinkExt;
use http::StatusCode;
use spin_sdk::http::{Fields, IncomingRequest, OutgoingResponse, ResponseOutparam, Scheme};
use spin_sdk::http_component;

use crate::stream::BodyStream;
use crate::{Problem, Request, Response};

/// The component's entry point: one request in, one (possibly streamed) response out.
#[http_component]
async fn handle(req: IncomingRequest, out: ResponseOutparam) {
    let res = match read_request(req).await {
        Ok(req) => crate::app::handle(req),
        Err(problem) => problem.into_response(),
    };
    write_response(res, out).await;
}

/// The incoming request as an `http::Request`, its body read whole.
async fn read_request(req: IncomingRequest) -> Result<Request, Problem> {
    let bad_request = |detail: String| Problem::new(StatusCode::BAD_REQUEST).with_detail(detail);
    let method = req.method().to_string();
    let method = http::Method::from_bytes(method.as_bytes())
        .map_err(|_| bad_request(format!("the method {method:?} is not a token")))?;
    let path = req.path_with_query().unwrap_or_else(|| "/".to_owned());
    let scheme = req.scheme().map(|scheme| match scheme {
        Scheme::Http => "http".to_owned(),
        Scheme::Https => "https".to_owned(),
        Scheme::Other(other) => other,
    });
    // An absolute URI when the host gives scheme and authority, as spin-sdk's own conversion
    // does; the path alone otherwise, or when they do not make a valid URI.
    let uri = match (scheme, req.authority()) {
        (Some(scheme), Some(authority)) => format!("{scheme}://{authority}{path}")
            .parse::<http::Uri>()
            .ok(),
        _ => None,
    };
    let uri = match uri {
        Some(uri) => uri,
        None => path
            .parse::<http::Uri>()
            .map_err(|err| bad_request(format!("the request target {path:?} is invalid: {err}")))?,
    };
    let mut builder = http::Request::builder().method(method).uri(uri);
    for (name, value) in req.headers().entries() {
        builder = builder.header(name, value);
    }
    let body = req
        .into_body()
        .await
        .map_err(|err| bad_request(format!("reading the request body failed: {err:?}")))?;
    builder
        .body(body)
        .map_err(|err| bad_request(format!("the request is invalid: {err}")))
}

/// The header fields of `res` as wasi-http fields; a response the host refuses them for
/// (a forbidden header, say) becomes a 500 problem.
fn fields_of(res: Response) -> (Response, Fields) {
    let list: Vec<(String, Vec<u8>)> = res
        .headers()
        .iter()
        .map(|(name, value)| (name.as_str().to_owned(), value.as_bytes().to_vec()))
        .collect();
    match Fields::from_list(&list) {
        Ok(fields) => (res, fields),
        Err(err) => {
            let problem = Problem::new(StatusCode::INTERNAL_SERVER_ERROR)
                .with_detail(format!("the response headers were refused: {err:?}"))
                .into_response();
            let fields = Fields::from_list(&[(
                "content-type".to_owned(),
                crate::problem::PROBLEM_JSON.as_bytes().to_vec(),
            )])
            .expect("content-type with a media type is an allowed header");
            (problem, fields)
        }
    }
}

/// Sends `res`: status and headers, the buffered body, then the stream's chunks.
async fn write_response(res: Response, out: ResponseOutparam) {
    // After `fields_of`: a response replaced by a 500 problem has no stream to send.
    let (mut res, fields) = fields_of(res);
    let stream = BodyStream::take_from(&mut res);
    let (parts, body) = res.into_parts();
    let response = OutgoingResponse::new(fields);
    // Every StatusCode is in 100..=999, which wasi-http accepts.
    let _ = response.set_status_code(parts.status.as_u16());
    let mut sink = response.take_body();
    out.set(response);
    if !body.is_empty() && sink.send(body).await.is_err() {
        // The client went away; there is no one left to tell.
        return;
    }
    for chunk in stream.into_iter().flatten() {
        if chunk.is_empty() {
            continue;
        }
        if sink.send(chunk).await.is_err() {
            return;
        }
    }
}

/// The `wizer-initialize` export: builds the route table ([`crate::app::init`]) so that a
/// pre-initialiser can snapshot the instance with it built. It calls nothing on the host.
mod preinit {
    ::spin_sdk::wit_bindgen::generate!({
        inline: "
            package edge-toolkit:handler;

            world preinit {
                /// Builds what every request needs; calls no import.
                export wizer-initialize: func();
            }
        ",
        runtime_path: "::spin_sdk::wit_bindgen::rt",
    });

    struct Preinit;

    impl Guest for Preinit {
        fn wizer_initialize() {
            crate::app::init();
        }
    }

    export!(Preinit);
}
