//! Every extractor's success and its failure statuses, through a router as a handler sees
//! them.

use serde::{Deserialize, Serialize};

use super::*;
use crate::{Router, body::FieldError};

fn router() -> Router {
    Router::new()
}

fn get(router: &Router, uri: &str) -> Response {
    router.handle(http::Request::get(uri).body(Vec::new()).expect("a request"))
}

fn post(router: &Router, uri: &str, content_type: &str, body: &[u8]) -> Response {
    router.handle(
        http::Request::post(uri)
            .header(header::CONTENT_TYPE, content_type)
            .body(body.to_vec())
            .expect("a request"),
    )
}

fn text(res: &Response) -> &str {
    std::str::from_utf8(res.body()).expect("UTF-8")
}

#[track_caller]
fn assert_problem(res: &Response, status: u16, detail: &str) {
    assert_eq!(res.status(), status, "{}", text(res));
    assert_eq!(res.headers()[header::CONTENT_TYPE], crate::PROBLEM_JSON);
    assert!(text(res).contains(detail), "{}", text(res));
}

#[test]
fn path_scalars_are_decoded_and_parsed() -> Result<(), crate::RouteError> {
    let r = router()
        .get("/n/{id}", |Path(id): Path<u64>| format!("{}", id + 1))?
        .get("/s/{name}", |Path(name): Path<String>| name)?
        .get("/b/{flag}", |Path(flag): Path<bool>| format!("{flag}"))?;
    assert_eq!(text(&get(&r, "/n/41")), "42");
    assert_eq!(text(&get(&r, "/s/caf%C3%A9%20au%20lait")), "café au lait");
    assert_eq!(text(&get(&r, "/b/true")), "true");
    assert_problem(
        &get(&r, "/n/x"),
        400,
        "path parameter `id` = \\\"x\\\" is not a non-negative integer",
    );
    assert_problem(&get(&r, "/n/-1"), 400, "`id`");
    assert_problem(&get(&r, "/s/%FF"), 400, "not valid percent-encoded UTF-8");
    Ok(())
}

#[test]
fn path_tuples_and_structs() -> Result<(), crate::RouteError> {
    #[derive(Deserialize)]
    struct Params {
        shelf: String,
        id: u32,
    }
    let r = router()
        .get(
            "/t/{shelf}/{id}",
            |Path((shelf, id)): Path<(String, u32)>| format!("{shelf}:{id}"),
        )?
        .get("/s/{shelf}/{id}", |Path(p): Path<Params>| {
            format!("{}:{}", p.shelf, p.id)
        })?
        .get("/one/{a}/{b}", |Path(a): Path<u32>| format!("{a}"))?
        .get("/three/{a}/{b}", |Path(t): Path<(u8, u8, u8)>| {
            format!("{t:?}")
        })?;
    assert_eq!(text(&get(&r, "/t/top/7")), "top:7");
    assert_eq!(text(&get(&r, "/s/low/8")), "low:8");
    assert_problem(&get(&r, "/s/low/eight"), 400, "`id`");
    assert_problem(
        &get(&r, "/one/1/2"),
        400,
        "2 path parameters, one was expected",
    );
    assert_problem(
        &get(&r, "/three/1/2"),
        400,
        "2 path parameters, 3 were expected",
    );
    Ok(())
}

#[test]
fn queries_fill_optional_fields_and_refuse_bad_values() -> Result<(), crate::RouteError> {
    #[derive(Deserialize)]
    struct Page {
        q: Option<String>,
        limit: Option<u32>,
    }
    let r = router().get("/search", |Query(page): Query<Page>| {
        format!("{:?} {:?}", page.q, page.limit)
    })?;
    assert_eq!(text(&get(&r, "/search")), "None None");
    assert_eq!(
        text(&get(&r, "/search?q=a+b%21&limit=5")),
        r#"Some("a b!") Some(5)"#
    );
    assert_problem(
        &get(&r, "/search?limit=many"),
        400,
        "the query string does not fit",
    );
    Ok(())
}

