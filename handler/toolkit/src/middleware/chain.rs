//! The onion model: [`Middleware`] wraps the rest of the chain, reached through [`Next`].
//!
//! ```
//! use edge_toolkit::{Handler, Problem, Request, Response, Stack, from_fn};
//! use http::HeaderValue;
//!
//! // Runs code before and after the inner handler.
//! let timing = from_fn(async |req: Request, next: edge_toolkit::Next<'_>| {
//!     let mut res = next.run(req).await?;
//!     res.headers_mut().insert("x-outer", HeaderValue::from_static("saw the response"));
//!     Ok(res)
//! });
//! // Answers on its own without calling the inner handler.
//! let guard = from_fn(async |req: Request, next: edge_toolkit::Next<'_>| {
//!     if req.headers().contains_key("x-deny") {
//!         return Err(Problem::new(http::StatusCode::FORBIDDEN));
//!     }
//!     next.run(req).await
//! });
//! let app = Stack::new()
//!     .layer(timing) // outermost: sees every response, even the guard's
//!     .layer(guard)
//!     .handler(|_req: Request| Ok(Response::new(b"hi".to_vec())));
//!
//! let res = app.call_blocking(http::Request::get("/").body(vec![]).unwrap()).unwrap();
//! assert_eq!(res.body().as_slice(), b"hi");
//! assert_eq!(res.headers()["x-outer"], "saw the response");
//!
//! let denied = http::Request::get("/").header("x-deny", "1").body(vec![]).unwrap();
//! assert_eq!(app.call_blocking(denied).unwrap_err().status(), 403);
//! ```

use std::fmt;
use std::sync::Arc;

use http::{HeaderMap, StatusCode};

use crate::router::{HandlerFuture, IntoHandler};
use crate::{Handler, Problem, Request, Response};

/// Code that runs around a [`Handler`]: before it, after it, or instead of it.
///
/// `handle` receives the request and a [`Next`] standing for everything inside this
/// middleware (further middleware, then the handler). Calling [`Next::run`] passes the
/// request inwards and returns the inner response; not calling it short-circuits the chain.
///
/// An error from the inner chain arrives as `Err(Problem)`; middleware that decorates every
/// response should decorate problems too (see [`Problem::headers_mut`]).
///
/// ```
/// use edge_toolkit::{Handler, HandlerFuture, Middleware, Next, Request, Response, Stack};
///
/// /// Adds `x-powered-by` to every successful response.
/// #[derive(Debug)]
/// struct PoweredBy;
///
/// impl Middleware for PoweredBy {
///     fn handle<'a>(&'a self, req: Request, next: Next<'a>) -> HandlerFuture<'a> {
///         Box::pin(async move {
///             let mut res = next.run(req).await?;
///             res.headers_mut().insert("x-powered-by", http::HeaderValue::from_static("wasm"));
///             Ok(res)
///         })
///     }
/// }
///
/// let app = Stack::new().layer(PoweredBy).handler(|_req: Request| Ok(Response::new(vec![])));
/// let res = app.call_blocking(http::Request::get("/").body(vec![]).unwrap()).unwrap();
/// assert_eq!(res.headers()["x-powered-by"], "wasm");
/// ```
pub trait Middleware: Send + Sync + 'static {
    /// Handles one request, awaiting `next.run(req)` to reach the inner chain.
    fn handle<'a>(&'a self, req: Request, next: Next<'a>) -> HandlerFuture<'a>;

    /// The largest request body this layer lets through, if it limits bodies: the component
    /// glue reads no more than the smallest limit on a request's way (see
    /// [`Router::max_body`](crate::Router::max_body)), so a body over it is refused with
    /// `413` before it is read.
    fn max_body(&self) -> Option<u64> {
        None
    }
}

/// What the innermost [`Next`] reaches: a handler, or the router's dispatch, which borrows
/// the request's routing path and so is not a `'static` [`Handler`].
pub(crate) trait Endpoint {
    fn call_endpoint(&self, req: Request) -> HandlerFuture<'_>;
}

impl Endpoint for Box<dyn Handler> {
    fn call_endpoint(&self, req: Request) -> HandlerFuture<'_> {
        self.call(req)
    }
}

