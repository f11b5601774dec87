use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use http::HeaderValue;

use super::*;
use crate::{Handler, Stack};

const TAG: &str = "\"v1\"";
const MODIFIED: &str = "Sun, 06 Nov 1994 08:49:37 GMT";
const EARLIER: &str = "Sat, 05 Nov 1994 08:49:37 GMT";
const LATER: &str = "Mon, 07 Nov 1994 08:49:37 GMT";

fn headers(pairs: &[(HeaderName, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(name.clone(), HeaderValue::from_str(value).expect("valid"));
    }
    map
}

/// (method, request headers, current ETag, Last-Modified, expected outcome)
type Case = (
    Method,
    Vec<(HeaderName, &'static str)>,
    Option<&'static str>,
    Option<&'static str>,
    Outcome,
);

#[test]
fn evaluation_order_of_rfc_9110() {
    use Outcome::{NotModified as N, PreconditionFailed as F, Proceed as P};
    let im = header::IF_MATCH;
    let inm = header::IF_NONE_MATCH;
    let ims = header::IF_MODIFIED_SINCE;
    let ius = header::IF_UNMODIFIED_SINCE;
    let (get, head, put, post) = (Method::GET, Method::HEAD, Method::PUT, Method::POST);
    let cases: Vec<Case> = vec![
        (get.clone(), vec![], Some(TAG), Some(MODIFIED), P),
        // If-Match: strong comparison, lists, `*`.
        (get.clone(), vec![(im.clone(), TAG)], Some(TAG), None, P),
        (put.clone(), vec![(im.clone(), TAG)], Some(TAG), None, P),
        (
            put.clone(),
            vec![(im.clone(), "\"v0\"")],
            Some(TAG),
            None,
            F,
        ),
        (
            put.clone(),
            vec![(im.clone(), "\"v0\", \"v1\"")],
            Some(TAG),
            None,
            P,
        ),
        (
            put.clone(),
            vec![(im.clone(), "\"v0\""), (im.clone(), "\"v1\"")],
            Some(TAG),
            None,
            P,
        ),
        (
            put.clone(),
            vec![(im.clone(), "W/\"v1\"")],
            Some(TAG),
            None,
            F,
        ),
        (
            put.clone(),
            vec![(im.clone(), TAG)],
            Some("W/\"v1\""),
            None,
            F,
        ),
        (put.clone(), vec![(im.clone(), "*")], Some(TAG), None, P),
        (
            put.clone(),
            vec![(im.clone(), "*")],
            None,
            Some(MODIFIED),
            P,
        ),
        (put.clone(), vec![(im.clone(), "*")], None, None, F),
        (
            put.clone(),
            vec![(im.clone(), TAG)],
            None,
            Some(MODIFIED),
            F,
        ),
        (
            get.clone(),
            vec![(im.clone(), "\"v0\"")],
            Some(TAG),
            None,
            F,
        ),
        (
            put.clone(),
            vec![(im.clone(), "garbage")],
            Some(TAG),
            None,
            F,
        ),
        (
            put.clone(),
            vec![(im.clone(), "garbage, \"v1\"")],
            Some(TAG),
            None,
            P,
        ),
        (
            put.clone(),
            vec![(im.clone(), "\"a,b\", \"v1\"")],
            Some(TAG),
            None,
            P,
        ),
        // If-Unmodified-Since: only without If-Match.
        (
            put.clone(),
            vec![(ius.clone(), MODIFIED)],
            Some(TAG),
            Some(MODIFIED),
            P,
        ),
        (
            put.clone(),
            vec![(ius.clone(), LATER)],
            Some(TAG),
            Some(MODIFIED),
            P,
        ),
        (
            put.clone(),
            vec![(ius.clone(), EARLIER)],
            Some(TAG),
            Some(MODIFIED),
            F,
        ),
        (
            put.clone(),
            vec![(ius.clone(), EARLIER)],
            Some(TAG),
            None,
            P,
        ),
        (
            put.clone(),
            vec![(ius.clone(), "not a date")],
            Some(TAG),
            Some(MODIFIED),
            P,
        ),
        (
            put.clone(),
            vec![(ius.clone(), EARLIER), (ius.clone(), EARLIER)],
            None,
            Some(MODIFIED),
            P,
        ),
        (
            put.clone(),
            vec![(im.clone(), TAG), (ius.clone(), EARLIER)],
            Some(TAG),
            Some(MODIFIED),
            P,
        ),
        (
            put.clone(),
            vec![(im.clone(), "\"v0\""), (ius.clone(), LATER)],
            Some(TAG),
            Some(MODIFIED),
            F,
        ),
        // If-None-Match: weak comparison, lists, `*`; 304 for GET/HEAD, 412 otherwise.
        (get.clone(), vec![(inm.clone(), TAG)], Some(TAG), None, N),
        (head.clone(), vec![(inm.clone(), TAG)], Some(TAG), None, N),
        (
            get.clone(),
            vec![(inm.clone(), "W/\"v1\"")],
            Some(TAG),
            None,
            N,
        ),
        (
            get.clone(),
            vec![(inm.clone(), TAG)],
            Some("W/\"v1\""),
            None,
            N,
        ),
        (
            get.clone(),
            vec![(inm.clone(), "\"v0\"")],
            Some(TAG),
            None,
            P,
        ),
        (
            get.clone(),
            vec![(inm.clone(), "\"v0\", W/\"v1\"")],
            Some(TAG),
            None,
            N,
        ),
        (get.clone(), vec![(inm.clone(), "*")], Some(TAG), None, N),
        (get.clone(), vec![(inm.clone(), "*")], None, None, P),
        (put.clone(), vec![(inm.clone(), "*")], Some(TAG), None, F),
        (put.clone(), vec![(inm.clone(), "*")], None, None, P),
        (post.clone(), vec![(inm.clone(), TAG)], Some(TAG), None, F),
        (
            post.clone(),
            vec![(inm.clone(), "\"v0\"")],
            Some(TAG),
            None,
            P,
        ),
        (
            get.clone(),
            vec![(inm.clone(), TAG)],
            None,
            Some(MODIFIED),
            P,
        ),
        // If-Match is evaluated before If-None-Match.
        (
            get.clone(),
            vec![(im.clone(), "\"v0\""), (inm.clone(), TAG)],
            Some(TAG),
            None,
            F,
        ),
        (
            get.clone(),
            vec![(im.clone(), TAG), (inm.clone(), TAG)],
            Some(TAG),
            None,
            N,
        ),
        // If-Modified-Since: GET/HEAD only, ignored with If-None-Match.
        (
            get.clone(),
            vec![(ims.clone(), MODIFIED)],
            Some(TAG),
            Some(MODIFIED),
            N,
        ),
        (
            get.clone(),
            vec![(ims.clone(), LATER)],
            Some(TAG),
            Some(MODIFIED),
            N,
        ),
        (
            get.clone(),
            vec![(ims.clone(), EARLIER)],
            Some(TAG),
            Some(MODIFIED),
            P,
        ),
        (
            head.clone(),
            vec![(ims.clone(), MODIFIED)],
            None,
            Some(MODIFIED),
            N,
        ),
        (
            get.clone(),
            vec![(ims.clone(), MODIFIED)],
            Some(TAG),
            None,
            P,
        ),
        (
            get.clone(),
            vec![(ims.clone(), "Sunday, 06-Nov-94 08:49:37 GMT")],
            None,
            Some(MODIFIED),
            N,
        ),
        (
            get.clone(),
            vec![(ims.clone(), "Sun Nov  6 08:49:37 1994")],
            None,
            Some(MODIFIED),
            N,
        ),
        (
            get.clone(),
            vec![(ims.clone(), "garbage")],
            None,
            Some(MODIFIED),
            P,
        ),
        (
            get.clone(),
            vec![(ims.clone(), MODIFIED), (ims.clone(), MODIFIED)],
            None,
            Some(MODIFIED),
            P,
        ),
        (
            put.clone(),
            vec![(ims.clone(), MODIFIED)],
            Some(TAG),
            Some(MODIFIED),
            P,
        ),
        (
            post.clone(),
            vec![(ims.clone(), LATER)],
            Some(TAG),
            Some(MODIFIED),
            P,
        ),
        (
            get.clone(),
            vec![(inm.clone(), "\"v0\""), (ims.clone(), LATER)],
            Some(TAG),
            Some(MODIFIED),
            P,
        ),
        (
            get.clone(),
            vec![(inm.clone(), TAG), (ims.clone(), EARLIER)],
            Some(TAG),
            Some(MODIFIED),
            N,
        ),
    ];
    for (method, pairs, etag, modified, expected) in cases {
        let etag: Option<ETag> = etag.map(|t| t.parse().expect("valid tag"));
        let modified: Option<HttpDate> = modified.map(|d| d.parse().expect("valid date"));
        let got = evaluate(&headers(&pairs), etag.as_ref(), modified, &method);
        assert_eq!(
            got, expected,
            "{method} {pairs:?} etag={etag:?} lm={modified:?}"
        );
    }
}

fn app(handler: impl Handler) -> impl Handler {
    Stack::new()
        .layer(ConditionalRequests::new())
        .handler(handler)
}

fn request(method: Method, pairs: &[(HeaderName, &str)]) -> Request {
    let mut req = http::Request::builder()
        .method(method)
        .uri("/r")
        .body(Vec::new())
        .expect("valid request");
    *req.headers_mut() = headers(pairs);
    req
}

fn full_response(_req: Request) -> Result<Response, Problem> {
    let mut res = Response::new(b"content".to_vec());
    let h = res.headers_mut();
    for (name, value) in [
        (header::ETAG, TAG),
        (header::LAST_MODIFIED, MODIFIED),
        (header::CACHE_CONTROL, "max-age=60"),
        (header::CONTENT_LOCATION, "/r.json"),
        (header::DATE, LATER),
        (header::EXPIRES, LATER),
        (header::CONTENT_TYPE, "application/json"),
        (header::CONTENT_LENGTH, "7"),
        (header::SET_COOKIE, "a=b"),
    ] {
        h.insert(name, HeaderValue::from_static(value));
    }
    h.append(header::VARY, HeaderValue::from_static("Accept"));
    h.append(header::VARY, HeaderValue::from_static("Origin"));
    Ok(res)
}

#[test]
fn not_modified_drops_the_representation_metadata() {
    let res = app(full_response)
        .call_blocking(request(Method::GET, &[(header::IF_NONE_MATCH, TAG)]))
        .expect("304");
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
    assert!(res.body().is_empty());
    let mut names: Vec<_> = res.headers().keys().map(|k| k.as_str()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "cache-control",
            "content-location",
            "date",
            "etag",
            "expires",
            "set-cookie",
            "vary"
        ]
    );
    let vary: Vec<_> = res.headers().get_all(header::VARY).iter().collect();
    assert_eq!(vary, ["Accept", "Origin"]);
    assert_eq!(res.headers()[header::ETAG], TAG);
    assert_eq!(res.headers()[header::CACHE_CONTROL], "max-age=60");
}

#[test]
fn not_modified_keeps_last_modified_only_without_an_etag() {
    let no_etag = |req| {
        full_response(req).map(|mut res| {
            res.headers_mut().remove(header::ETAG);
            res
        })
    };
    let res = Stack::new()
        .layer(ConditionalRequests::new().with_generated_etags(false))
        .handler(no_etag)
        .call_blocking(request(Method::GET, &[(header::IF_MODIFIED_SINCE, LATER)]))
        .expect("304");
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(res.headers()[header::LAST_MODIFIED], MODIFIED);
    assert!(!res.headers().contains_key(header::CONTENT_TYPE));
}

#[test]
fn if_modified_since_gives_304_from_last_modified() {
    let res = app(full_response)
        .call_blocking(request(Method::HEAD, &[(header::IF_MODIFIED_SINCE, LATER)]))
        .expect("304");
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
    let res = app(full_response)
        .call_blocking(request(
            Method::GET,
            &[(header::IF_MODIFIED_SINCE, EARLIER)],
        ))
        .expect("200");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.body().as_slice(), b"content");
    assert_eq!(res.headers()[header::CONTENT_TYPE], "application/json");
}

