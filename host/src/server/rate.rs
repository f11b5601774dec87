//! Rate limits per client, for every request and per route: token buckets in the server,
//! checked before any guest runs. A request that finds a bucket empty is answered `429` with
//! `Retry-After`; every answer of a limited route carries the `RateLimit-Policy` and
//! `RateLimit` fields of the IETF draft (draft-ietf-httpapi-ratelimit-headers):
//!
//! ```text
//! RateLimit-Policy: "client";q=100;w=60
//! RateLimit: "client";r=41;t=36
//! ```
//!
//! `q` requests per `w` seconds; `r` requests left now; `t` seconds until the bucket is
//! full again. A bucket holds `q` tokens and gains `q / w` a second: a client may burst to
//! `q` requests at once, then goes at the quota's rate.
//!
//! Clients are told apart by their address: an IPv4 address, or an IPv6 address's /64
//! network (one host usually holds a whole /64). The buckets kept are bounded
//! ([`MAX_BUCKETS`] per rule); past it, full buckets are dropped (they are as good as
//! new), and should none be full, the clients without a bucket of their own share one, so
//! that a flood of addresses cannot lift the limit or grow the host's memory.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::rate_shared::{SharedBuckets, Take};

/// Buckets one rule keeps at most.
pub const MAX_BUCKETS: usize = 65_536;

/// How many requests a client may make: `count` per `period`, a burst of `count` at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// Requests per period (and the largest burst).
    pub count: u32,
    /// The period.
    pub period: Duration,
}

impl Quota {
    /// Tokens gained per second.
    fn rate(&self) -> f64 {
        f64::from(self.count) / self.period.as_secs_f64()
    }
}

impl fmt::Display for Quota {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}",
            self.count,
            humantime::format_duration(self.period)
        )
    }
}

/// Why a quota did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a quota: expected COUNT/PERIOD, such as 100/s, 6000/min or 20/10s")]
pub struct InvalidQuota(String);

impl FromStr for Quota {
    type Err = InvalidQuota;

    /// `COUNT/PERIOD`: `100/s`, `6000/min`, `1000/h`, `20/10s` (a humantime duration).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = || InvalidQuota(s.to_owned());
        let (count, period) = s.split_once('/').ok_or_else(invalid)?;
        let count: u32 = count.trim().parse().map_err(|_| invalid())?;
        let period = period.trim();
        let period = match period {
            "s" | "sec" | "second" => Duration::from_secs(1),
            "m" | "min" | "minute" => Duration::from_secs(60),
            "h" | "hour" => Duration::from_secs(3600),
            "d" | "day" => Duration::from_secs(86_400),
            other => humantime::parse_duration(other).map_err(|_| invalid())?,
        };
        if count == 0 || period.is_zero() {
            return Err(invalid());
        }
        Ok(Self { count, period })
    }
}

/// A quota on the paths of one route, per client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteQuota {
    /// The route, in spin.toml's syntax: `/login` is that path, `/api/...` is `/api` and
    /// everything below it, `/...` every path.
    pub route: String,
    /// The quota for each client on it.
    pub quota: Quota,
}

impl RouteQuota {
    fn matches(&self, path: &str) -> bool {
        match self.route.strip_suffix("/...") {
            Some("") => true,
            Some(prefix) => {
                path == prefix
                    || path
                        .strip_prefix(prefix)
                        .is_some_and(|rest| rest.starts_with('/'))
            }
            None => path == self.route,
        }
    }
}

impl FromStr for RouteQuota {
    type Err = String;

    /// `ROUTE=QUOTA`: `/login=5/min`, `/api/...=100/s`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (route, quota) = s
            .split_once('=')
            .ok_or_else(|| format!("expected ROUTE=QUOTA, such as /api/...=100/s, got `{s}`"))?;
        if !route.starts_with('/') {
            return Err(format!("the route `{route}` must start with `/`"));
        }
        let quota = quota.parse().map_err(|e: InvalidQuota| e.to_string())?;
        Ok(Self {
            route: route.to_owned(),
            quota,
        })
    }
}

