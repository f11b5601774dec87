//! Spin's HTTP route patterns, and a router that picks the most specific one for a path.
//!
//! A route is exact (`/`, `/hello`), ends in a wildcard `/...` that matches the prefix and
//! everything below it, and may name segments with `:name` (`/users/:id`). An exact route beats
//! any wildcard; between two candidates of the same kind, the one with more literal segments
//! wins, then the one with more segments, then the one whose first differing segment is a
//! literal rather than a `:name`.
//!
//! ```
//! use host::spin::routes::{RoutePattern, Router};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let router = Router::new([
//!     ("/...".parse::<RoutePattern>()?, "fallback"),
//!     ("/api/...".parse()?, "api"),
//!     ("/api/users/:id".parse()?, "user"),
//! ])?;
//!
//! let hit = router.route("/api/users/42").ok_or("no route")?;
//! assert_eq!(*hit.target, "user");
//! assert_eq!(hit.params, [("id".to_owned(), "42".to_owned())]);
//!
//! let hit = router.route("/api/orders/7").ok_or("no route")?;
//! assert_eq!((*hit.target, hit.path_info.as_str()), ("api", "/orders/7"));
//! assert_eq!(hit.pattern.component_route(), "/api");
//! # Ok(())
//! # }
//! ```

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

/// One parsed route, normalised (a trailing slash is dropped: `/foo/` is `/foo`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RoutePattern {
    /// The normalised text, e.g. `/api/...` or `/users/:id`.
    text: String,
    segments: Vec<Segment>,
    wildcard: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Segment {
    Literal(String),
    Param(String),
}

impl Segment {
    fn is_literal(&self) -> bool {
        matches!(self, Self::Literal(_))
    }
}

/// A route that is not a valid Spin route pattern.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid route `{route}`: {reason}")]
pub struct InvalidRoute {
    route: String,
    reason: String,
}

impl InvalidRoute {
    /// The route as written.
    pub fn route(&self) -> &str {
        &self.route
    }

    /// Why it is invalid.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl FromStr for RoutePattern {
    type Err = InvalidRoute;

    fn from_str(route: &str) -> Result<Self, Self::Err> {
        let invalid = |reason: String| InvalidRoute {
            route: route.to_owned(),
            reason,
        };
        let Some(rest) = route.strip_prefix('/') else {
            return Err(invalid("a route must start with `/`".to_owned()));
        };
        if let Some(c) = route.chars().find(|c| matches!(c, '?' | '#')) {
            return Err(invalid(format!(
                "a route cannot contain `{c}` (routes match the path only)"
            )));
        }
        if route.chars().any(char::is_whitespace) {
            return Err(invalid("a route cannot contain whitespace".to_owned()));
        }
        // Spin drops one trailing slash: `/foo/` is `/foo`, `/` has no segments.
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let parts: Vec<&str> = if rest.is_empty() {
            Vec::new()
        } else {
            rest.split('/').collect()
        };
        let mut segments = Vec::with_capacity(parts.len());
        let mut wildcard = false;
        for (i, part) in parts.iter().enumerate() {
            let last = i + 1 == parts.len();
            match *part {
                "" => {
                    return Err(invalid(
                        "a route cannot contain an empty segment (`//`)".into(),
                    ));
                }
                "..." if last => wildcard = true,
                "..." => {
                    return Err(invalid(
                        "`...` may only be the last segment, as in /api/...".to_owned(),
                    ));
                }
                p if p.ends_with("...") => {
                    let before: String = parts[..i].iter().map(|p| format!("/{p}")).collect();
                    let stem = &p[..p.len() - 3];
                    return Err(invalid(format!(
                        "`...` must be a whole segment: write `{before}/{stem}/...`"
                    )));
                }
                "*" => {
                    return Err(invalid(
                        "`*` is not a wildcard here: end the route with `/...`".to_owned(),
                    ));
                }
                p => match p.strip_prefix(':') {
                    Some("") => {
                        return Err(invalid(
                            "a `:` segment needs a name, as in /users/:id".to_owned(),
                        ));
                    }
                    Some(name) => {
                        if !name
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                        {
                            return Err(invalid(format!(
                                "`:{name}` is not a parameter name (letters, digits, `_` and `-` only)"
                            )));
                        }
                        if segments
                            .iter()
                            .any(|s| matches!(s, Segment::Param(n) if n == name))
                        {
                            return Err(invalid(format!("the parameter `:{name}` appears twice")));
                        }
                        segments.push(Segment::Param(name.to_owned()));
                    }
                    None => segments.push(Segment::Literal(p.to_owned())),
                },
            }
        }
        let mut text = String::new();
        for segment in &segments {
            text.push('/');
            match segment {
                Segment::Literal(l) => text.push_str(l),
                Segment::Param(p) => {
                    text.push(':');
                    text.push_str(p);
                }
            }
        }
        if wildcard {
            text.push_str("/...");
        } else if text.is_empty() {
            text.push('/');
        }
        Ok(Self {
            text,
            segments,
            wildcard,
        })
    }
}