#[test]
fn failed_if_match_is_412_problem() {
    let err = app(full_response)
        .call_blocking(request(Method::GET, &[(header::IF_MATCH, "\"v0\"")]))
        .expect_err("412");
    assert_eq!(err.status(), StatusCode::PRECONDITION_FAILED);
    let res = err.into_response();
    assert_eq!(
        res.headers()[header::CONTENT_TYPE],
        "application/problem+json"
    );
    let body: serde_json::Value = serde_json::from_slice(res.body()).expect("json");
    assert_eq!(body["status"], 412);
}

#[test]
fn generates_strong_etag_from_body_when_absent() {
    let handler = |_req: Request| Ok(Response::new(b"hello".to_vec()));
    let res = app(handler)
        .call_blocking(request(Method::GET, &[]))
        .expect("200");
    let expected = ETag::from_body(b"hello").to_header_value();
    assert_eq!(res.headers()[header::ETAG], expected);
    assert_eq!(res.body().as_slice(), b"hello");

    let res = app(handler)
        .call_blocking(request(
            Method::GET,
            &[(header::IF_NONE_MATCH, expected.to_str().expect("ascii"))],
        ))
        .expect("304");
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
}

#[test]
fn generated_etag_differs_per_content_coding() {
    let encoded = |_req: Request| {
        let mut res = Response::new(b"hello".to_vec());
        res.headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        Ok(res)
    };
    let res = app(encoded)
        .call_blocking(request(Method::GET, &[]))
        .expect("200");
    let tag = ETag::from_header(&res.headers()[header::ETAG]).expect("valid tag");
    assert_eq!(tag, ETag::from_body(b"hello").for_content_coding("gzip"));
    assert!(tag.tag().ends_with("-gzip"));
}