/// The rate limits of a server; none by default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RateLimits {
    /// Every request of a client counts against it.
    pub per_client: Option<Quota>,
    /// The requests of a client to a route count against the route's quota too (every
    /// rule whose route matches the path applies).
    pub routes: Vec<RouteQuota>,
    /// The Redis (`redis://host:port/db`) that keeps the buckets, shared by every server
    /// on it (replicas); `None`: in this process.
    pub redis: Option<String>,
}

impl RateLimits {
    /// Whether any limit is set.
    pub fn is_empty(&self) -> bool {
        self.per_client.is_none() && self.routes.is_empty()
    }
}

/// A client, as the buckets tell them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Client {
    V4([u8; 4]),
    /// The /64 network.
    V6([u8; 8]),
    /// Every client that found no room for a bucket of its own.
    Overflow,
}

impl Client {
    /// The client's part of a shared bucket's key.
    fn key(&self) -> String {
        match self {
            Self::V4(octets) => std::net::Ipv4Addr::from(*octets).to_string(),
            Self::V6(network) => network.iter().map(|b| format!("{b:02x}")).collect(),
            Self::Overflow => "overflow".to_owned(),
        }
    }

    fn of(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => Self::V4(v4.octets()),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Self::V4(v4.octets()),
                None => {
                    let octets = v6.octets();
                    let mut network = [0; 8];
                    network.copy_from_slice(&octets[..8]);
                    Self::V6(network)
                }
            },
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// One rule's buckets.
struct Rule {
    name: String,
    quota: Quota,
    route: Option<RouteQuota>,
    buckets: HashMap<Client, Bucket>,
    max_buckets: usize,
}

impl Rule {
    /// The bucket of `client` brought up to `now` (a new one is full).
    fn bucket(&mut self, client: Client, now: Instant) -> (Client, Bucket) {
        let capacity = f64::from(self.quota.count);
        let client = if self.buckets.contains_key(&client) || self.room(now) {
            client
        } else {
            Client::Overflow
        };
        let bucket = self.buckets.get(&client).map_or(
            Bucket {
                tokens: capacity,
                at: now,
            },
            |b| Bucket {
                tokens: (b.tokens
                    + now.saturating_duration_since(b.at).as_secs_f64() * self.quota.rate())
                .min(capacity),
                at: now,
            },
        );
        (client, bucket)
    }

    /// Whether a new bucket fits, once the full ones are dropped.
    fn room(&mut self, now: Instant) -> bool {
        if self.buckets.len() < self.max_buckets {
            return true;
        }
        let (capacity, rate) = (f64::from(self.quota.count), self.quota.rate());
        self.buckets.retain(|client, b| {
            *client == Client::Overflow
                || b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * rate < capacity
        });
        self.buckets.len() < self.max_buckets
    }

    fn policy(&self) -> String {
        format!(
            "\"{}\";q={};w={}",
            self.name,
            self.quota.count,
            self.quota.period.as_secs().max(1)
        )
    }

    /// `"name";r=..;t=..` for a bucket holding `tokens`.
    fn state(&self, tokens: f64) -> String {
        let missing = f64::from(self.quota.count) - tokens;
        let reset = (missing / self.quota.rate()).ceil().max(0.0);
        format!(
            "\"{}\";r={};t={}",
            self.name,
            tokens.floor().max(0.0),
            reset
        )
    }
}

/// The fields a limited answer carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RateFields {
    /// `RateLimit-Policy`.
    pub policy: String,
    /// `RateLimit`.
    pub state: String,
}

/// What a request that found a bucket empty is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Limited {
    /// Whole seconds until the request would pass.
    pub retry_after: u64,
    /// The rule that refused it.
    pub rule: String,
    pub fields: RateFields,
}