/// The rest of the chain inside a [`Middleware`]: the remaining layers, then the endpoint.
///
/// It is `Copy`, so a middleware may call the inner chain more than once (a retry, say),
/// each time with a request of its own. A body streaming in (an
/// [`Upload`](crate::body::Upload)) is read once: a second try finds it taken (`500`).
#[derive(Clone, Copy)]
pub struct Next<'a> {
    layers: &'a [Arc<dyn Middleware>],
    endpoint: &'a dyn Endpoint,
}

impl fmt::Debug for Next<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Next")
            .field("layers_left", &self.layers.len())
            .finish_non_exhaustive()
    }
}

impl<'a> Next<'a> {
    /// Passes `req` to the inner chain; the future answers what it answers.
    pub fn run(self, req: Request) -> HandlerFuture<'a> {
        match self.layers.split_first() {
            Some((outer, rest)) => outer.handle(
                req,
                Next {
                    layers: rest,
                    endpoint: self.endpoint,
                },
            ),
            None => self.endpoint.call_endpoint(req),
        }
    }
}

impl Endpoint for Next<'_> {
    fn call_endpoint(&self, req: Request) -> HandlerFuture<'_> {
        self.run(req)
    }
}

/// A [`Middleware`] made from an `async` closure; see [`from_fn`].
#[derive(Clone)]
pub struct FromFn<F> {
    f: F,
}

impl<F> fmt::Debug for FromFn<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FromFn").finish_non_exhaustive()
    }
}

/// Makes a [`Middleware`] from an `async` closure `async |req, next| ...`.
///
/// ```
/// use edge_toolkit::{Handler, Request, Response, Stack, from_fn};
///
/// let upper = from_fn(async |req: Request, next: edge_toolkit::Next<'_>| {
///     let mut res = next.run(req).await?;
///     res.body_mut().make_ascii_uppercase();
///     Ok(res)
/// });
/// let app = Stack::new().layer(upper).handler(|_req: Request| Ok(Response::new(b"hi".to_vec())));
/// let res = app.call_blocking(http::Request::get("/").body(vec![]).unwrap()).unwrap();
/// assert_eq!(res.body().as_slice(), b"HI");
/// ```
pub fn from_fn<F>(f: F) -> FromFn<F>
where
    F: for<'n> AsyncFn(Request, Next<'n>) -> Result<Response, Problem> + Send + Sync + 'static,
{
    FromFn { f }
}

impl<F> Middleware for FromFn<F>
where
    F: for<'n> AsyncFn(Request, Next<'n>) -> Result<Response, Problem> + Send + Sync + 'static,
{
    fn handle<'a>(&'a self, req: Request, next: Next<'a>) -> HandlerFuture<'a> {
        Box::pin((self.f)(req, next))
    }
}

/// An ordered list of [`Middleware`]; the first added is the outermost.
///
/// With `Stack::new().layer(a).layer(b).handler(h)` a request passes `a`, then `b`, then
/// reaches `h`; the response travels back through `b`, then `a`. Cloning a stack is cheap
/// (the layers are shared), so one stack can wrap many handlers.
///
/// A stack is itself a [`Middleware`], so stacks nest.
///
/// ```
/// use edge_toolkit::{Handler, Request, Response, Stack, from_fn};
/// use http::HeaderValue;
///
/// fn tag(name: &'static str) -> impl edge_toolkit::Middleware {
///     from_fn(async move |req: Request, next: edge_toolkit::Next<'_>| {
///         let mut res = next.run(req).await?;
///         res.headers_mut().append("x-order", HeaderValue::from_static(name));
///         Ok(res)
///     })
/// }
///
/// let app = Stack::new().layer(tag("outer")).layer(tag("inner"))
///     .handler(|_req: Request| Ok(Response::new(vec![])));
/// let res = app.call_blocking(http::Request::get("/").body(vec![]).unwrap()).unwrap();
/// let order: Vec<_> = res.headers().get_all("x-order").iter().collect();
/// // The inner layer sees the response first.
/// assert_eq!(order, ["inner", "outer"]);
/// ```
#[derive(Clone, Default)]
pub struct Stack {
    layers: Vec<Arc<dyn Middleware>>,
}