#[test]
fn handler_etag_is_kept_and_generation_can_be_disabled() {
    let res = app(full_response)
        .call_blocking(request(Method::GET, &[]))
        .expect("200");
    assert_eq!(res.headers()[header::ETAG], TAG);

    let plain = Stack::new()
        .layer(ConditionalRequests::new().with_generated_etags(false))
        .handler(|_req: Request| Ok(Response::new(b"x".to_vec())));
    let res = plain
        .call_blocking(request(Method::GET, &[(header::IF_NONE_MATCH, "*")]))
        .expect("200");
    assert_eq!(res.status(), StatusCode::OK);
    assert!(!res.headers().contains_key(header::ETAG));
    assert!(
        !ConditionalRequests::new()
            .with_generated_etags(false)
            .generated_etags()
    );
}

#[test]
fn leaves_non_2xx_and_options_alone() {
    let not_found = |_req: Request| Err::<Response, _>(Problem::new(StatusCode::NOT_FOUND));
    let err = app(not_found)
        .call_blocking(request(Method::GET, &[(header::IF_MATCH, "\"v0\"")]))
        .expect_err("404 passes through");
    assert_eq!(err.status(), StatusCode::NOT_FOUND);

    let redirect = |_req: Request| {
        let mut res = Response::new(Vec::new());
        *res.status_mut() = StatusCode::FOUND;
        Ok(res)
    };
    let res = app(redirect)
        .call_blocking(request(Method::GET, &[(header::IF_NONE_MATCH, "*")]))
        .expect("302");
    assert_eq!(res.status(), StatusCode::FOUND);
    assert!(!res.headers().contains_key(header::ETAG));

    // OPTIONS is not judged at all.
    let res = app(full_response)
        .call_blocking(request(Method::OPTIONS, &[(header::IF_MATCH, "\"v0\"")]))
        .expect("passes through");
    assert_eq!(res.status(), StatusCode::OK);
}