/// The server's buckets.
pub(crate) struct RateLimiter {
    rules: Mutex<Vec<Rule>>,
    /// The buckets in Redis instead, when the limits are shared.
    shared: Option<SharedBuckets>,
}

impl RateLimiter {
    /// `None` without limits: nothing to check. Shared limits connect to their Redis now.
    pub(crate) fn new(limits: &RateLimits) -> Result<Option<Self>, String> {
        let Some(mut limiter) = Self::with_capacity(limits, MAX_BUCKETS) else {
            return Ok(None);
        };
        if let Some(url) = &limits.redis {
            let shared = SharedBuckets::connect(url)
                .map_err(|e| format!("the rate limits' Redis ({url}): {e}"))?;
            limiter.shared = Some(shared);
        }
        Ok(Some(limiter))
    }

    fn with_capacity(limits: &RateLimits, max_buckets: usize) -> Option<Self> {
        if limits.is_empty() {
            return None;
        }
        let mut rules = Vec::new();
        if let Some(quota) = limits.per_client {
            rules.push(Rule {
                name: "client".to_owned(),
                quota,
                route: None,
                buckets: HashMap::new(),
                max_buckets,
            });
        }
        for route in &limits.routes {
            rules.push(Rule {
                name: format!("route {}", route.route.replace(['"', '\\'], "")),
                quota: route.quota,
                route: Some(route.clone()),
                buckets: HashMap::new(),
                max_buckets,
            });
        }
        Some(Self {
            rules: Mutex::new(rules),
            shared: None,
        })
    }

    /// Takes a token from every bucket of `ip` that applies to `path`, or none when one of
    /// them is empty. `Ok(None)` when no rule applies.
    pub(crate) async fn check(
        &self,
        ip: IpAddr,
        path: &str,
    ) -> Result<Option<RateFields>, Limited> {
        match &self.shared {
            None => self.check_at(ip, path, Instant::now()),
            Some(shared) => self.check_shared(shared, ip, path).await,
        }
    }

    /// [`Self::check`] on the buckets in Redis.
    async fn check_shared(
        &self,
        shared: &SharedBuckets,
        ip: IpAddr,
        path: &str,
    ) -> Result<Option<RateFields>, Limited> {
        let client = Client::of(ip).key();
        // What the script needs, and what the answer is made of, of the rules that apply.
        let applying: Vec<(String, String, Quota)> = {
            let rules = self.rules.lock().unwrap_or_else(|p| p.into_inner());
            rules
                .iter()
                .filter(|rule| rule.route.as_ref().is_none_or(|route| route.matches(path)))
                .map(|rule| (rule.name.clone(), rule.policy(), rule.quota))
                .collect()
        };
        if applying.is_empty() {
            return Ok(None);
        }
        let takes = applying
            .iter()
            .map(|(name, _, quota)| Take {
                key: format!("edge-host:rate:{name}:{client}"),
                capacity: f64::from(quota.count),
                rate: quota.rate(),
            })
            .collect();
        let Some((taken, tokens)) = shared.take(takes).await else {
            return Ok(None);
        };
        let state = |name: &str, quota: &Quota, tokens: f64| {
            let missing = f64::from(quota.count) - tokens;
            let reset = (missing / quota.rate()).ceil().max(0.0);
            format!("\"{name}\";r={};t={reset}", tokens.floor().max(0.0))
        };
        if !taken {
            let (i, left) = tokens
                .iter()
                .enumerate()
                .find(|(_, t)| **t < 1.0)
                .map_or((0, 0.0), |(i, t)| (i, *t));
            let (name, policy, quota) = &applying[i.min(applying.len() - 1)];
            let wait = (1.0 - left) / quota.rate();
            return Err(Limited {
                retry_after: wait.ceil().max(1.0) as u64,
                rule: name.clone(),
                fields: RateFields {
                    policy: policy.clone(),
                    state: state(name, quota, left),
                },
            });
        }
        let policies: Vec<_> = applying.iter().map(|(_, p, _)| p.clone()).collect();
        let states: Vec<_> = applying
            .iter()
            .zip(&tokens)
            .map(|((name, _, quota), t)| state(name, quota, *t))
            .collect();
        Ok(Some(RateFields {
            policy: policies.join(", "),
            state: states.join(", "),
        }))
    }