#[test]
fn forms_need_their_media_type_and_fields() -> Result<(), crate::RouteError> {
    #[derive(Deserialize)]
    struct Login {
        user: String,
        remember: Option<bool>,
    }
    let r = router().post("/login", |Form(login): Form<Login>| {
        format!("{} {:?}", login.user, login.remember)
    })?;
    let form = "application/x-www-form-urlencoded";
    assert_eq!(
        text(&post(&r, "/login", form, b"user=ada&remember=true")),
        "ada Some(true)"
    );
    let with_charset = format!("{form}; charset=utf-8");
    assert_eq!(
        text(&post(&r, "/login", &with_charset, b"user=b%C3%A9")),
        "bé None"
    );
    assert_problem(&post(&r, "/login", "application/json", b"{}"), 415, form);
    assert_problem(&post(&r, "/login", form, b"remember=true"), 422, "user");
    assert_problem(
        &post(&r, "/login", form, b"user=%E2%28"),
        400,
        "percent-encoded UTF-8",
    );
    Ok(())
}

#[derive(Debug, Deserialize, Serialize)]
struct Item {
    name: String,
}

impl Validate for Item {
    fn validate(&self) -> Result<(), Vec<FieldError>> {
        if self.name.is_empty() {
            Err(vec![FieldError::new("name", "must not be empty")])
        } else {
            Ok(())
        }
    }
}

