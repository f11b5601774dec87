//! Method routing on top of [`matchit`].

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;

use http::{HeaderValue, Method, StatusCode, header};

use crate::extract::{FromRequest, FromRequestParts, State};
use crate::response::IntoHandlerResult;
use crate::{Middleware, Problem, Request, Response, Stack};

/// The header in which Spin passes the request path relative to the component's route.
pub const SPIN_PATH_INFO: &str = "spin-path-info";

/// What a [`Handler`] or [`Middleware`] answers: a future of the response or the problem.
/// Not `Send`: a component runs on one thread.
pub type HandlerFuture<'a> = Pin<Box<dyn Future<Output = Result<Response, Problem>> + 'a>>;

/// Something that answers a request: any `Fn(Request) -> R` where `R` is an
/// [`IntoResponse`](crate::IntoResponse) or `Result<_, Problem>` of one, such as
/// `fn(Request) -> Result<Response, Problem>`. Functions of [extractors](crate::extract),
/// and `async` ones, become handlers through [`IntoHandler`].
pub trait Handler: Send + Sync + 'static {
    /// Handles one request. The future may wait (on an outbound request, a timer): on a
    /// WASI 0.3 instance, other requests go on meanwhile.
    fn call(&self, req: Request) -> HandlerFuture<'_>;

    /// Runs [`call`](Handler::call) to completion on this thread, for tests and native code.
    /// A component's glue awaits `call` instead: a handler that waits on the host
    /// would never wake here.
    fn call_blocking(&self, req: Request) -> Result<Response, Problem> {
        crate::blocking::block_on(self.call(req))
    }

    /// The largest request body it accepts, if it says ([`Middleware::max_body`] of the
    /// layers it is wrapped in).
    fn max_body(&self) -> Option<u64> {
        None
    }

    /// Whether it answers `412` itself, before its innermost handler runs, for a request
    /// whose preconditions [`ConditionalRequests`](crate::cache::ConditionalRequests) found
    /// false: true for [`Layered`](crate::Layered) (after its stack) and for the router's
    /// own wrappers. The router and [`Stack::handler`](crate::Stack::handler) wrap every
    /// handler that does not, so the check always sits between the last middleware and the
    /// handler. Not meant to be implemented.
    #[doc(hidden)]
    fn answers_preconditions(&self) -> bool {
        false
    }

    /// Whether it reads the request body itself as it streams in (its last extractor is an
    /// [`Upload`](crate::body::Upload)), so that the component glue passes the body on
    /// unread ([`Router::body_plan`]).
    fn streams_body(&self) -> bool {
        false
    }
}

/// `handler`, made to answer `412` for a request whose preconditions failed before it is
/// called (see [`Handler::answers_preconditions`]).
pub(crate) fn answering_preconditions(handler: impl Handler) -> Box<dyn Handler> {
    if handler.answers_preconditions() {
        Box::new(handler)
    } else {
        Box::new(crate::cache::Preconditioned(handler))
    }
}

impl<F, R> Handler for F
where
    F: Fn(Request) -> R + Send + Sync + 'static,
    R: IntoHandlerResult,
{
    fn call(&self, req: Request) -> HandlerFuture<'_> {
        let result = self(req).into_handler_result();
        Box::pin(std::future::ready(result))
    }
}

/// What the router's methods accept: a [`Handler`], or a function whose arguments are
/// [extractors](crate::extract) (every one but the last a
/// [`FromRequestParts`], the last a [`FromRequest`]) and whose result is an
/// [`IntoResponse`](crate::IntoResponse) or `Result<_, Problem>` of one, up to eight
/// arguments. `M` only tells the two kinds apart; callers never name it.
pub trait IntoHandler<M>: Sized {
    /// The handler it becomes.
    type Handler: Handler;

    /// Makes the handler.
    fn into_handler(self) -> Self::Handler;
}

/// [`IntoHandler`] for what already is a [`Handler`].
#[derive(Debug)]
pub enum ViaHandler {}

impl<H: Handler> IntoHandler<ViaHandler> for H {
    type Handler = H;

    fn into_handler(self) -> H {
        self
    }
}

/// [`IntoHandler`] for a function of extractors `T` (a tuple of its argument types).
#[derive(Debug)]
pub struct ViaExtractors<T>(PhantomData<fn() -> T>);

/// A function of extractors as a [`Handler`]: each argument read from the request, then the
/// function called; the first extractor that fails answers with its problem.
pub struct Extracting<F, T> {
    f: F,
    args: PhantomData<fn() -> T>,
}

impl<F, T> fmt::Debug for Extracting<F, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Extracting")
            .field("args", &std::any::type_name::<T>())
            .finish_non_exhaustive()
    }
}

impl<F, R> Handler for Extracting<F, ()>
where
    F: Fn() -> R + Send + Sync + 'static,
    R: IntoHandlerResult,
{
    fn call(&self, _req: Request) -> HandlerFuture<'_> {
        let result = (self.f)().into_handler_result();
        Box::pin(std::future::ready(result))
    }
}

impl<F, R> IntoHandler<ViaExtractors<()>> for F
where
    F: Fn() -> R + Send + Sync + 'static,
    R: IntoHandlerResult,
{
    type Handler = Extracting<F, ()>;

    fn into_handler(self) -> Self::Handler {
        Extracting {
            f: self,
            args: PhantomData,
        }
    }
}