    fn check_at(
        &self,
        ip: IpAddr,
        path: &str,
        now: Instant,
    ) -> Result<Option<RateFields>, Limited> {
        let client = Client::of(ip);
        let mut rules = self.rules.lock().unwrap_or_else(|p| p.into_inner());
        let mut taken = Vec::new();
        for (i, rule) in rules.iter_mut().enumerate() {
            if rule
                .route
                .as_ref()
                .is_some_and(|route| !route.matches(path))
            {
                continue;
            }
            let (key, bucket) = rule.bucket(client, now);
            if bucket.tokens < 1.0 {
                let wait = (1.0 - bucket.tokens) / rule.quota.rate();
                // Remember the refill so far; nothing is taken.
                rule.buckets.insert(key, bucket);
                return Err(Limited {
                    retry_after: wait.ceil().max(1.0) as u64,
                    rule: rule.name.clone(),
                    fields: RateFields {
                        policy: rule.policy(),
                        state: rule.state(bucket.tokens),
                    },
                });
            }
            taken.push((i, key, bucket));
        }
        if taken.is_empty() {
            return Ok(None);
        }
        let (mut policies, mut states) = (Vec::new(), Vec::new());
        for (i, key, mut bucket) in taken {
            let rule = &mut rules[i];
            bucket.tokens -= 1.0;
            rule.buckets.insert(key, bucket);
            policies.push(rule.policy());
            states.push(rule.state(bucket.tokens));
        }
        Ok(Some(RateFields {
            policy: policies.join(", "),
            state: states.join(", "),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(per_client: Option<&str>, routes: &[&str], max_buckets: usize) -> RateLimiter {
        let limits = RateLimits {
            per_client: per_client.map(|q| q.parse().expect("a quota")),
            routes: routes.iter().map(|r| r.parse().expect("a rule")).collect(),
            redis: None,
        };
        RateLimiter::with_capacity(&limits, max_buckets).expect("limits")
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("an address")
    }

    #[test]
    fn quotas_parse() {
        let q = |s: &str| s.parse::<Quota>();
        assert_eq!(
            q("100/s"),
            Ok(Quota {
                count: 100,
                period: Duration::from_secs(1)
            })
        );
        assert_eq!(q("6000/min").map(|q| q.period), Ok(Duration::from_secs(60)));
        assert_eq!(q("20/10s").map(|q| q.period), Ok(Duration::from_secs(10)));
        assert_eq!(q("5/h").map(|q| q.count), Ok(5));
        for bad in ["100", "0/s", "x/s", "10/0s", "10/fortnight", "/s"] {
            assert!(q(bad).is_err(), "{bad}");
        }
        assert!("/api/...=10/s".parse::<RouteQuota>().is_ok());
        assert!("api=10/s".parse::<RouteQuota>().is_err());
        assert!("/api".parse::<RouteQuota>().is_err());
    }

    #[test]
    fn routes_match_as_spin_routes_do() {
        let rule = |r: &str| format!("{r}=1/s").parse::<RouteQuota>().expect("a rule");
        assert!(rule("/...").matches("/anything"));
        assert!(rule("/api/...").matches("/api"));
        assert!(rule("/api/...").matches("/api/users/1"));
        assert!(!rule("/api/...").matches("/apis"));
        assert!(rule("/login").matches("/login"));
        assert!(!rule("/login").matches("/login/x"));
    }

    #[test]
    fn a_burst_passes_then_the_bucket_refills_at_the_rate() {
        let limiter = limiter(Some("3/min"), &[], 16);
        let (client, t0) = (ip("192.0.2.1"), Instant::now());
        for left in [2, 1, 0] {
            let fields = limiter.check_at(client, "/", t0).expect("passes");
            let fields = fields.expect("limited route");
            assert_eq!(fields.policy, "\"client\";q=3;w=60");
            assert!(
                fields.state.starts_with(&format!("\"client\";r={left};")),
                "{}",
                fields.state
            );
        }
        let limited = limiter.check_at(client, "/", t0).expect_err("empty");
        assert_eq!(limited.retry_after, 20);
        assert_eq!(limited.fields.state, "\"client\";r=0;t=60");
        // One token back every 20 s.
        let later = t0 + Duration::from_secs(20);
        assert!(limiter.check_at(client, "/", later).is_ok());
        assert!(limiter.check_at(client, "/", later).is_err());
        // Another client has a bucket of its own.
        assert!(limiter.check_at(ip("192.0.2.2"), "/", t0).is_ok());
    }

    #[test]
    fn every_matching_rule_applies_and_a_refusal_takes_nothing() {
        let limiter = limiter(Some("10/min"), &["/login=1/min"], 16);
        let (client, t0) = (ip("192.0.2.1"), Instant::now());
        let fields = limiter
            .check_at(client, "/login", t0)
            .expect("passes")
            .expect("limited");
        assert_eq!(
            fields.policy,
            "\"client\";q=10;w=60, \"route /login\";q=1;w=60"
        );
        let limited = limiter.check_at(client, "/login", t0).expect_err("empty");
        assert_eq!(limited.rule, "route /login");
        // The refused request took no token from the client's bucket: 9 left.
        let fields = limiter
            .check_at(client, "/other", t0)
            .expect("passes")
            .expect("limited");
        assert!(
            fields.state.starts_with("\"client\";r=8;"),
            "{}",
            fields.state
        );
        // A route without a rule of its own and no per-client quota is not limited.
        let routes_only = self::limiter(None, &["/login=1/min"], 16);
        assert_eq!(routes_only.check_at(client, "/", t0), Ok(None));
    }

    #[test]
    fn an_ipv6_network_shares_a_bucket() {
        let limiter = limiter(Some("1/min"), &[], 16);
        let t0 = Instant::now();
        assert!(limiter.check_at(ip("2001:db8::1"), "/", t0).is_ok());
        assert!(limiter.check_at(ip("2001:db8::2"), "/", t0).is_err());
        assert!(limiter.check_at(ip("2001:db8:0:1::1"), "/", t0).is_ok());
        // An IPv4-mapped address is its IPv4 client.
        assert!(limiter.check_at(ip("192.0.2.9"), "/", t0).is_ok());
        assert!(limiter.check_at(ip("::ffff:192.0.2.9"), "/", t0).is_err());
    }

    #[test]
    fn a_flood_of_addresses_shares_one_bucket_and_memory_stays_bounded() {
        let limiter = limiter(Some("2/min"), &[], 4);
        let t0 = Instant::now();
        for i in 0..4 {
            let client = ip(&format!("198.51.100.{i}"));
            assert!(limiter.check_at(client, "/", t0).is_ok());
        }
        // No room and no full bucket: the newcomers share the overflow bucket.
        assert!(limiter.check_at(ip("203.0.113.1"), "/", t0).is_ok());
        assert!(limiter.check_at(ip("203.0.113.2"), "/", t0).is_ok());
        assert!(limiter.check_at(ip("203.0.113.3"), "/", t0).is_err());
        let held = limiter.rules.lock().expect("not poisoned")[0].buckets.len();
        assert_eq!(held, 5, "four clients and the overflow");
        // Once the old buckets are full again, they make room for new clients.
        let later = t0 + Duration::from_secs(60);
        assert!(limiter.check_at(ip("203.0.113.4"), "/", later).is_ok());
        assert!(limiter.check_at(ip("203.0.113.4"), "/", later).is_ok());
        assert!(limiter.check_at(ip("203.0.113.4"), "/", later).is_err());
    }
}