impl fmt::Debug for Stack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stack")
            .field("layers", &self.layers.len())
            .finish()
    }
}

impl Stack {
    /// An empty stack: wrapping a handler in it changes nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `middleware` inside the layers added so far.
    pub fn layer(mut self, middleware: impl Middleware) -> Self {
        self.layers.push(Arc::new(middleware));
        self
    }

    /// How many layers the stack has.
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    /// Whether the stack has no layers.
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }

    /// The smallest body limit of its layers ([`Middleware::max_body`]).
    pub fn max_body(&self) -> Option<u64> {
        self.layers
            .iter()
            .filter_map(|layer| layer.max_body())
            .min()
    }

    /// Wraps `handler` in the stack, giving a [`Handler`] that runs the layers around it.
    pub fn handler<M>(self, handler: impl IntoHandler<M>) -> Layered {
        Layered {
            stack: self,
            handler: crate::router::answering_preconditions(handler.into_handler()),
        }
    }

    /// Runs `req` through the layers to `endpoint`, which need not be `'static`.
    pub(crate) fn run<'a>(&'a self, req: Request, endpoint: &'a dyn Endpoint) -> HandlerFuture<'a> {
        Next {
            layers: &self.layers,
            endpoint,
        }
        .run(req)
    }
}

impl Middleware for Stack {
    fn handle<'a>(&'a self, req: Request, next: Next<'a>) -> HandlerFuture<'a> {
        Box::pin(async move { self.run(req, &next).await })
    }

    fn max_body(&self) -> Option<u64> {
        Stack::max_body(self)
    }
}

/// A [`Handler`] wrapped in a [`Stack`]; made by [`Stack::handler`].
pub struct Layered {
    stack: Stack,
    handler: Box<dyn Handler>,
}

impl fmt::Debug for Layered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Layered")
            .field("stack", &self.stack)
            .finish_non_exhaustive()
    }
}

impl Handler for Layered {
    fn call(&self, req: Request) -> HandlerFuture<'_> {
        self.stack.run(req, &self.handler)
    }

    fn answers_preconditions(&self) -> bool {
        true
    }

    fn max_body(&self) -> Option<u64> {
        [self.stack.max_body(), self.handler.max_body()]
            .into_iter()
            .flatten()
            .min()
    }

    fn streams_body(&self) -> bool {
        self.handler.streams_body()
    }
}

/// The status of an inner result, whether a response or a problem.
pub(crate) fn status_of(result: &Result<Response, Problem>) -> StatusCode {
    match result {
        Ok(res) => res.status(),
        Err(problem) => problem.status(),
    }
}