/// [`IntoHandler`] for an `async` function of extractors `T` (a tuple of its argument types).
#[derive(Debug)]
pub struct ViaAsync<T>(PhantomData<fn() -> T>);

/// [`IntoHandler`] for an `async` function of the whole [`Request`].
#[derive(Debug)]
pub enum ViaAsyncRequest {}

/// An `async` function of extractors as a [`Handler`]: each argument read from the request,
/// then the function's future awaited; the first extractor that fails answers with its
/// problem, and the function is not called.
pub struct AsyncExtracting<F, T> {
    f: F,
    args: PhantomData<fn() -> T>,
}

impl<F, T> fmt::Debug for AsyncExtracting<F, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncExtracting")
            .field("args", &std::any::type_name::<T>())
            .finish_non_exhaustive()
    }
}

/// An `async fn(Request) -> R` as a [`Handler`]; made by [`IntoHandler`].
pub struct AsyncRequestFn<F>(F);

impl<F> fmt::Debug for AsyncRequestFn<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncRequestFn").finish_non_exhaustive()
    }
}

impl<F, Fut, R> Handler for AsyncRequestFn<F>
where
    F: Fn(Request) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = R> + 'static,
    R: IntoHandlerResult,
{
    fn call(&self, req: Request) -> HandlerFuture<'_> {
        let fut = (self.0)(req);
        Box::pin(async move { fut.await.into_handler_result() })
    }
}

impl<F, Fut, R> IntoHandler<ViaAsyncRequest> for F
where
    F: Fn(Request) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = R> + 'static,
    R: IntoHandlerResult,
{
    type Handler = AsyncRequestFn<F>;

    fn into_handler(self) -> Self::Handler {
        AsyncRequestFn(self)
    }
}

impl<F, Fut, R> Handler for AsyncExtracting<F, ()>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = R> + 'static,
    R: IntoHandlerResult,
{
    fn call(&self, _req: Request) -> HandlerFuture<'_> {
        let fut = (self.f)();
        Box::pin(async move { fut.await.into_handler_result() })
    }
}

impl<F, Fut, R> IntoHandler<ViaAsync<()>> for F
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = R> + 'static,
    R: IntoHandlerResult,
{
    type Handler = AsyncExtracting<F, ()>;

    fn into_handler(self) -> Self::Handler {
        AsyncExtracting {
            f: self,
            args: PhantomData,
        }
    }
}

/// The extractors of a handler, read from `$req` into a tuple: `$head` from the head,
/// `$last` from the whole request; the first that fails gives its problem.
macro_rules! read_extractors {
    ($req:ident; $($head:ident),*; $last:ident) => {
        (|| -> Result<_, Problem> {
            $(let $head = $head::from_request_parts(&$req)?;)*
            let $last = $last::from_request($req)?;
            Ok(($($head,)* $last,))
        })()
    };
}