/// A resource at `/r` whose `GET` answers `get_status` with [`full_response`]'s fields; a
/// write answers `204`. Counts the writes that reached it and records what each `GET` saw.
#[derive(Clone, Default)]
struct Resource {
    writes: Arc<AtomicUsize>,
    probes: Arc<Mutex<Vec<Request>>>,
}

impl Resource {
    fn handler(&self, get_status: StatusCode) -> impl Handler + use<> {
        let this = self.clone();
        move |req: Request| {
            if req.method() == Method::GET {
                this.probes.lock().expect("not poisoned").push(req);
                if get_status.is_success() {
                    return full_response(http::Request::new(Vec::new()));
                }
                return Err(Problem::new(get_status));
            }
            this.writes.fetch_add(1, Ordering::SeqCst);
            let mut res = Response::new(Vec::new());
            *res.status_mut() = StatusCode::NO_CONTENT;
            Ok(res)
        }
    }

    fn writes(&self) -> usize {
        self.writes.load(Ordering::SeqCst)
    }
}

fn status(result: Result<Response, Problem>) -> StatusCode {
    crate::middleware::chain::status_of(&result)
}

#[test]
fn unsafe_methods_are_judged_against_a_get_before_the_handler_runs() {
    let cases: Vec<(Method, StatusCode, (HeaderName, &str), StatusCode)> = vec![
        // A lost update never reaches the handler; the current tag does.
        (
            Method::PUT,
            StatusCode::OK,
            (header::IF_MATCH, "\"v0\""),
            StatusCode::PRECONDITION_FAILED,
        ),
        (
            Method::PUT,
            StatusCode::OK,
            (header::IF_MATCH, TAG),
            StatusCode::NO_CONTENT,
        ),
        (
            Method::PATCH,
            StatusCode::OK,
            (header::IF_MATCH, "*"),
            StatusCode::NO_CONTENT,
        ),
        (
            Method::DELETE,
            StatusCode::OK,
            (header::IF_MATCH, "W/\"v1\""),
            StatusCode::PRECONDITION_FAILED,
        ),
        // The tag a compressed read carried is the same representation.
        (
            Method::PUT,
            StatusCode::OK,
            (header::IF_MATCH, "\"v1-gzip\""),
            StatusCode::NO_CONTENT,
        ),
        // Create-only: `If-None-Match: *` on something that exists is a 412 (RFC 9110 §13.1.2).
        (
            Method::POST,
            StatusCode::OK,
            (header::IF_NONE_MATCH, "*"),
            StatusCode::PRECONDITION_FAILED,
        ),
        (
            Method::PUT,
            StatusCode::OK,
            (header::IF_NONE_MATCH, "*"),
            StatusCode::PRECONDITION_FAILED,
        ),
        (
            Method::POST,
            StatusCode::NOT_FOUND,
            (header::IF_NONE_MATCH, "*"),
            StatusCode::NO_CONTENT,
        ),
        (
            Method::PUT,
            StatusCode::GONE,
            (header::IF_NONE_MATCH, "*"),
            StatusCode::NO_CONTENT,
        ),
        (
            Method::PUT,
            StatusCode::OK,
            (header::IF_NONE_MATCH, "\"v0\""),
            StatusCode::NO_CONTENT,
        ),
        // Nothing there: whether `If-Match` matters (a PUT that creates) or not (a 404) is
        // the handler's to say.
        (
            Method::PUT,
            StatusCode::NOT_FOUND,
            (header::IF_MATCH, "*"),
            StatusCode::NO_CONTENT,
        ),
        // If-Unmodified-Since against the current Last-Modified.
        (
            Method::PUT,
            StatusCode::OK,
            (header::IF_UNMODIFIED_SINCE, EARLIER),
            StatusCode::PRECONDITION_FAILED,
        ),
        (
            Method::PUT,
            StatusCode::OK,
            (header::IF_UNMODIFIED_SINCE, LATER),
            StatusCode::NO_CONTENT,
        ),
        // If-Modified-Since is for GET and HEAD only: no probe, no judgement.
        (
            Method::PUT,
            StatusCode::OK,
            (header::IF_MODIFIED_SINCE, LATER),
            StatusCode::NO_CONTENT,
        ),
        // Refusals and faults of the GET come before preconditions: the write decides.
        (
            Method::PUT,
            StatusCode::UNAUTHORIZED,
            (header::IF_MATCH, "\"v0\""),
            StatusCode::NO_CONTENT,
        ),
        (
            Method::PUT,
            StatusCode::METHOD_NOT_ALLOWED,
            (header::IF_NONE_MATCH, "*"),
            StatusCode::NO_CONTENT,
        ),
        (
            Method::PUT,
            StatusCode::INTERNAL_SERVER_ERROR,
            (header::IF_MATCH, "*"),
            StatusCode::NO_CONTENT,
        ),
    ];
    for (method, get_status, (name, value), expected) in cases {
        let resource = Resource::default();
        let got = status(
            app(resource.handler(get_status))
                .call_blocking(request(method.clone(), &[(name.clone(), value)])),
        );
        assert_eq!(
            got, expected,
            "{method} {name}: {value} with GET {get_status}"
        );
        let reached = usize::from(expected == StatusCode::NO_CONTENT);
        assert_eq!(resource.writes(), reached, "{method} {name}: {value}");
    }
}

