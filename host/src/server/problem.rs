//! Responses the host writes itself, as RFC 9457 `application/problem+json`.

use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use http_body_util::{BodyExt, Full};

use crate::RequestError;
use crate::ResponseBody;

/// A problem+json response with `about:blank` type, the status's reason as title and
/// `detail`.
pub(crate) fn response(status: StatusCode, detail: &str) -> http::Response<ResponseBody> {
    let body = serde_json::json!({
        "type": "about:blank",
        "title": status.canonical_reason().unwrap_or("Error"),
        "status": status.as_u16(),
        "detail": detail,
    });
    let body = Full::new(Bytes::from(body.to_string()))
        .map_err(|never| match never {})
        .boxed_unsync();
    let mut res = http::Response::new(body);
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    res
}

/// The response for a failed request.
pub(crate) fn for_error(err: &RequestError) -> http::Response<ResponseBody> {
    let mut res = response(err.status(), &err.public_detail());
    match err {
        RequestError::Overloaded | RequestError::ClientBusy { .. } => {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        RequestError::RateLimited {
            retry_after,
            policy,
            state,
            ..
        } => {
            let headers = res.headers_mut();
            headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
            rate_fields(headers, policy, state);
        }
        RequestError::BodyTooLarge { .. }
        | RequestError::BodyTooSlow { .. }
        | RequestError::BadRequest(_) => {
            // The rest of the body is not read, or the request is malformed: the
            // connection cannot be trusted to carry another request.
            res.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        _ => {}
    }
    res
}

/// Adds the `RateLimit-Policy` and `RateLimit` fields (values the limiter wrote: quoted
/// names it cleaned, numbers) to those the guest set for limits of its own: both lists
/// then name every limit.
pub(crate) fn rate_fields(headers: &mut http::HeaderMap, policy: &str, state: &str) {
    if let (Ok(policy), Ok(state)) = (HeaderValue::from_str(policy), HeaderValue::from_str(state)) {
        headers.append(http::HeaderName::from_static("ratelimit-policy"), policy);
        headers.append(http::HeaderName::from_static("ratelimit"), state);
    }
}