/// Handlers of one to eight extractors, plain and `async`: `$head` read from the head,
/// `$last` from the whole request.
macro_rules! extracting {
    ($($head:ident),* ; $last:ident) => {
        impl<F, R, $($head,)* $last> Handler for Extracting<F, ($($head,)* $last,)>
        where
            F: Fn($($head,)* $last) -> R + Send + Sync + 'static,
            R: IntoHandlerResult,
            $($head: FromRequestParts + 'static,)*
            $last: FromRequest + 'static,
        {
            #[allow(non_snake_case, reason = "the arguments are named after their types")]
            fn call(&self, req: Request) -> HandlerFuture<'_> {
                let result = read_extractors!(req; $($head),*; $last).and_then(
                    |($($head,)* $last,)| (self.f)($($head,)* $last).into_handler_result(),
                );
                Box::pin(std::future::ready(result))
            }

            fn streams_body(&self) -> bool {
                $last::STREAMS
            }
        }

        impl<F, R, $($head,)* $last> IntoHandler<ViaExtractors<($($head,)* $last,)>> for F
        where
            F: Fn($($head,)* $last) -> R + Send + Sync + 'static,
            R: IntoHandlerResult,
            $($head: FromRequestParts + 'static,)*
            $last: FromRequest + 'static,
        {
            type Handler = Extracting<F, ($($head,)* $last,)>;

            fn into_handler(self) -> Self::Handler {
                Extracting { f: self, args: PhantomData }
            }
        }

        impl<F, Fut, R, $($head,)* $last> Handler for AsyncExtracting<F, ($($head,)* $last,)>
        where
            F: Fn($($head,)* $last) -> Fut + Send + Sync + 'static,
            Fut: Future<Output = R> + 'static,
            R: IntoHandlerResult,
            $($head: FromRequestParts + 'static,)*
            $last: FromRequest + 'static,
        {
            #[allow(non_snake_case, reason = "the arguments are named after their types")]
            fn call(&self, req: Request) -> HandlerFuture<'_> {
                match read_extractors!(req; $($head),*; $last) {
                    Ok(($($head,)* $last,)) => {
                        let fut = (self.f)($($head,)* $last);
                        Box::pin(async move { fut.await.into_handler_result() })
                    }
                    Err(problem) => Box::pin(std::future::ready(Err(problem))),
                }
            }

            fn streams_body(&self) -> bool {
                $last::STREAMS
            }
        }

        impl<F, Fut, R, $($head,)* $last> IntoHandler<ViaAsync<($($head,)* $last,)>> for F
        where
            F: Fn($($head,)* $last) -> Fut + Send + Sync + 'static,
            Fut: Future<Output = R> + 'static,
            R: IntoHandlerResult,
            $($head: FromRequestParts + 'static,)*
            $last: FromRequest + 'static,
        {
            type Handler = AsyncExtracting<F, ($($head,)* $last,)>;

            fn into_handler(self) -> Self::Handler {
                AsyncExtracting { f: self, args: PhantomData }
            }
        }
    };
}

extracting!(; T1);
extracting!(T1; T2);
extracting!(T1, T2; T3);
extracting!(T1, T2, T3; T4);
extracting!(T1, T2, T3, T4; T5);
extracting!(T1, T2, T3, T4, T5; T6);
extracting!(T1, T2, T3, T4, T5, T6; T7);
extracting!(T1, T2, T3, T4, T5, T6, T7; T8);

/// An error in the route table, found while building the router.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RouteError {
    /// The path is not valid matchit syntax or conflicts with another route's path.
    #[error("invalid route `{path}`: {source}")]
    Path {
        /// The route as written.
        path: String,
        /// What matchit objected to.
        source: matchit::InsertError,
    },
    /// A group prefix that is neither empty nor starts with `/`.
    #[error("invalid group prefix `{prefix}`: it must start with `/`")]
    Prefix {
        /// The prefix as written.
        prefix: String,
    },
    /// The same method was registered twice for one path.
    #[error("route `{method} {path}` is registered twice")]
    Duplicate {
        /// The route as written.
        path: String,
        /// The method registered twice.
        method: Method,
    },
}

/// The path parameters of the matched route, stored in the request's extensions.
///
/// ```
/// use edge_toolkit::{PathParams, Problem, Router};
///
/// # fn main() -> Result<(), edge_toolkit::RouteError> {
/// let router = Router::new().get("/users/{id}", |req: edge_toolkit::Request| {
///     let id: u64 = PathParams::of(&req).parse("id")?;
///     Ok(edge_toolkit::json_response(http::StatusCode::OK, &id))
/// })?;
/// let ok = router.handle(http::Request::get("/users/42").body(vec![]).unwrap());
/// assert_eq!(ok.body().as_slice(), b"42");
/// let bad = router.handle(http::Request::get("/users/x").body(vec![]).unwrap());
/// assert_eq!(bad.status(), 400);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathParams(Vec<(String, String)>);

static NO_PARAMS: PathParams = PathParams(Vec::new());

impl PathParams {
    /// The parameters of `req`; empty when the request did not come through a [`Router`].
    pub fn of(req: &Request) -> &PathParams {
        req.extensions().get::<PathParams>().unwrap_or(&NO_PARAMS)
    }

    /// The raw value of parameter `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Parameter `name` parsed as `T`; a missing or unparsable value is a 400 problem.
    pub fn parse<T>(&self, name: &str) -> Result<T, Problem>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        let raw = self.get(name).ok_or_else(|| {
            Problem::new(StatusCode::BAD_REQUEST)
                .with_detail(format!("path parameter `{name}` is missing"))
        })?;
        raw.parse().map_err(|err| {
            Problem::new(StatusCode::BAD_REQUEST).with_detail(format!(
                "path parameter `{name}` = {raw:?} is invalid: {err}"
            ))
        })
    }

    /// All parameters in route order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// The handlers registered for one path, by method.
#[derive(Default)]
struct Endpoint {
    methods: Vec<(Method, Box<dyn Handler>)>,
}

impl Endpoint {
    fn find(&self, method: &Method) -> Option<&dyn Handler> {
        self.methods
            .iter()
            .find(|(m, _)| m == method)
            .map(|(_, h)| h.as_ref())
    }

    /// The `Allow` value: registered methods, plus `HEAD` when `GET` exists and `OPTIONS`.
    fn allow(&self) -> HeaderValue {
        let mut names: Vec<&str> = self.methods.iter().map(|(m, _)| m.as_str()).collect();
        if self.find(&Method::GET).is_some() && self.find(&Method::HEAD).is_none() {
            names.push(Method::HEAD.as_str());
        }
        if self.find(&Method::OPTIONS).is_none() {
            names.push(Method::OPTIONS.as_str());
        }
        HeaderValue::from_str(&names.join(", "))
            .expect("method names are tokens, which are valid header values")
    }
}

/// Routes requests to handlers by path and method.
///
/// Route syntax is matchit's: static segments, named parameters (`/users/{id}`) and a final
/// catch-all (`/files/{*path}`). A spin.toml route such as `/api/...` decides which requests
/// reach the component at all; inside it, this router matches the path Spin passes in the
/// `spin-path-info` header (the part after the spin.toml route's prefix), or the request
/// path when no such header is present (any other wasi:http host). Spin and `edge-host`
/// replace whatever `spin-*` headers a client sends; a host that passes client headers
/// through unchanged (`wasmtime serve`) lets a client pick the route with that header, so
/// behind such a host, make no access decisions on the URL path in front of it.
///
/// Paths are matched as sent, percent-encoding included: `/user%73` is not `/users`, and
/// parameters arrive still encoded.
///
/// Behaviour a client can rely on:
/// - a path no route matches is `404`; a path that matches with a method no route accepts
///   is `405` with `Allow` listing the methods that would work (RFC 9110 §15.5.6);
/// - `HEAD` is answered by the `GET` handler with the body removed and the headers kept
///   (through a component, all but a `Content-Length`, which `wasi:http` cannot carry
///   without the content: [`drop_undeliverable_length`](crate::drop_undeliverable_length));
/// - `OPTIONS` is answered `204` with `Allow`, unless a route registers `OPTIONS` itself;
/// - trailing slashes are significant: `/users` and `/users/` are different routes, and a
///   request for one never matches the other.
///
/// # Middleware
///
/// [`Router::layer`] wraps the whole dispatch, so a global [`Middleware`] sees every
/// response, including the router's own `404`, `405` and `OPTIONS` answers, and errors
/// arrive at it already rendered as problem+json responses. [`Router::route_with`] wraps a
/// single route's handler in a [`Stack`]. `HEAD` bodies are removed after all middleware has
/// run, so middleware sees a `HEAD` response with the body `GET` would have had.
///
/// ```
/// use edge_toolkit::{Router, Request, Response, Stack, from_fn, Next};
/// use http::{HeaderValue, Method};
///
/// fn stamp(name: &'static str) -> impl edge_toolkit::Middleware {
///     from_fn(async move |req: Request, next: Next<'_>| {
///         let mut res = next.run(req).await?;
///         res.headers_mut().append("x-layer", HeaderValue::from_static(name));
///         Ok(res)
///     })
/// }
///
/// # fn main() -> Result<(), edge_toolkit::RouteError> {
/// let router = Router::new()
///     .layer(stamp("global"))
///     .route_with(Method::GET, "/a", |_req: Request| Ok(Response::new(vec![])),
///         Stack::new().layer(stamp("route")))?;
///
/// let res = router.handle(http::Request::get("/a").body(vec![]).unwrap());
/// let layers: Vec<_> = res.headers().get_all("x-layer").iter().collect();
/// assert_eq!(layers, ["route", "global"]);
///
/// // Global middleware also sees the router's own answers.
/// let res = router.handle(http::Request::get("/missing").body(vec![]).unwrap());
/// assert_eq!(res.status(), 404);
/// assert_eq!(res.headers()["x-layer"], "global");
/// # Ok(())
/// # }
/// ```
#[derive(Default)]
pub struct Router {
    paths: matchit::Router<usize>,
    endpoints: Vec<Endpoint>,
    // Ordered, not hashed: no per-instance random seed for a map used while building.
    by_path: BTreeMap<String, usize>,
    layers: Stack,
    states: Vec<StateFn>,
}

/// Puts one piece of application state into a request's extensions.
type StateFn = Arc<dyn Fn(&mut http::Extensions) + Send + Sync>;

impl fmt::Debug for Router {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let routes: Vec<_> = self.by_path.keys().collect();
        f.debug_struct("Router")
            .field("routes", &routes)
            .field("layers", &self.layers.len())
            .field("states", &self.states.len())
            .finish()
    }
}