impl fmt::Display for RoutePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl RoutePattern {
    /// The route as written, normalised: `/api/...`, `/users/:id`, `/` (never a trailing slash
    /// except for `/` itself).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The route without its trailing `/...`, as Spin reports it to components: `/api/...`
    /// gives `/api`, `/...` gives the empty string, an exact route is itself.
    pub fn component_route(&self) -> &str {
        self.text.strip_suffix("/...").unwrap_or(&self.text)
    }

    /// Whether the route ends in `/...`.
    pub fn is_wildcard(&self) -> bool {
        self.wildcard
    }

    /// Whether `self` and `other` are the same route, so that no path could tell them apart:
    /// equal after normalisation, ignoring the names of `:name` segments
    /// (`/users/:id` and `/users/:name/` are the same route).
    pub fn same_route(&self, other: &Self) -> bool {
        self.wildcard == other.wildcard
            && self.segments.len() == other.segments.len()
            && self
                .segments
                .iter()
                .zip(&other.segments)
                .all(|pair| match pair {
                    (Segment::Literal(a), Segment::Literal(b)) => a == b,
                    (Segment::Param(_), Segment::Param(_)) => true,
                    _ => false,
                })
    }

    /// This route below `base` (a route such as `/` or `/api`, which must not be a wildcard):
    /// `/users` under `/api` is `/api/users`, `/...` under `/api` is `/api/...`.
    pub fn under(&self, base: &RoutePattern) -> Result<RoutePattern, InvalidRoute> {
        if base.wildcard {
            return Err(InvalidRoute {
                route: base.text.clone(),
                reason: "a base route cannot end in `/...`".to_owned(),
            });
        }
        if base.segments.is_empty() {
            return Ok(self.clone());
        }
        format!("{}{}", base.text, self.text).parse()
    }

    /// How this pattern ranks against another one that matches the same path: `Greater` means
    /// `self` is preferred. As Spin's router ranks them: segment by segment, the first
    /// difference decides, a literal beating a `:param`, which beats a route that ends there,
    /// which beats a trailing `/...`.
    fn priority(&self, other: &Self) -> Ordering {
        let rank = |p: &Self, i: usize| match p.segments.get(i) {
            Some(segment) if segment.is_literal() => 3,
            Some(_) => 2,
            None if p.wildcard => 0,
            None => 1,
        };
        let len = self.segments.len().max(other.segments.len()) + 1;
        (0..len)
            .map(|i| rank(self, i).cmp(&rank(other, i)))
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    }

    /// Matches `path` (already without query), returning `path_info` and the parameters.
    fn matches(&self, path: &str) -> Option<(String, Vec<(String, String)>)> {
        let rest = path.strip_prefix('/')?;
        let trimmed = rest.strip_suffix('/').unwrap_or(rest);
        let parts: Vec<&str> = if trimmed.is_empty() {
            Vec::new()
        } else {
            trimmed.split('/').collect()
        };
        let n = self.segments.len();
        if parts.len() < n || (!self.wildcard && parts.len() != n) {
            return None;
        }
        let mut params = Vec::new();
        for (segment, part) in self.segments.iter().zip(&parts) {
            match segment {
                Segment::Literal(l) if l == part => {}
                Segment::Param(name) if !part.is_empty() => {
                    params.push((name.clone(), (*part).to_owned()));
                }
                _ => return None,
            }
        }
        let path_info = if self.wildcard {
            // The matched prefix is `/` + the first n parts joined by `/`.
            let prefix_len = if n == 0 {
                0
            } else {
                n + parts[..n].iter().map(|p| p.len()).sum::<usize>()
            };
            path.get(prefix_len..).unwrap_or_default().to_owned()
        } else {
            String::new()
        };
        Some((path_info, params))
    }
}