#[test]
fn json_bodies_in_and_out() -> Result<(), crate::RouteError> {
    let r = router()
        .post("/items", |Json(item): Json<Item>| {
            (StatusCode::CREATED, Json(item))
        })?
        .post("/valid", |ValidJson(item): ValidJson<Item>| Json(item))?;
    let res = post(&r, "/items", "application/json", br#"{"name":"pen"}"#);
    assert_eq!(res.status(), 201);
    assert_eq!(res.headers()[header::CONTENT_TYPE], "application/json");
    assert_eq!(text(&res), r#"{"name":"pen"}"#);
    assert_problem(&post(&r, "/items", "text/plain", b"pen"), 415, "");
    assert_problem(&post(&r, "/items", "application/json", b"{"), 400, "");
    assert_problem(
        &post(&r, "/items", "application/json", b"{\"n\":1}"),
        422,
        "",
    );
    assert_eq!(
        post(&r, "/valid", "application/json", br#"{"name":"a"}"#).status(),
        200
    );
    let res = post(&r, "/valid", "application/json", br#"{"name":""}"#);
    assert_problem(&res, 422, "must not be empty");
    Ok(())
}

#[test]
fn state_is_shared_and_missing_state_is_500() -> Result<(), crate::RouteError> {
    #[derive(Clone)]
    struct Config {
        greeting: &'static str,
    }
    let r = router()
        .with_state(Config { greeting: "hi" })
        .with_state(7u32)
        .get("/", |State(c): State<Config>, State(n): State<u32>| {
            format!("{} {n}", c.greeting)
        })?
        .get("/none", |State(s): State<String>| s)?;
    assert_eq!(text(&get(&r, "/")), "hi 7");
    assert_problem(
        &get(&r, "/none"),
        500,
        "no state of type alloc::string::String",
    );
    Ok(())
}

#[test]
fn heads_options_and_bodies() -> Result<(), crate::RouteError> {
    let r = router()
        .post(
            "/echo",
            |method: Method, uri: Uri, headers: HeaderMap, body: String| {
                let agent = headers
                    .get("x-agent")
                    .map_or("-", |v| v.to_str().unwrap_or("?"));
                format!("{method} {} {agent} {body}", uri.path())
            },
        )?
        .post("/bytes", |body: Vec<u8>| format!("{}", body.len()))?
        .get("/maybe/{id}", |id: Option<Path<u32>>| {
            format!("{:?}", id.map(|Path(id)| id))
        })?
        .get("/params/{a}", |params: PathParams| {
            params.get("a").unwrap_or_default().to_owned()
        })?;
    let res = r.handle(
        http::Request::post("/echo")
            .header("x-agent", "t")
            .body(b"hello".to_vec())
            .expect("a request"),
    );
    assert_eq!(text(&res), "POST /echo t hello");
    assert_problem(&post(&r, "/echo", "text/plain", &[0xff]), 400, "not UTF-8");
    assert_eq!(text(&post(&r, "/bytes", "x/y", &[1, 2, 3])), "3");
    assert_eq!(text(&get(&r, "/maybe/4")), "Some(4)");
    assert_eq!(text(&get(&r, "/maybe/four")), "None");
    assert_eq!(text(&get(&r, "/params/a%20b")), "a%20b");
    Ok(())
}

#[test]
fn plain_handlers_still_take_the_request() -> Result<(), crate::RouteError> {
    fn raw(req: Request) -> Result<Response, Problem> {
        Ok(req.uri().path().to_owned().into_response())
    }
    fn nothing() -> &'static str {
        "nothing"
    }
    let r = router()
        .get("/raw", raw)?
        .get("/nothing", nothing)?
        .get("/problem", || Problem::new(StatusCode::IM_A_TEAPOT))?;
    assert_eq!(text(&get(&r, "/raw")), "/raw");
    assert_eq!(text(&get(&r, "/nothing")), "nothing");
    assert_eq!(get(&r, "/problem").status(), 418);
    Ok(())
}

fn multipart_body(parts: &[(&str, Option<&str>, &str)]) -> Vec<u8> {
    let mut body = String::new();
    for (name, file, content) in parts {
        body.push_str("--B\r\nContent-Disposition: form-data; name=\"");
        body.push_str(name);
        body.push('"');
        if let Some(file) = file {
            body.push_str(&format!(
                "; filename=\"{file}\"\r\nContent-Type: text/plain"
            ));
        }
        body.push_str("\r\n\r\n");
        body.push_str(content);
        body.push_str("\r\n");
    }
    body.push_str("--B--\r\n");
    body.into_bytes()
}

#[test]
fn multipart_parts_within_their_limits() -> Result<(), crate::RouteError> {
    let describe = |form: Multipart| {
        form.parts()
            .iter()
            .map(|part| {
                format!(
                    "{}={}{}",
                    part.name().unwrap_or("?"),
                    part.text().unwrap_or("<binary>"),
                    part.file_name()
                        .map(|f| format!(" ({f})"))
                        .unwrap_or_default()
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    };
    let limits = MultipartLimits::new()
        .with_part_bytes(16)
        .with_total_bytes(400)
        .with_parts(3);
    let r = router().post("/default", describe)?.route_with(
        Method::POST,
        "/limited",
        describe,
        crate::Stack::new().layer(limits),
    )?;
    let form = "multipart/form-data; boundary=B";
    let body = multipart_body(&[("title", None, "Notes"), ("file", Some("a.txt"), "hello")]);
    let res = post(&r, "/limited", form, &body);
    assert_eq!(text(&res), "title=Notes; file=hello (a.txt)");

    let big = multipart_body(&[("title", None, "seventeen bytes!!")]);
    assert_eq!(post(&r, "/default", form, &big).status(), 200);
    assert_problem(
        &post(&r, "/limited", form, &big),
        413,
        "the part `title` is larger than 16 bytes",
    );
    let many = multipart_body(&[
        ("a", None, "1"),
        ("b", None, "2"),
        ("c", None, "3"),
        ("d", None, "4"),
    ]);
    assert_problem(&post(&r, "/limited", form, &many), 413, "more than 3 parts");
    let ten = "x".repeat(10);
    let huge = multipart_body(&vec![("a", None, ten.as_str()); 40]);
    assert_problem(
        &post(&r, "/limited", form, &huge),
        413,
        "larger than 400 bytes",
    );

    assert_problem(
        &post(&r, "/limited", "text/plain", b"x"),
        415,
        "multipart/form-data",
    );
    assert_problem(
        &post(&r, "/limited", "multipart/form-data", &body),
        400,
        "no boundary",
    );
    assert_problem(
        &post(&r, "/limited", form, b"--B\r\nnot a part"),
        400,
        "malformed",
    );
    Ok(())
}