impl Router {
    /// An empty router: every request is a 404.
    pub fn new() -> Self {
        Self::default()
    }

    /// Gives every request `state`, for handlers and middleware to read with
    /// [`State<T>`](crate::extract::State) (one value per type; a second of the same type
    /// replaces the first). Each request gets a clone: wrap large or shared state in an
    /// `Arc`.
    pub fn with_state<T: Clone + Send + Sync + 'static>(mut self, state: T) -> Self {
        self.states
            .push(Arc::new(move |extensions: &mut http::Extensions| {
                extensions.insert(State(state.clone()));
            }));
        self
    }

    /// Registers `handler` for `method` requests to `path` (matchit syntax).
    pub fn route<M>(
        mut self,
        method: Method,
        path: &str,
        handler: impl IntoHandler<M>,
    ) -> Result<Self, RouteError> {
        let index = match self.by_path.get(path) {
            Some(&index) => index,
            None => {
                let index = self.endpoints.len();
                self.paths
                    .insert(path, index)
                    .map_err(|source| RouteError::Path {
                        path: path.to_owned(),
                        source,
                    })?;
                self.endpoints.push(Endpoint::default());
                self.by_path.insert(path.to_owned(), index);
                index
            }
        };
        let endpoint = &mut self.endpoints[index];
        if endpoint.find(&method).is_some() {
            return Err(RouteError::Duplicate {
                path: path.to_owned(),
                method,
            });
        }
        endpoint
            .methods
            .push((method, answering_preconditions(handler.into_handler())));
        Ok(self)
    }

    /// Registers `handler` for `method` requests to `path`, wrapped in the route's own `stack`
    /// of middleware (which runs inside the router's global layers).
    pub fn route_with<M>(
        self,
        method: Method,
        path: &str,
        handler: impl IntoHandler<M>,
        stack: Stack,
    ) -> Result<Self, RouteError> {
        self.route(method, path, stack.handler(handler))
    }

    /// Adds `middleware` around the whole router, inside the layers added so far (the first
    /// added is the outermost). It applies to every request, whether or not a route matches.
    pub fn layer(mut self, middleware: impl Middleware) -> Self {
        self.layers = self.layers.layer(middleware);
        self
    }

    /// Registers a `GET` route (which also answers `HEAD`).
    pub fn get<M>(self, path: &str, handler: impl IntoHandler<M>) -> Result<Self, RouteError> {
        self.route(Method::GET, path, handler)
    }

    /// Registers a `POST` route.
    pub fn post<M>(self, path: &str, handler: impl IntoHandler<M>) -> Result<Self, RouteError> {
        self.route(Method::POST, path, handler)
    }

    /// Registers a `PUT` route.
    pub fn put<M>(self, path: &str, handler: impl IntoHandler<M>) -> Result<Self, RouteError> {
        self.route(Method::PUT, path, handler)
    }

    /// Registers a `PATCH` route.
    pub fn patch<M>(self, path: &str, handler: impl IntoHandler<M>) -> Result<Self, RouteError> {
        self.route(Method::PATCH, path, handler)
    }

    /// Registers a `DELETE` route.
    pub fn delete<M>(self, path: &str, handler: impl IntoHandler<M>) -> Result<Self, RouteError> {
        self.route(Method::DELETE, path, handler)
    }

    /// The path the routes are matched against: Spin's `spin-path-info` when present.
    fn routing_path(req: &Request) -> String {
        Self::routing_path_of(req.headers(), req.uri())
    }

    fn routing_path_of(headers: &http::HeaderMap, uri: &http::Uri) -> String {
        headers
            .get(SPIN_PATH_INFO)
            .and_then(|v| v.to_str().ok())
            .map(|p| if p.is_empty() { "/" } else { p })
            .unwrap_or_else(|| uri.path())
            .to_owned()
    }

    /// The handler the route `head` is for (`HEAD` takes `GET`'s), if any.
    fn route_of(&self, head: &http::request::Parts) -> Option<&dyn Handler> {
        let path = Self::routing_path_of(&head.headers, &head.uri);
        self.paths.at(&path).ok().and_then(|found| {
            let endpoint = &self.endpoints[*found.value];
            endpoint.find(&head.method).or_else(|| {
                (head.method == Method::HEAD)
                    .then(|| endpoint.find(&Method::GET))
                    .flatten()
            })
        })
    }

    /// The largest body the route `head` is for accepts: the smallest
    /// [`Middleware::max_body`] among the router's layers and the route's own (`HEAD` takes
    /// `GET`'s). The component glue reads no more of a request than this, answering `413`
    /// as soon as `Content-Length` or the bytes read go over it, before the body is buffered
    /// whole; `None` when nothing on the way limits bodies.
    pub fn max_body(&self, head: &http::request::Parts) -> Option<u64> {
        [
            self.layers.max_body(),
            self.route_of(head).and_then(Handler::max_body),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// How the component glue reads the body of the request `head` is the head of: within
    /// [`max_body`](Router::max_body), and streamed to the handler when the route's handler
    /// reads it as an [`Upload`](crate::body::Upload) ([`Handler::streams_body`]), buffered
    /// whole before it runs otherwise.
    pub fn body_plan(&self, head: &http::request::Parts) -> crate::body::BodyPlan {
        crate::body::BodyPlan {
            limit: self.max_body(head),
            streamed: self.route_of(head).is_some_and(Handler::streams_body),
        }
    }

    /// Answers a request: the handler's response, or a problem+json error. The component
    /// glue awaits this; on a WASI 0.3 instance, other requests go on while it waits.
    pub async fn serve(&self, mut req: Request) -> Response {
        for state in &self.states {
            state(req.extensions_mut());
        }
        let path = Self::routing_path(&req);
        let render = |problem: Problem| problem.with_instance(path.as_str()).into_response();
        let head = req.method() == Method::HEAD;
        let dispatch = Dispatch {
            router: self,
            path: &path,
        };
        let mut res = self.layers.run(req, &dispatch).await.unwrap_or_else(render);
        if head {
            // RFC 9110 §9.3.2: the same header fields as GET, without content. Content-Length
            // is what GET would have sent (`0` for an empty body), except where a response
            // has none: 1xx, 204 and 304, or a body streamed in chunks of unknown total.
            // (The component glue leaves a nonzero one out: `wasi:http` would hold the
            // empty body to it; see `drop_undeliverable_length`.)
            let status = res.status();
            let has_length = !(status.is_informational()
                || status == StatusCode::NO_CONTENT
                || status == StatusCode::NOT_MODIFIED
                || crate::stream::BodyStream::is_streaming(&res));
            if has_length {
                let len = res.body().len();
                res.headers_mut()
                    .entry(header::CONTENT_LENGTH)
                    .or_insert_with(|| HeaderValue::from(len));
            }
            res.body_mut().clear();
            // A streamed body is content too: it is never sent for HEAD.
            res.extensions_mut().remove::<crate::stream::BodyStream>();
        }
        res
    }

    /// [`serve`](Router::serve) run to completion on this thread, for tests and native code.
    /// A component's glue awaits `serve` instead: a handler that waits on the host would
    /// never wake here.
    pub fn handle(&self, req: Request) -> Response {
        crate::blocking::block_on(self.serve(req))
    }

    fn dispatch<'a>(&'a self, mut req: Request, path: &str) -> HandlerFuture<'a> {
        let Ok(matched) = self.paths.at(path) else {
            let problem =
                Problem::new(StatusCode::NOT_FOUND).with_detail(format!("no route matches {path}"));
            return Box::pin(std::future::ready(Err(problem)));
        };
        let endpoint = &self.endpoints[*matched.value];
        let params = PathParams(
            matched
                .params
                .iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        );
        req.extensions_mut().insert(params);

        let method = req.method().clone();
        if let Some(handler) = endpoint.find(&method) {
            return handler.call(req);
        }
        if method == Method::HEAD
            && let Some(get) = endpoint.find(&Method::GET)
        {
            // `serve` removes the body once every middleware has seen the response.
            return get.call(req);
        }
        let answer = if method == Method::OPTIONS {
            let mut res = http::Response::new(Vec::new());
            *res.status_mut() = StatusCode::NO_CONTENT;
            res.headers_mut().insert(header::ALLOW, endpoint.allow());
            Ok(res)
        } else {
            Err(Problem::new(StatusCode::METHOD_NOT_ALLOWED)
                .with_detail(format!("{method} is not allowed on {path}"))
                .with_header(header::ALLOW, endpoint.allow()))
        };
        Box::pin(std::future::ready(answer))
    }
}