/// Two routes given to [`Router::new`] that are the same route (see
/// [`RoutePattern::same_route`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "duplicate route `{route}`: routes #{first} (`{first_route}`) and #{second} (`{second_route}`) are the same"
)]
pub struct DuplicateRoute {
    /// The route, normalised.
    pub route: String,
    /// The index of the first of the two, in the order given.
    pub first: usize,
    /// That route as given (normalised).
    pub first_route: String,
    /// The index of the second of the two.
    pub second: usize,
    /// That route as given (normalised).
    pub second_route: String,
}

/// Routes paths to targets (component ids, handlers...), as Spin does.
#[derive(Debug, Clone)]
pub struct Router<T> {
    /// Most preferred first.
    routes: Vec<(RoutePattern, T)>,
}

/// The route chosen for a path.
#[derive(Debug)]
pub struct RouteMatch<'a, T> {
    /// What the route leads to.
    pub target: &'a T,
    /// The route that matched.
    pub pattern: &'a RoutePattern,
    /// For a wildcard route, the rest of the path after the matched prefix (`/users/1` for
    /// `/api/users/1` under `/api/...`, empty for `/api`); empty for an exact route.
    pub path_info: String,
    /// The `:name` segments and their values, in route order; not percent-decoded.
    pub params: Vec<(String, String)>,
}

impl<T> Router<T> {
    /// A router over `routes`. Two routes that are the same route are an error.
    pub fn new(
        routes: impl IntoIterator<Item = (RoutePattern, T)>,
    ) -> Result<Self, DuplicateRoute> {
        let routes: Vec<(RoutePattern, T)> = routes.into_iter().collect();
        for (second, (pattern, _)) in routes.iter().enumerate() {
            if let Some(first) = routes[..second]
                .iter()
                .position(|(earlier, _)| earlier.same_route(pattern))
            {
                return Err(DuplicateRoute {
                    route: pattern.text.clone(),
                    first,
                    first_route: routes[first].0.text.clone(),
                    second,
                    second_route: pattern.text.clone(),
                });
            }
        }
        let mut routes = routes;
        // Stable: routes of equal priority (which can never match the same path) keep their order.
        routes.sort_by(|(a, _), (b, _)| b.priority(a));
        Ok(Self { routes })
    }