/// The headers an inner result will be sent with, whether a response or a problem.
pub(crate) fn headers_of(result: &mut Result<Response, Problem>) -> &mut HeaderMap {
    match result {
        Ok(res) => res.headers_mut(),
        Err(problem) => problem.headers_mut(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use http::HeaderValue;

    use super::*;

    fn request() -> Request {
        http::Request::get("/")
            .body(Vec::new())
            .expect("valid request")
    }

    /// Records when it runs, before and after the inner chain.
    fn recorder(name: &'static str, log: Arc<Mutex<Vec<String>>>) -> impl Middleware {
        from_fn(async move |req: Request, next: Next<'_>| {
            log.lock().expect("unpoisoned").push(format!("{name} in"));
            let res = next.run(req).await;
            log.lock().expect("unpoisoned").push(format!("{name} out"));
            res
        })
    }

    #[test]
    fn first_added_is_outermost() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let inner_log = Arc::clone(&log);
        let app = Stack::new()
            .layer(recorder("a", Arc::clone(&log)))
            .layer(recorder("b", Arc::clone(&log)))
            .handler(move |_req: Request| {
                inner_log.lock().expect("unpoisoned").push("handler".into());
                Ok(Response::new(b"ok".to_vec()))
            });
        let res = app.call_blocking(request()).expect("ok");
        assert_eq!(res.body().as_slice(), b"ok");
        assert_eq!(
            *log.lock().expect("unpoisoned"),
            ["a in", "b in", "handler", "b out", "a out"]
        );
    }

    #[test]
    fn short_circuit_skips_inner_layers_and_handler() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let app = Stack::new()
            .layer(recorder("a", Arc::clone(&log)))
            .layer(from_fn(async |_req: Request, _next: Next<'_>| {
                Err(Problem::new(StatusCode::UNAUTHORIZED))
            }))
            .layer(recorder("never", Arc::clone(&log)))
            .handler(|_req: Request| -> Result<Response, Problem> {
                panic!("the handler must not run")
            });
        let err = app.call_blocking(request()).expect_err("short-circuited");
        assert_eq!(err.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(*log.lock().expect("unpoisoned"), ["a in", "a out"]);
    }

    #[test]
    fn middleware_can_change_the_request_and_the_response() {
        let app = Stack::new()
            .layer(from_fn(async |mut req: Request, next: Next<'_>| {
                req.headers_mut()
                    .insert("x-in", HeaderValue::from_static("added"));
                let mut res = next.run(req).await?;
                *res.status_mut() = StatusCode::ACCEPTED;
                Ok(res)
            }))
            .handler(|req: Request| {
                let seen = req.headers().get("x-in").cloned();
                Ok(Response::new(
                    seen.map(|v| v.as_bytes().to_vec()).unwrap_or_default(),
                ))
            });
        let res = app.call_blocking(request()).expect("ok");
        assert_eq!(res.status(), StatusCode::ACCEPTED);
        assert_eq!(res.body().as_slice(), b"added");
    }

    #[test]
    fn empty_stack_is_transparent() {
        let stack = Stack::new();
        assert!(stack.is_empty());
        let app = stack.handler(|_req: Request| Ok(Response::new(b"same".to_vec())));
        assert_eq!(
            app.call_blocking(request()).expect("ok").body().as_slice(),
            b"same"
        );
    }

    #[test]
    fn stacks_nest_in_order() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let inner = Stack::new()
            .layer(recorder("b", Arc::clone(&log)))
            .layer(recorder("c", Arc::clone(&log)));
        let app = Stack::new()
            .layer(recorder("a", Arc::clone(&log)))
            .layer(inner)
            .layer(recorder("d", Arc::clone(&log)))
            .handler(|_req: Request| Ok(Response::new(Vec::new())));
        assert_eq!(app.stack.len(), 3);
        app.call_blocking(request()).expect("ok");
        assert_eq!(
            *log.lock().expect("unpoisoned"),
            [
                "a in", "b in", "c in", "d in", "d out", "c out", "b out", "a out"
            ]
        );
    }

    #[test]
    fn next_can_be_called_twice() {
        let calls = Arc::new(Mutex::new(0));
        let counter = Arc::clone(&calls);
        let app = Stack::new()
            .layer(from_fn(async |req: Request, next: Next<'_>| {
                let retry = req.clone();
                match next.run(req).await {
                    Err(p) if p.status() == StatusCode::SERVICE_UNAVAILABLE => {
                        next.run(retry).await
                    }
                    other => other,
                }
            }))
            .handler(move |_req: Request| {
                let mut n = counter.lock().expect("unpoisoned");
                *n += 1;
                if *n == 1 {
                    Err(Problem::new(StatusCode::SERVICE_UNAVAILABLE))
                } else {
                    Ok(Response::new(b"second try".to_vec()))
                }
            });
        let res = app.call_blocking(request()).expect("retried");
        assert_eq!(res.body().as_slice(), b"second try");
        assert_eq!(*calls.lock().expect("unpoisoned"), 2);
    }

    #[test]
    fn helpers_reach_problem_headers_and_status() {
        let mut result: Result<Response, Problem> = Err(Problem::new(StatusCode::GONE));
        headers_of(&mut result).insert("x-a", HeaderValue::from_static("1"));
        assert_eq!(status_of(&result), StatusCode::GONE);
        let res = result.unwrap_or_else(Problem::into_response);
        assert_eq!(res.headers()["x-a"], "1");
        assert_eq!(res.headers()["content-type"], "application/problem+json");
    }
}