/// The router's endpoint for one request: the route its path matches, or the router's own
/// answer, problems rendered as problem+json responses; innermost in the router's layers.
struct Dispatch<'r> {
    router: &'r Router,
    path: &'r str,
}

impl crate::middleware::chain::Endpoint for Dispatch<'_> {
    fn call_endpoint(&self, req: Request) -> HandlerFuture<'_> {
        let path = self.path;
        let router = self.router;
        // Rendered here, so that the router's layers see its problems as responses.
        Box::pin(async move {
            Ok(router
                .dispatch(req, path)
                .await
                .unwrap_or_else(|problem| problem.with_instance(path).into_response()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json_response;
    use crate::middleware::BodyLimit;

    #[test]
    fn the_body_limit_of_a_route_is_known_before_its_body() -> Result<(), RouteError> {
        let small = Stack::new().layer(BodyLimit::new(10));
        let router = Router::new()
            .layer(BodyLimit::new(1000))
            .route_with(Method::POST, "/small", ok("s"), small.clone())?
            .route_with(Method::GET, "/read", ok("r"), small)?
            .post("/big", ok("b"))?
            .group("/g", |g| g.layer(BodyLimit::new(5)).post("/x", ok("x")))?;
        let head = |method: Method, path: &str, info: Option<&str>| {
            let mut builder = http::Request::builder().method(method).uri(path);
            if let Some(info) = info {
                builder = builder.header(SPIN_PATH_INFO, info);
            }
            builder.body(()).expect("valid request").into_parts().0
        };
        assert_eq!(
            router.max_body(&head(Method::POST, "/small", None)),
            Some(10)
        );
        assert_eq!(
            router.max_body(&head(Method::POST, "/big", None)),
            Some(1000)
        );
        assert_eq!(router.max_body(&head(Method::POST, "/g/x", None)), Some(5));
        // HEAD takes GET's route; a method or path without a route, the router's layers.
        assert_eq!(
            router.max_body(&head(Method::HEAD, "/read", None)),
            Some(10)
        );
        assert_eq!(
            router.max_body(&head(Method::PUT, "/small", None)),
            Some(1000)
        );
        assert_eq!(
            router.max_body(&head(Method::POST, "/none", None)),
            Some(1000)
        );
        // Routed by spin-path-info, as requests are.
        let mounted = head(Method::POST, "/api/small", Some("/small"));
        assert_eq!(router.max_body(&mounted), Some(10));
        assert_eq!(
            Router::new()
                .post("/", ok("x"))?
                .max_body(&head(Method::POST, "/", None)),
            None
        );
        Ok(())
    }

    fn ok(body: &'static str) -> impl Handler {
        move |_req: Request| Ok(http::Response::new(body.as_bytes().to_vec()))
    }

    fn request(method: Method, path: &str) -> Request {
        http::Request::builder()
            .method(method)
            .uri(path)
            .body(Vec::new())
            .expect("valid request")
    }

    fn router() -> Router {
        Router::new()
            .get("/users", ok("list"))
            .and_then(|r| r.post("/users", ok("created")))
            .and_then(|r| {
                r.get("/users/{id}", |req: Request| {
                    let id: u32 = PathParams::of(&req).parse("id")?;
                    Ok(json_response(StatusCode::OK, &id))
                })
            })
            .and_then(|r| {
                r.get("/files/{*rest}", |req: Request| {
                    let rest = PathParams::of(&req)
                        .get("rest")
                        .unwrap_or_default()
                        .to_owned();
                    Ok(http::Response::new(rest.into_bytes()))
                })
            })
            .expect("valid routes")
    }

    #[test]
    fn routes_by_method_and_path() {
        let cases = [
            (Method::GET, "/users", 200, "list"),
            (Method::POST, "/users", 200, "created"),
            (Method::GET, "/users/7", 200, "7"),
            (Method::GET, "/files/a/b.txt", 200, "a/b.txt"),
        ];
        let router = router();
        for (method, path, status, body) in cases {
            let res = router.handle(request(method.clone(), path));
            assert_eq!(res.status(), status, "{method} {path}");
            assert_eq!(res.body().as_slice(), body.as_bytes(), "{method} {path}");
        }
    }

    #[test]
    fn unknown_path_is_404_problem() {
        let res = router().handle(request(Method::GET, "/nope"));
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
        assert_eq!(
            res.headers()[header::CONTENT_TYPE],
            "application/problem+json"
        );
        let body: serde_json::Value = serde_json::from_slice(res.body()).expect("json");
        assert_eq!(body["status"], 404);
        assert_eq!(body["instance"], "/nope");
    }

    #[test]
    fn trailing_slash_is_significant() {
        assert_eq!(
            router().handle(request(Method::GET, "/users/")).status(),
            404
        );
    }

    #[test]
    fn wrong_method_is_405_with_allow() {
        let res = router().handle(request(Method::DELETE, "/users"));
        assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(res.headers()[header::ALLOW], "GET, POST, HEAD, OPTIONS");
        assert_eq!(
            res.headers()[header::CONTENT_TYPE],
            "application/problem+json"
        );
    }

    #[test]
    fn head_uses_get_without_body() {
        let res = router().handle(request(Method::HEAD, "/users"));
        assert_eq!(res.status(), StatusCode::OK);
        assert!(res.body().is_empty());
        assert_eq!(res.headers()[header::CONTENT_LENGTH], "4");
    }

    #[test]
    fn head_of_an_empty_body_says_content_length_0_except_where_none_is_sent() {
        let router = Router::new()
            .get("/empty", |_req: Request| Ok(Response::new(Vec::new())))
            .and_then(|r| {
                r.get("/none", |_req: Request| {
                    let mut res = Response::new(Vec::new());
                    *res.status_mut() = StatusCode::NO_CONTENT;
                    Ok(res)
                })
            })
            .expect("valid routes");
        let res = router.handle(request(Method::HEAD, "/empty"));
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()[header::CONTENT_LENGTH], "0");
        let res = router.handle(request(Method::HEAD, "/none"));
        assert_eq!(res.status(), StatusCode::NO_CONTENT);
        assert!(!res.headers().contains_key(header::CONTENT_LENGTH));
    }

    #[test]
    fn options_answers_allow() {
        let res = router().handle(request(Method::OPTIONS, "/users/3"));
        assert_eq!(res.status(), StatusCode::NO_CONTENT);
        assert_eq!(res.headers()[header::ALLOW], "GET, HEAD, OPTIONS");
    }

    #[test]
    fn bad_typed_param_is_400() {
        let res = router().handle(request(Method::GET, "/users/abc"));
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        let body: serde_json::Value = serde_json::from_slice(res.body()).expect("json");
        assert!(body["detail"].as_str().unwrap_or_default().contains("`id`"));
    }

    #[test]
    fn spin_path_info_is_routed_when_mounted_under_a_prefix() {
        let mut req = request(Method::GET, "/api/users/9");
        req.headers_mut()
            .insert(SPIN_PATH_INFO, HeaderValue::from_static("/users/9"));
        let res = router().handle(req);
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.body().as_slice(), b"9");
    }

    #[test]
    fn duplicate_and_conflicting_routes_are_errors() {
        let dup = Router::new()
            .get("/a", ok("1"))
            .and_then(|r| r.get("/a", ok("2")));
        assert!(matches!(dup, Err(RouteError::Duplicate { .. })));
        let conflict = Router::new()
            .get("/a/{x}", ok("1"))
            .and_then(|r| r.get("/a/{y}", ok("2")));
        assert!(matches!(conflict, Err(RouteError::Path { .. })));
    }

    /// Appends `name` to `x-layer` on the way out, and records the body length it saw.
    fn stamp(name: &'static str) -> impl Middleware {
        crate::from_fn(async move |req: Request, next: crate::Next<'_>| {
            let mut result = next.run(req).await;
            let seen = match &result {
                Ok(res) => res.body().len(),
                Err(_) => 0,
            };
            let headers = crate::middleware::chain::headers_of(&mut result);
            headers.append("x-layer", HeaderValue::from_static(name));
            headers.append("x-seen-len", HeaderValue::from(seen));
            result
        })
    }

    #[test]
    fn global_layers_see_every_answer() {
        let router = router().layer(stamp("outer")).layer(stamp("inner"));
        // (method, path, status)
        let cases = [
            (Method::GET, "/users", 200),
            (Method::GET, "/nope", 404),
            (Method::DELETE, "/users", 405),
            (Method::OPTIONS, "/users", 204),
            (Method::GET, "/users/abc", 400),
            (Method::HEAD, "/users", 200),
        ];
        for (method, path, status) in cases {
            let res = router.handle(request(method.clone(), path));
            assert_eq!(res.status(), status, "{method} {path}");
            let layers: Vec<_> = res.headers().get_all("x-layer").iter().collect();
            assert_eq!(layers, ["inner", "outer"], "{method} {path}");
        }
    }

    #[test]
    fn global_layer_sees_rendered_problems_with_instance() {
        let router = router().layer(stamp("outer"));
        let res = router.handle(request(Method::GET, "/nope"));
        assert_eq!(
            res.headers()[header::CONTENT_TYPE],
            "application/problem+json"
        );
        let body: serde_json::Value = serde_json::from_slice(res.body()).expect("json");
        assert_eq!(body["instance"], "/nope");
        // The layer saw the rendered problem body, not an Err.
        assert_eq!(res.headers()["x-seen-len"], res.body().len().to_string());
    }

    #[test]
    fn problems_from_global_layers_are_rendered() {
        let router = router().layer(crate::from_fn(
            async |_req: Request, _next: crate::Next<'_>| {
                Err(Problem::new(StatusCode::TOO_MANY_REQUESTS))
            },
        ));
        let res = router.handle(request(Method::GET, "/users"));
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
        let body: serde_json::Value = serde_json::from_slice(res.body()).expect("json");
        assert_eq!(body["instance"], "/users");
    }

    #[test]
    fn route_layers_wrap_only_their_route() {
        let router = Router::new()
            .layer(stamp("global"))
            .route_with(
                Method::GET,
                "/a",
                ok("a"),
                crate::Stack::new().layer(stamp("route")),
            )
            .and_then(|r| r.get("/b", ok("b")))
            .expect("valid routes");
        let res = router.handle(request(Method::GET, "/a"));
        assert_eq!(res.body().as_slice(), b"a");
        let layers: Vec<_> = res.headers().get_all("x-layer").iter().collect();
        assert_eq!(layers, ["route", "global"]);
        let res = router.handle(request(Method::GET, "/b"));
        let layers: Vec<_> = res.headers().get_all("x-layer").iter().collect();
        assert_eq!(layers, ["global"]);
        // HEAD goes through the GET route's layers too.
        let res = router.handle(request(Method::HEAD, "/a"));
        let layers: Vec<_> = res.headers().get_all("x-layer").iter().collect();
        assert_eq!(layers, ["route", "global"]);
    }

    #[test]
    fn head_body_is_removed_after_middleware() {
        let router = router().layer(stamp("outer"));
        let res = router.handle(request(Method::HEAD, "/users"));
        assert!(res.body().is_empty());
        // The layer saw GET's body, and Content-Length says how long it was.
        assert_eq!(res.headers()["x-seen-len"], "4");
        assert_eq!(res.headers()[header::CONTENT_LENGTH], "4");

        // A HEAD to a missing path has no body either.
        let res = router.handle(request(Method::HEAD, "/nope"));
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
        assert!(res.body().is_empty());
        assert!(res.headers().contains_key(header::CONTENT_LENGTH));

        // An empty answer (a 304, say) gets no Content-Length of 0.
        let empty = Router::new()
            .get("/e", |_req: Request| {
                let mut res = http::Response::new(Vec::new());
                *res.status_mut() = StatusCode::NOT_MODIFIED;
                Ok(res)
            })
            .expect("valid route");
        let res = empty.handle(request(Method::HEAD, "/e"));
        assert!(!res.headers().contains_key(header::CONTENT_LENGTH));
    }

    #[test]
    fn debug_lists_routes_and_layer_count() {
        let router = router().layer(stamp("x"));
        let debug = format!("{router:?}");
        assert!(debug.contains("\"/users\""), "{debug}");
        assert!(debug.contains("layers: 1"), "{debug}");
    }

    #[test]
    fn async_handlers_of_extractors_are_awaited() -> Result<(), RouteError> {
        async fn shout(crate::extract::Path(word): crate::extract::Path<String>) -> String {
            std::future::ready(()).await;
            word.to_uppercase()
        }
        let router = Router::new()
            .get("/shout/{word}", shout)?
            .get("/none", async || StatusCode::ACCEPTED)?
            .post("/echo", |req: Request| async move {
                Ok::<_, Problem>(Response::new(req.into_body()))
            })?
            .get("/fails", async || -> Result<String, Problem> {
                Err(Problem::new(StatusCode::CONFLICT))
            })?;
        let res = router.handle(request(Method::GET, "/shout/hey"));
        assert_eq!(res.body().as_slice(), b"HEY");
        assert_eq!(router.handle(request(Method::GET, "/none")).status(), 202);
        let echo = http::Request::post("/echo")
            .body(b"back".to_vec())
            .expect("valid request");
        assert_eq!(router.handle(echo).body().as_slice(), b"back");
        let fails = router.handle(request(Method::GET, "/fails"));
        assert_eq!(fails.status(), StatusCode::CONFLICT);
        assert_eq!(fails.headers()["content-type"], crate::PROBLEM_JSON);
        // An extractor that fails answers before the function runs.
        let bad = router.handle(request(Method::GET, "/shout/%FF"));
        assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
        Ok(())
    }

    /// Two requests on one thread: the first waits for what the second sends. With
    /// handlers that block, the first would hold the thread and the second never run.
    #[test]
    fn a_waiting_handler_lets_other_requests_through() -> Result<(), RouteError> {
        use std::sync::Mutex;
        let (tx, rx) = futures::channel::oneshot::channel::<&'static str>();
        let rx = Arc::new(Mutex::new(Some(rx)));
        let tx = Arc::new(Mutex::new(Some(tx)));
        let logged = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&logged);
        let router = Router::new()
            .layer(crate::from_fn(
                async move |req: Request, next: crate::Next<'_>| {
                    let path = req.uri().path().to_owned();
                    let res = next.run(req).await;
                    log.lock().expect("unpoisoned").push(path);
                    res
                },
            ))
            .get("/wait", move || {
                let rx = rx.lock().expect("unpoisoned").take();
                async move {
                    match rx {
                        Some(rx) => rx.await.unwrap_or("the sender went away"),
                        None => "asked twice",
                    }
                }
            })?
            .get("/release", move || {
                let tx = tx.lock().expect("unpoisoned").take();
                async move {
                    match tx.map(|tx| tx.send("released")) {
                        Some(Ok(())) => "sent",
                        _ => "not sent",
                    }
                }
            })?;
        let (waited, released) = crate::blocking::block_on(futures::future::join(
            router.serve(request(Method::GET, "/wait")),
            router.serve(request(Method::GET, "/release")),
        ));
        assert_eq!(waited.body().as_slice(), b"released");
        assert_eq!(released.body().as_slice(), b"sent");
        // The second request finished first, through the same middleware.
        assert_eq!(*logged.lock().expect("unpoisoned"), ["/release", "/wait"]);
        Ok(())
    }
}