    /// The most specific route for `path` (a request path starting with `/`; a query, if any,
    /// is ignored), or `None` when no route matches. Percent-encoding is not decoded.
    pub fn route(&self, path: &str) -> Option<RouteMatch<'_, T>> {
        let path = path.split_once('?').map_or(path, |(p, _)| p);
        let path = if path.is_empty() { "/" } else { path };
        self.routes.iter().find_map(|(pattern, target)| {
            pattern.matches(path).map(|(path_info, params)| RouteMatch {
                target,
                pattern,
                path_info,
                params,
            })
        })
    }

    /// The routes and their targets, most specific first (the order they are tried in).
    pub fn entries(&self) -> impl Iterator<Item = (&RoutePattern, &T)> {
        self.routes.iter().map(|(p, t)| (p, t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(s: &str) -> RoutePattern {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn router(routes: &[&'static str]) -> Router<&'static str> {
        Router::new(routes.iter().map(|r| (pattern(r), *r))).expect("no duplicates")
    }

    /// The route chosen for `path`, with path_info.
    fn hit(router: &Router<&'static str>, path: &str) -> Option<(&'static str, String)> {
        router.route(path).map(|m| (*m.target, m.path_info))
    }

    #[test]
    fn parses_and_normalises() {
        for (written, normal, component_route, wildcard) in [
            ("/", "/", "/", false),
            ("/hello", "/hello", "/hello", false),
            ("/hello/", "/hello", "/hello", false),
            ("/api/v1/users", "/api/v1/users", "/api/v1/users", false),
            ("/...", "/...", "", true),
            ("/api/...", "/api/...", "/api", true),
            ("/api/.../", "/api/...", "/api", true),
            ("/users/:id", "/users/:id", "/users/:id", false),
            ("/users/:id/...", "/users/:id/...", "/users/:id", true),
            ("/a:b/x...y", "/a:b/x...y", "/a:b/x...y", false),
        ] {
            let p = pattern(written);
            assert_eq!(p.as_str(), normal, "{written}");
            assert_eq!(p.to_string(), normal, "{written}");
            assert_eq!(p.component_route(), component_route, "{written}");
            assert_eq!(p.is_wildcard(), wildcard, "{written}");
        }
        assert_eq!(pattern("/foo/"), pattern("/foo"));
    }

    #[test]
    fn malformed_routes_are_rejected_with_a_reason() {
        for (bad, reason) in [
            ("", "must start with `/`"),
            ("hello", "must start with `/`"),
            ("/.../more", "`...` may only be the last segment"),
            ("/api...", "`...` must be a whole segment: write `/api/...`"),
            (
                "/v1/api...",
                "`...` must be a whole segment: write `/v1/api/...`",
            ),
            ("/users/:", "needs a name"),
            ("/users/:id/:id", "appears twice"),
            ("/users/:i.d", "not a parameter name"),
            ("/a//b", "empty segment"),
            ("//a", "empty segment"),
            ("/api/*", "end the route with `/...`"),
            ("/a?b=c", "cannot contain `?`"),
            ("/a#b", "cannot contain `#`"),
            ("/a b", "whitespace"),
        ] {
            let err = bad.parse::<RoutePattern>().expect_err(bad);
            assert_eq!(err.route(), bad);
            assert!(err.reason().contains(reason), "{bad}: {err}");
            assert!(
                err.to_string()
                    .starts_with(&format!("invalid route `{bad}`: ")),
                "{err}"
            );
        }
    }

    #[test]
    fn exact_routes_match_only_their_path() {
        let r = router(&["/", "/hello", "/api/v1/users"]);
        assert_eq!(hit(&r, "/"), Some(("/", String::new())));
        assert_eq!(hit(&r, ""), Some(("/", String::new())));
        assert_eq!(hit(&r, "/hello"), Some(("/hello", String::new())));
        assert_eq!(hit(&r, "/hello/"), Some(("/hello", String::new())));
        assert_eq!(hit(&r, "/hello?x=1"), Some(("/hello", String::new())));
        assert_eq!(
            hit(&r, "/api/v1/users"),
            Some(("/api/v1/users", String::new()))
        );
        assert_eq!(hit(&r, "/hello/there"), None);
        assert_eq!(hit(&r, "/hell"), None);
        assert_eq!(hit(&r, "/api/v1"), None);
        assert_eq!(hit(&r, "/HELLO"), None);
    }

    #[test]
    fn wildcards_match_their_prefix_and_below_with_path_info() {
        let r = router(&["/api/..."]);
        assert_eq!(hit(&r, "/api"), Some(("/api/...", String::new())));
        assert_eq!(hit(&r, "/api/"), Some(("/api/...", "/".to_owned())));
        assert_eq!(
            hit(&r, "/api/users/1"),
            Some(("/api/...", "/users/1".to_owned()))
        );
        assert_eq!(
            hit(&r, "/api/users/"),
            Some(("/api/...", "/users/".to_owned()))
        );
        assert_eq!(hit(&r, "/api/a?q=1"), Some(("/api/...", "/a".to_owned())));
        assert_eq!(hit(&r, "/apis"), None);
        assert_eq!(hit(&r, "/"), None);

        let all = router(&["/..."]);
        assert_eq!(hit(&all, "/"), Some(("/...", "/".to_owned())));
        assert_eq!(hit(&all, "/foo/bar"), Some(("/...", "/foo/bar".to_owned())));
    }

    #[test]
    fn percent_encoding_is_not_decoded() {
        let r = router(&["/a%20b/...", "/files/:name"]);
        assert_eq!(
            hit(&r, "/a%20b/x%2Fy"),
            Some(("/a%20b/...", "/x%2Fy".to_owned()))
        );
        let m = r.route("/files/x%2Fy").expect("match");
        assert_eq!(m.params, [("name".to_owned(), "x%2Fy".to_owned())]);
    }

    #[test]
    fn exact_beats_any_wildcard() {
        let r = router(&["/...", "/api/users/...", "/api/users", "/"]);
        assert_eq!(hit(&r, "/api/users"), Some(("/api/users", String::new())));
        assert_eq!(hit(&r, "/"), Some(("/", String::new())));
        assert_eq!(
            hit(&r, "/api/users/1"),
            Some(("/api/users/...", "/1".to_owned()))
        );
        assert_eq!(hit(&r, "/other"), Some(("/...", "/other".to_owned())));
        // Segment by segment: the literal `users` beats `:thing`, even in a wildcard route.
        let r = router(&["/api/users/...", "/api/:thing"]);
        assert_eq!(
            hit(&r, "/api/users"),
            Some(("/api/users/...", String::new()))
        );
        assert_eq!(hit(&r, "/api/other"), Some(("/api/:thing", String::new())));
    }

    #[test]
    fn more_literal_segments_win() {
        // Written in the "wrong" order on purpose: the order of the routes does not matter.
        let r = router(&["/...", "/one/...", "/one/two/...", "/one/two/three/..."]);
        assert_eq!(
            hit(&r, "/one/two/three/four"),
            Some(("/one/two/three/...", "/four".to_owned()))
        );
        assert_eq!(
            hit(&r, "/one/two/x"),
            Some(("/one/two/...", "/x".to_owned()))
        );
        assert_eq!(hit(&r, "/one"), Some(("/one/...", String::new())));
        let r = router(&["/one/two/three/...", "/one/two/...", "/one/..."]);
        assert_eq!(
            hit(&r, "/one/two/three/four"),
            Some(("/one/two/three/...", "/four".to_owned()))
        );
        // Two literals beat one literal and two parameters.
        let r = router(&["/a/:x/:y/...", "/a/b/..."]);
        assert_eq!(hit(&r, "/a/b/c/d"), Some(("/a/b/...", "/c/d".to_owned())));
    }

    #[test]
    fn then_more_segments_win() {
        let r = router(&["/a/...", "/a/:x/..."]);
        assert_eq!(hit(&r, "/a/b/c"), Some(("/a/:x/...", "/c".to_owned())));
        assert_eq!(hit(&r, "/a"), Some(("/a/...", String::new())));
    }

    #[test]
    fn then_a_literal_beats_a_parameter_at_the_first_difference() {
        let r = router(&["/:x/b/...", "/a/:y/..."]);
        assert_eq!(hit(&r, "/a/b/c"), Some(("/a/:y/...", "/c".to_owned())));
        assert_eq!(hit(&r, "/z/b/c"), Some(("/:x/b/...", "/c".to_owned())));
        let r = router(&["/users/:id", "/users/me"]);
        assert_eq!(hit(&r, "/users/me"), Some(("/users/me", String::new())));
        assert_eq!(hit(&r, "/users/42"), Some(("/users/:id", String::new())));
    }

    #[test]
    fn parameters_are_captured_in_order_and_never_empty() {
        let r = router(&["/users/:id/posts/:post/..."]);
        let m = r.route("/users/7/posts/hello/comments").expect("match");
        assert_eq!(
            m.params,
            [
                ("id".to_owned(), "7".to_owned()),
                ("post".to_owned(), "hello".to_owned())
            ]
        );
        assert_eq!(m.path_info, "/comments");
        assert_eq!(m.pattern.as_str(), "/users/:id/posts/:post/...");
        assert!(r.route("/users//posts/x").is_none());
        assert!(r.route("/users/7").is_none());
    }

    #[test]
    fn duplicate_routes_are_an_error() {
        for (a, b) in [
            ("/foo", "/foo/"),
            ("/api/...", "/api/.../"),
            ("/users/:id", "/users/:name"),
            ("/", "/"),
        ] {
            let err = Router::new([(pattern("/other"), 0), (pattern(a), 1), (pattern(b), 2)])
                .expect_err(a);
            assert_eq!((err.first, err.second), (1, 2), "{a} {b}");
            assert_eq!(err.route, pattern(b).as_str());
            assert!(err.to_string().starts_with("duplicate route `"), "{err}");
        }
        // A wildcard and the exact route of its prefix are different routes.
        assert!(Router::new([(pattern("/api"), 0), (pattern("/api/..."), 1)]).is_ok());
    }

    #[test]
    fn routes_can_be_put_under_a_base() {
        let base = pattern("/base/");
        assert_eq!(
            pattern("/...").under(&base).map(|p| p.text),
            Ok("/base/...".to_owned())
        );
        assert_eq!(
            pattern("/").under(&base).map(|p| p.text),
            Ok("/base".to_owned())
        );
        assert_eq!(
            pattern("/a/:x").under(&base).map(|p| p.text),
            Ok("/base/a/:x".to_owned())
        );
        assert_eq!(
            pattern("/a").under(&pattern("/")).map(|p| p.text),
            Ok("/a".to_owned())
        );
        assert!(pattern("/a").under(&pattern("/b/...")).is_err());
    }
}