#[test]
fn the_probe_is_a_plain_get_of_the_same_target_with_the_same_credentials() {
    let resource = Resource::default();
    let mut req = request(
        Method::PUT,
        &[
            (header::IF_MATCH, TAG),
            (header::AUTHORIZATION, "Bearer t"),
            (header::CONTENT_TYPE, "application/json"),
            (header::CONTENT_LENGTH, "2"),
            (header::ACCEPT_ENCODING, "gzip"),
        ],
    );
    *req.uri_mut() = "/r?x=1".parse().expect("valid");
    *req.body_mut() = b"{}".to_vec();
    req.extensions_mut().insert(7_u32);
    let res = app(resource.handler(StatusCode::OK))
        .call_blocking(req)
        .expect("written");
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let probes = resource.probes.lock().expect("not poisoned");
    let [probe] = probes.as_slice() else {
        panic!("one probe, got {}", probes.len());
    };
    assert_eq!(probe.method(), Method::GET);
    assert_eq!(probe.uri(), "/r?x=1");
    assert!(probe.body().is_empty());
    assert_eq!(probe.headers()[header::AUTHORIZATION], "Bearer t");
    for absent in [
        header::IF_MATCH,
        header::CONTENT_TYPE,
        header::CONTENT_LENGTH,
        header::ACCEPT_ENCODING,
    ] {
        assert!(!probe.headers().contains_key(&absent), "{absent}");
    }
    assert_eq!(probe.extensions().get::<u32>(), Some(&7));
}

#[test]
fn unconditional_writes_and_the_opt_out_are_not_probed() {
    let resource = Resource::default();
    let plain = app(resource.handler(StatusCode::OK)).call_blocking(request(Method::PUT, &[]));
    assert_eq!(status(plain), StatusCode::NO_CONTENT);
    let off = Stack::new()
        .layer(ConditionalRequests::new().with_unsafe_methods(false))
        .handler(resource.handler(StatusCode::OK));
    let stale = off.call_blocking(request(Method::PUT, &[(header::IF_MATCH, "\"v0\"")]));
    assert_eq!(status(stale), StatusCode::NO_CONTENT);
    assert_eq!(resource.writes(), 2);
    assert!(resource.probes.lock().expect("not poisoned").is_empty());
}

#[test]
fn a_get_without_validators_still_exists_for_star() {
    let untagged = |req: Request| {
        if req.method() == Method::GET {
            return Ok(Response::new(b"x".to_vec()));
        }
        Ok(Response::new(Vec::new()))
    };
    let no_tags = Stack::new()
        .layer(ConditionalRequests::new().with_generated_etags(false))
        .handler(untagged);
    let create_only = no_tags.call_blocking(request(Method::POST, &[(header::IF_NONE_MATCH, "*")]));
    assert_eq!(status(create_only), StatusCode::PRECONDITION_FAILED);
    let any = no_tags.call_blocking(request(Method::PUT, &[(header::IF_MATCH, "*")]));
    assert_eq!(status(any), StatusCode::OK);
}

#[test]
fn the_412_comes_after_the_routes_own_middleware_and_the_handler_never_runs() {
    use crate::{Router, from_fn};
    let resource = Resource::default();
    // Writes need `x-token`; the GET is public.
    let guard = from_fn(async |req: Request, next: crate::Next<'_>| {
        if req.headers().contains_key("x-token") {
            next.run(req).await
        } else {
            Err(Problem::new(StatusCode::UNAUTHORIZED))
        }
    });
    let router = Router::new()
        .layer(ConditionalRequests::new())
        .get("/r", resource.handler(StatusCode::OK))
        .and_then(|r| {
            r.route_with(
                Method::PUT,
                "/r",
                resource.handler(StatusCode::OK),
                Stack::new().layer(guard),
            )
        })
        .and_then(|r| {
            r.group("/g", |g| {
                g.get("/r", resource.handler(StatusCode::OK))
                    .put("/r", resource.handler(StatusCode::OK))
            })
        })
        .expect("valid routes");
    let put = |path: &str, pairs: &[(HeaderName, &str)]| {
        let mut req = request(Method::PUT, pairs);
        *req.uri_mut() = path.parse().expect("valid");
        router.handle(req).status()
    };
    let token = HeaderName::from_static("x-token");
    // Stale and without credentials: the route's refusal first (RFC 9110 §13.2.1).
    assert_eq!(
        put("/r", &[(header::IF_MATCH, "\"v0\"")]),
        StatusCode::UNAUTHORIZED
    );
    // Stale with credentials: 412, and the handler did not run.
    assert_eq!(
        put("/r", &[(header::IF_MATCH, "\"v0\""), (token.clone(), "t")]),
        StatusCode::PRECONDITION_FAILED
    );
    assert_eq!(resource.writes(), 0);
    // Current: written.
    assert_eq!(
        put("/r", &[(header::IF_MATCH, TAG), (token, "t")]),
        StatusCode::NO_CONTENT
    );
    assert_eq!(resource.writes(), 1);
    // Routes of a group are behind the check too.
    assert_eq!(
        put("/g/r", &[(header::IF_NONE_MATCH, "*")]),
        StatusCode::PRECONDITION_FAILED
    );
    assert_eq!(resource.writes(), 1);
}
