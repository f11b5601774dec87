//! `edge-host`: serve a wasi:http component, or run a Spin application from its spin.toml.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use host::{
    App, BreakerConfig, ConcurrentReuse, GuestLimits, OutboundConfig, PlatformConfig,
    RuntimeConfig, Server, ServerConfig, ServerLimits, TlsConfig, Variable,
};

#[derive(Debug, Parser)]
#[command(
    name = "edge-host",
    version,
    about = "Serve wasi:http components (WASI 0.2 and 0.3), run Spin applications, build and start handlers"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve one component for every path on one listener.
    Serve(Box<ServeArgs>),
    /// Run a Spin application from its manifest (spin.toml): every routed component on one
    /// listener, with its key-value stores, variables and outbound hosts.
    Up(Box<UpArgs>),
    /// Build a Spin application's components: each `[component.<id>.build]` command, run as
    /// `spin build` runs it, with the wasm32-wasip2 toolchain this machine has.
    Build(BuildArgs),
    /// Start a handler project: a crate using the edge toolkit, its spin.toml, a README and
    /// a test that drives the component through edge-host's harness.
    New(NewArgs),
}

#[derive(Debug, clap::Args)]
struct NewArgs {
    /// The project's name (`my-handler`): package, application and component id.
    name: String,

    /// Where to create it [default: ./NAME]; must not exist, or be empty.
    #[arg(long, value_name = "DIR")]
    path: Option<PathBuf>,

    /// The edge toolkit's crate directory [default: the sources edge-host was built from].
    #[arg(long, value_name = "DIR")]
    toolkit: Option<PathBuf>,

    /// The host crate's directory, for the test harness [default: the sources edge-host was
    /// built from].
    #[arg(long, value_name = "DIR")]
    host: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
struct BuildArgs {
    /// The application manifest.
    #[arg(
        short = 'f',
        long = "from",
        value_name = "SPIN_TOML",
        default_value = "spin.toml"
    )]
    manifest: PathBuf,
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// The component (.wasm) exporting wasi:http/incoming-handler@0.2.
    component: PathBuf,

    /// An environment variable for the guest, KEY=VALUE (repeatable). The host's own
    /// environment is not passed on.
    #[arg(long = "env", value_name = "KEY=VALUE", value_parser = parse_env)]
    env: Vec<(String, String)>,

    /// A host directory the guest may read (never write), at GUEST (repeatable):
    /// `--dir static::/static`. Without `::GUEST` the guest sees it at the same path
    /// (`/static` for a relative `static`). The guest sees nothing else of the host.
    #[arg(long = "dir", value_name = "HOST[::GUEST]", value_parser = parse_dir)]
    dirs: Vec<host::GuestDir>,

    /// A destination guests may send HTTP requests to, in spin.toml's syntax
    /// (`https://api.example.com`, `http://localhost:8080`, `https://*.example.com`,
    /// `*://host:*`); repeatable. Without it, all outbound HTTP is refused.
    #[arg(long = "allow-outbound", value_name = "SCHEME://HOST[:PORT]")]
    allow_outbound: Vec<host::OutboundRule>,

    /// A variable the guest reads through the Spin variables interface, NAME=VALUE
    /// (repeatable).
    #[arg(long = "variable", value_name = "NAME=VALUE", value_parser = parse_env)]
    variables: Vec<(String, String)>,

    #[command(flatten)]
    host: HostArgs,
}

#[derive(Debug, clap::Args)]
struct UpArgs {
    /// The application manifest.
    #[arg(
        short = 'f',
        long = "from",
        value_name = "SPIN_TOML",
        default_value = "spin.toml"
    )]
    manifest: PathBuf,

    /// An environment variable for every component, KEY=VALUE (repeatable), added to the
    /// manifest's `environment`.
    #[arg(short = 'e', long = "env", value_name = "KEY=VALUE", value_parser = parse_env)]
    env: Vec<(String, String)>,

    /// Sets an application variable, NAME=VALUE (repeatable); wins over `SPIN_VARIABLE_<NAME>`
    /// and the manifest's default.
    #[arg(long = "variable", value_name = "NAME=VALUE", value_parser = parse_env)]
    variables: Vec<(String, String)>,

    /// Where the key-value database lives [default: .spin beside the manifest].
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,

    /// Spin's runtime config file: key-value stores in Redis or SQLite files of their own,
    /// SQLite databases at a path, variables from `env` and `static` providers.
    #[arg(long, value_name = "TOML")]
    runtime_config_file: Option<PathBuf>,

    /// Build the components first, as `edge-host build` does.
    #[arg(long)]
    build: bool,

    /// Build first, then build again and swap the components in whenever a file their
    /// `watch` patterns name (or the manifest) changes; requests in flight finish on the
    /// components they started on.
    #[arg(long)]
    watch: bool,

    /// How often --watch looks at the files.
    #[arg(long, default_value = "500ms", value_parser = positive_duration, requires = "watch")]
    watch_interval: Duration,

    #[command(flatten)]
    host: HostArgs,
}

/// Options of the listener and of every component, for `serve` and `up` alike.
#[derive(Debug, clap::Args)]
struct HostArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:3000")]
    listen: SocketAddr,

    /// TLS certificate chain (PEM, leaf first); needs --tls-key. Reloaded when it changes.
    #[arg(long, requires = "tls_key", conflicts_with = "tls_self_signed")]
    tls_cert: Option<PathBuf>,

    /// TLS private key (PEM: PKCS#8, PKCS#1 or SEC1); needs --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,

    /// Serve HTTPS with a certificate for localhost made at start-up; prints its SHA-256.
    #[arg(long)]
    tls_self_signed: bool,

    /// Largest linear memory per instance (bytes; K, M, G suffixes are binary units).
    #[arg(long, default_value = "128M", value_parser = parse_size)]
    max_memory: u64,

    /// Host resources (wasi:http fields, streams, requests...) an instance may hold at once;
    /// a guest asking for more traps (500).
    #[arg(long, default_value_t = 1024, value_parser = resource_count)]
    max_guest_resources: usize,

    /// Largest header or trailer set a guest may build (bytes; K, M suffixes).
    #[arg(long, default_value = "64K", value_parser = parse_size)]
    max_guest_fields: u64,

    /// Guest stdout and stderr logged per request (bytes; K, M suffixes); the rest is
    /// dropped and counted.
    #[arg(long, default_value = "1M", value_parser = parse_size)]
    max_guest_output: u64,

    /// wasi:sockets sockets an instance may hold at once (0 to 4096); one more is
    /// `new-socket-limit`. All guests together hold at most 4096.
    #[arg(long, default_value_t = 32, value_parser = socket_count)]
    max_guest_sockets: usize,

    /// Time a guest may run per request before it is stopped (504), e.g. 30s, 500ms.
    #[arg(long, default_value = "30s", value_parser = positive_duration)]
    deadline: Duration,

    /// Largest request body (413 above it).
    #[arg(long, default_value = "10M", value_parser = parse_size)]
    max_body: u64,

    /// Largest request header section (431 above it; HTTP/1.1 minimum 8K).
    #[arg(long, default_value = "16K", value_parser = parse_size)]
    max_header: u64,

    /// Time to send a request's headers; on HTTP/1.1 also the keep-alive idle timeout.
    #[arg(long, default_value = "10s", value_parser = positive_duration)]
    header_read_timeout: Duration,

    /// Close connections that have had no request in flight for this long.
    #[arg(long, default_value = "60s", value_parser = positive_duration)]
    idle_timeout: Duration,

    /// Close connections whose client takes no response bytes for this long.
    #[arg(long, default_value = "60s", value_parser = positive_duration)]
    send_timeout: Duration,

    /// Open connections at most; more wait in the listen backlog.
    #[arg(long, default_value_t = 1024, value_parser = positive_count)]
    max_connections: usize,

    /// Requests in flight at most; more are answered 503.
    #[arg(long, default_value_t = 256, value_parser = positive_count)]
    max_in_flight: usize,

    /// The slowest a request body may arrive, in bytes per second, once the header-read
    /// timeout's grace is used up; slower bodies get 408. 0 turns it off.
    #[arg(long, default_value_t = 1024)]
    min_body_rate: u64,

    /// Requests in flight from one client address at most; more are answered 429.
    #[arg(long, default_value_t = 64, value_parser = positive_count)]
    max_in_flight_per_client: usize,

    /// Requests one client (an IPv4 address, an IPv6 /64) may make, COUNT/PERIOD
    /// (`100/s`, `6000/min`, `20/10s`): bursts of COUNT, then COUNT per PERIOD. More are
    /// answered 429 with Retry-After; answers carry the RateLimit and RateLimit-Policy
    /// fields. Off by default.
    #[arg(long, value_name = "QUOTA")]
    rate_limit: Option<host::Quota>,

    /// Keep the rate limits' buckets in this Redis (`redis://host:port/db`), shared by every
    /// edge-host on it: replicas behind a load balancer hold one limit per client.
    #[arg(long, value_name = "URL")]
    rate_limit_redis: Option<String>,

    /// Where the admin listener listens: GET /metrics (OpenMetrics text for Prometheus),
    /// /healthz (liveness) and /readyz (503 once shutting down). Off by default; keep it
    /// off the public network (`127.0.0.1:9090`, or a pod's own port).
    #[arg(long, value_name = "ADDR")]
    admin_listen: Option<SocketAddr>,

    /// A quota per client on one route, ROUTE=QUOTA in spin.toml's route syntax
    /// (`/login=5/min`, `/api/...=100/s`), on top of --rate-limit; repeatable.
    #[arg(long = "rate-limit-route", value_name = "ROUTE=QUOTA")]
    rate_limit_routes: Vec<host::RouteQuota>,

    /// Concurrent streams per HTTP/2 connection.
    #[arg(long, default_value_t = 128)]
    h2_max_streams: u32,

    /// Guest instances alive at once (pooling allocator slots); more requests get 503.
    #[arg(long, default_value_t = 1000)]
    max_instances: u32,

    /// Let one instance serve up to N requests in turn (off: a fresh instance per request).
    /// Only for stateless components: state left in an instance is seen by later requests.
    #[arg(long, value_name = "N", default_value_t = 0)]
    instance_reuse: u32,

    /// WASI 0.3 components: requests one instance serves in all before it is retired
    /// (1: a fresh instance per request).
    #[arg(long, value_name = "N", default_value_t = 128, value_parser = positive_u32)]
    reuse_max_requests: u32,

    /// WASI 0.3 components: requests one instance serves at once.
    #[arg(long, value_name = "N", default_value_t = 16, value_parser = positive_u32)]
    reuse_max_concurrent: u32,

    /// WASI 0.3 components: how long an instance with nothing to do is kept.
    #[arg(long, default_value = "1s", value_parser = positive_duration)]
    reuse_idle_timeout: Duration,

    /// Do not pre-initialise: a component exporting `wizer-initialize` otherwise has it run
    /// once at load and every instance starts from the snapshot.
    #[arg(long)]
    no_preinit: bool,

    /// Longest wait for an outbound connection (a guest may ask for less): HTTP requests and
    /// `wasi:sockets` TCP connects.
    #[arg(long, default_value = "5s", value_parser = bounded_duration)]
    outbound_connect_timeout: Duration,

    /// Longest wait for an outbound response head (a guest may ask for less).
    #[arg(long, default_value = "30s", value_parser = bounded_duration)]
    outbound_first_byte_timeout: Duration,

    /// Outbound requests one instance may have in flight; more fail at once.
    #[arg(long, value_name = "N", default_value_t = 32, value_parser = positive_count)]
    outbound_max_per_instance: usize,

    /// Outbound requests a component's instances may have in flight together.
    #[arg(long, value_name = "N", default_value_t = 512, value_parser = positive_count)]
    outbound_max_total: usize,

    /// Consecutive failures (no connection, timeout, 5xx) after which an upstream's circuit
    /// opens and requests to it fail fast; 0 turns circuit breaking off.
    #[arg(long, value_name = "N", default_value_t = 5)]
    breaker_failures: u32,

    /// How long an open circuit fails fast before one probe request is let through.
    #[arg(long, default_value = "30s", value_parser = bounded_duration)]
    breaker_reset: Duration,

    /// Directory of the compiled-code cache [default: $XDG_CACHE_HOME/edge-host or
    /// ~/.cache/edge-host].
    #[arg(long, conflicts_with = "no_cache")]
    cache_dir: Option<PathBuf>,

    /// Compile the component at every start instead of using the code cache.
    #[arg(long)]
    no_cache: bool,

    /// Threads serving connections, each with its own single-threaded runtime (a connection
    /// and its guests stay on one thread); 0 serves them on one shared multi-threaded runtime
    /// [default: the number of CPUs].
    #[arg(long, value_name = "N", value_parser = worker_count)]
    workers: Option<usize>,

    /// Time in-flight requests get to finish after SIGINT/SIGTERM.
    #[arg(long, default_value = "5s", value_parser = bounded_duration)]
    shutdown_grace: Duration,
}

impl HostArgs {
    /// The runtime configuration every component starts from.
    fn runtime_config(&self) -> anyhow::Result<RuntimeConfig> {
        Ok(RuntimeConfig {
            limits: GuestLimits {
                max_memory_bytes: usize::try_from(self.max_memory)
                    .context("--max-memory is too large")?,
                deadline: self.deadline,
                max_resources: self.max_guest_resources,
                max_field_bytes: usize::try_from(self.max_guest_fields)
                    .context("--max-guest-fields is too large")?,
                max_output_bytes: usize::try_from(self.max_guest_output)
                    .context("--max-guest-output is too large")?,
                max_sockets: self.max_guest_sockets,
                ..GuestLimits::default()
            },
            cache_dir: if self.no_cache {
                None
            } else {
                self.cache_dir.clone().or_else(host::default_cache_dir)
            },
            max_instances: self.max_instances,
            instance_reuse: self.instance_reuse,
            concurrent_reuse: ConcurrentReuse {
                max_requests: self.reuse_max_requests,
                max_concurrent: self.reuse_max_concurrent,
                idle_timeout: self.reuse_idle_timeout,
            },
            preinitialize: !self.no_preinit,
            ..RuntimeConfig::default()
        })
    }

    /// Timeouts and circuit breaking of every component's outbound HTTP.
    fn outbound_config(&self) -> OutboundConfig {
        OutboundConfig {
            connect_timeout: self.outbound_connect_timeout,
            first_byte_timeout: self.outbound_first_byte_timeout,
            max_per_instance: self.outbound_max_per_instance,
            max_total: self.outbound_max_total,
            breaker: BreakerConfig {
                failure_threshold: self.breaker_failures,
                reset_timeout: self.breaker_reset,
            },
        }
    }

    fn server_config(&self) -> anyhow::Result<ServerConfig> {
        let tls = match (&self.tls_cert, &self.tls_key, self.tls_self_signed) {
            (Some(cert), Some(key), _) => Some(TlsConfig::Files {
                cert: cert.clone(),
                key: key.clone(),
            }),
            (_, _, true) => Some(TlsConfig::SelfSigned),
            _ => None,
        };
        Ok(ServerConfig {
            listen: self.listen,
            tls,
            limits: ServerLimits {
                max_body_bytes: self.max_body,
                max_header_bytes: usize::try_from(self.max_header)
                    .context("--max-header is too large")?,
                header_read_timeout: self.header_read_timeout,
                idle_timeout: self.idle_timeout,
                send_timeout: self.send_timeout,
                max_connections: self.max_connections,
                max_in_flight: self.max_in_flight,
                max_in_flight_per_client: self.max_in_flight_per_client,
                min_body_rate: self.min_body_rate,
                h2_max_concurrent_streams: self.h2_max_streams,
                ..ServerLimits::default()
            },
            shutdown_grace: self.shutdown_grace,
            admin_listen: self.admin_listen,
            // As Spin (and every OpenTelemetry SDK) reads them.
            otlp_endpoint: [
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "OTEL_EXPORTER_OTLP_ENDPOINT",
            ]
            .into_iter()
            .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty())),
            rate_limits: host::RateLimits {
                per_client: self.rate_limit,
                routes: self.rate_limit_routes.clone(),
                redis: self.rate_limit_redis.clone(),
            },
            workers: self.workers.unwrap_or_else(|| {
                std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
            }),
        })
    }
}

fn parse_dir(s: &str) -> Result<host::GuestDir, String> {
    let (host, guest) = match s.split_once("::") {
        Some((host, guest)) => (host, guest.to_owned()),
        None => (
            s,
            format!("/{}", s.trim_start_matches("./").trim_start_matches('/')),
        ),
    };
    if host.is_empty() {
        return Err(format!("expected HOST[::GUEST], got `{s}`"));
    }
    Ok(host::GuestDir::new(host, guest))
}

fn parse_env(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("expected KEY=VALUE, got `{s}`")),
    }
}

/// A count above zero (a limit of zero would serve nothing).
fn positive_count(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be at least 1".to_owned()),
        Ok(n) => Ok(n),
        Err(err) => Err(err.to_string()),
    }
}

/// Resources per instance: enough for one request's own (16) up to wasmtime's default.
fn resource_count(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n @ 16..=1_000_000) => Ok(n),
        Ok(_) => Err("must be from 16 to 1000000".to_owned()),
        Err(err) => Err(err.to_string()),
    }
}

fn socket_count(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n <= host::runtime::MAX_SOCKETS => Ok(n),
        Ok(_) => Err(format!("must be at most {}", host::runtime::MAX_SOCKETS)),
        Err(err) => Err(err.to_string()),
    }
}

/// A count from 1 to `u32::MAX`.
fn positive_u32(s: &str) -> Result<u32, String> {
    match s.parse::<u32>() {
        Ok(0) => Err("must be at least 1".to_owned()),
        Ok(n) => Ok(n),
        Err(err) => Err(err.to_string()),
    }
}

/// A number of worker threads: 0 (the shared runtime) to 1024.
fn worker_count(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n > host::MAX_WORKERS => Err(format!("must be at most {}", host::MAX_WORKERS)),
        Ok(n) => Ok(n),
        Err(err) => Err(err.to_string()),
    }
}

/// The longest duration a flag takes: a year. Longer ones are typing mistakes, and would
/// overflow the clock arithmetic of timers.
const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// A duration of at most [`MAX_DURATION`] (zero allowed: "no wait").
fn bounded_duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|err| err.to_string())?;
    if d > MAX_DURATION {
        return Err("must be at most 365d".to_owned());
    }
    Ok(d)
}

/// A duration above zero (a zero timeout would close every connection at once) and at most
/// [`MAX_DURATION`].
fn positive_duration(s: &str) -> Result<Duration, String> {
    match bounded_duration(s)? {
        d if d.is_zero() => Err("must be above zero".to_owned()),
        d => Ok(d),
    }
}

fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (digits, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, ""),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("`{s}` is not a size (examples: 4096, 64K, 128M, 1G)"))?;
    let factor = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "K" | "KB" | "KIB" => 1 << 10,
        "M" | "MB" | "MIB" => 1 << 20,
        "G" | "GB" | "GIB" => 1 << 30,
        other => return Err(format!("unknown size unit `{other}` (use K, M or G)")),
    };
    n.checked_mul(factor)
        .ok_or_else(|| format!("`{s}` is too large"))
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {},
                    _ = term.recv() => {},
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let runtime = RuntimeConfig {
        env: args.env,
        dirs: args.dirs,
        ..args.host.runtime_config()?
    };
    let platform = PlatformConfig {
        allowed_outbound: args.allow_outbound,
        outbound: args.host.outbound_config(),
        variables: args
            .variables
            .into_iter()
            // Which values are secret is not known here: none is ever logged.
            .map(|(name, value)| (name, Variable::secret(value)))
            .collect(),
        ..PlatformConfig::default()
    };
    let app = App::single(&args.component, runtime, platform)?;
    let server = Server::bind(args.host.server_config()?, app).await?;
    println!("Serving {} on {}", args.component.display(), server.url());
    if let Some(admin) = server.admin_addr() {
        println!("Admin (metrics, health) on http://{admin}");
    }
    run(server).await
}

fn new(args: NewArgs) -> anyhow::Result<()> {
    let (toolkit, host_crate) = host::new::default_sources();
    let dir = args.path.unwrap_or_else(|| PathBuf::from(&args.name));
    let project = host::new::NewProject {
        name: args.name,
        dir: dir.clone(),
        toolkit: args.toolkit.unwrap_or(toolkit),
        host: args.host.unwrap_or(host_crate),
    };
    let written = host::new::new_project(&project)?;
    println!("Created `{}` in {}:", project.name, dir.display());
    for file in written {
        println!("  {file}");
    }
    println!("Next:");
    println!("  cd {}", dir.display());
    println!("  edge-host up --build     # build it and serve it on http://127.0.0.1:3000");
    println!("  cargo test               # its tests, through edge-host's harness");
    Ok(())
}

/// Runs the manifest's build commands; `env` fills its variables' templates.
fn build(manifest: &std::path::Path, env: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<()> {
    let app = host::spin::manifest::load_unbuilt(manifest, env).map_err(host::UpError::Manifest)?;
    for built in host::build_app(&app, host::BuildOutput::Inherit)? {
        match built {
            host::Built::Built { component, source } => {
                println!("Built component `{component}`: {}", source.display());
            }
            host::Built::NoCommand { component } => {
                println!("Component `{component}` has no build command: nothing to build");
            }
        }
    }
    Ok(())
}

async fn up(args: UpArgs) -> anyhow::Result<()> {
    let overrides: HashMap<String, String> = args
        .variables
        .into_iter()
        .map(|(name, value)| {
            (
                format!("SPIN_VARIABLE_{}", name.to_ascii_uppercase()),
                value,
            )
        })
        .collect();
    let env = move |name: &str| {
        overrides
            .get(name)
            .cloned()
            .or_else(|| std::env::var(name).ok())
    };
    let runtime_config = args
        .runtime_config_file
        .as_deref()
        .map(host::spin::manifest::load_runtime_config)
        .transpose()?;
    let env = {
        let config = runtime_config.clone().unwrap_or_default();
        config.variables_env(env)
    };
    if args.build || args.watch {
        build(&args.manifest, &env)?;
    }
    let defaults = RuntimeConfig {
        env: args.env,
        ..args.host.runtime_config()?
    };
    let loaded = App::up(host::UpOptions {
        manifest: &args.manifest,
        env: &env,
        state_dir: args.state_dir,
        defaults: defaults.clone(),
        outbound: args.host.outbound_config(),
        runtime_config: runtime_config.as_ref(),
    })?;
    let (manifest, app) = (loaded.manifest, loaded.app);
    let mut server_config = args.host.server_config()?;
    // The runtime config's rate limits, under what the command line sets.
    if let Some(limits) = runtime_config.as_ref().and_then(|c| c.rate_limits.clone()) {
        let set = &mut server_config.rate_limits;
        set.per_client = set.per_client.or(limits.per_client);
        set.redis = set.redis.take().or(limits.redis);
        set.routes.extend(limits.routes);
    }
    let server = if args.watch {
        let reloadable = host::spin::watch::Reloadable::new(app.clone());
        let server = Server::bind(server_config, reloadable.clone()).await?;
        let watcher = host::spin::watch::Watcher {
            manifest: args.manifest.clone(),
            env: Box::new(env),
            defaults,
            outbound: args.host.outbound_config(),
            data: loaded.data,
            interval: args.watch_interval,
        };
        tokio::spawn(watcher.run(reloadable));
        server
    } else {
        Server::bind(server_config, app.clone()).await?
    };
    println!("Serving {} on {}", manifest.name, server.url());
    if let Some(admin) = server.admin_addr() {
        println!("Admin (metrics, health) on http://{admin}");
    }
    println!("Available Routes:");
    for (route, component) in app.routes() {
        match route.strip_suffix("/...") {
            Some(prefix) => println!("  {component}: {}{prefix} (wildcard)", server.url()),
            None => println!("  {component}: {}{route}", server.url()),
        }
    }
    run(server).await
}

async fn run(server: Server) -> anyhow::Result<()> {
    if let Some(fingerprint) = server.tls_fingerprint() {
        println!("TLS certificate SHA-256 fingerprint: {fingerprint}");
    }
    server.run_until(shutdown_signal()).await?;
    Ok(())
}

/// Every connection, outbound request, socket and database holds a file descriptor, and
/// the usual soft limit (1024) is far below what `--max-connections` and the outbound caps
/// allow: the soft limit is raised to the hard one (at most 2^20), as servers do at start.
#[cfg(unix)]
fn raise_open_file_limit() -> Option<u64> {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    const MOST: u64 = 1 << 20;
    let limit = getrlimit(Resource::Nofile);
    let wanted = limit.maximum.map_or(MOST, |hard| hard.min(MOST));
    if limit.current.is_some_and(|soft| soft >= wanted) {
        return limit.current;
    }
    let raised = Rlimit {
        current: Some(wanted),
        maximum: limit.maximum,
    };
    match setrlimit(Resource::Nofile, raised) {
        Ok(()) => {
            tracing::debug!(open_files = wanted, "open-file limit raised");
            Some(wanted)
        }
        Err(err) => {
            tracing::warn!(
                soft = ?limit.current,
                "cannot raise the open-file limit to {wanted}: {err}"
            );
            limit.current
        }
    }
}

/// mimalloc: per-thread free lists suit a server whose requests allocate and free on
/// whichever worker thread runs them.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Log lines (one or two per request) are written by a thread of their own, in batches,
    // so a request pays for formatting its line, not for a write to stderr. Not lossy: when
    // the buffer is full, logging waits. The guard flushes what is left at exit.
    let (log_writer, flush_on_exit) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .thread_name("edge-host-log")
        .finish(std::io::stderr());
    // Guest output (target `guest`) has a lane of its own that drops lines rather than
    // make a guest wait when stderr is slow; the host's own lines never drop.
    let (guest_writer, flush_guest_on_exit) =
        tracing_appender::non_blocking::NonBlockingBuilder::default()
            .lossy(true)
            .thread_name("edge-host-guest-log")
            .finish(std::io::stderr());
    let guest_lines_dropped = guest_writer.error_counter();
    {
        use tracing_subscriber::filter::filter_fn;
        use tracing_subscriber::layer::SubscriberExt as _;
        use tracing_subscriber::util::SubscriberInitExt as _;
        use tracing_subscriber::{EnvFilter, Layer as _, fmt};
        let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
        tracing_subscriber::registry()
            .with(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
            .with(
                fmt::layer()
                    .with_writer(log_writer)
                    .with_ansi(ansi)
                    .with_filter(filter_fn(|meta| meta.target() != "guest")),
            )
            .with(
                fmt::layer()
                    .with_writer(guest_writer)
                    .with_ansi(ansi)
                    .with_filter(filter_fn(|meta| meta.target() == "guest")),
            )
            .init();
    }
    #[cfg(unix)]
    raise_open_file_limit();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    // SIGHUP (`systemctl reload`, a closing terminal) never ends the process: it reloads TLS
    // certificate files where there are some (the server's own listener) and is noted.
    #[cfg(unix)]
    runtime.spawn(async {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut hangup) = signal(SignalKind::hangup()) {
            while hangup.recv().await.is_some() {
                tracing::info!("SIGHUP: TLS certificate files, if any, are reloaded");
            }
        }
    });
    // What the guest lane dropped is said, every 10 s at most, on the host's own lane.
    runtime.spawn(async move {
        let mut reported = 0;
        let mut every = tokio::time::interval(std::time::Duration::from_secs(10));
        loop {
            every.tick().await;
            let dropped = guest_lines_dropped.dropped_lines();
            if dropped > reported {
                tracing::warn!(
                    lines = dropped - reported,
                    "guest output lines dropped: the log sink is slower than the guests"
                );
                reported = dropped;
            }
        }
    });
    let result = match cli.command {
        Command::Serve(args) => runtime.block_on(serve(*args)),
        Command::Up(args) => runtime.block_on(up(*args)),
        Command::Build(args) => build(&args.manifest, &|name| std::env::var(name).ok()),
        Command::New(args) => new(args),
    };
    // What was logged comes out before the final error line.
    drop(flush_guest_on_exit);
    drop(flush_on_exit);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            match err.downcast_ref::<host::UpError>() {
                // Each problem with its line and column.
                Some(host::UpError::Manifest(manifest)) => eprintln!("error: {manifest:#}"),
                _ => eprintln!("error: {err:#}"),
            }
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn the_open_file_limit_is_raised_to_the_hard_one() {
        use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
        let before = getrlimit(Resource::Nofile);
        // Start from a low soft limit, as a default shell gives.
        setrlimit(
            Resource::Nofile,
            Rlimit {
                current: Some(256),
                maximum: before.maximum,
            },
        )
        .expect("lowering the soft limit is always allowed");
        let raised = raise_open_file_limit();
        let after = getrlimit(Resource::Nofile);
        assert_eq!(raised, after.current);
        let expected = before.maximum.map_or(1 << 20, |hard| hard.min(1 << 20));
        assert_eq!(after.current, Some(expected));
    }

    #[test]
    fn sizes_parse_with_binary_units() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("64K"), Ok(64 * 1024));
        assert_eq!(parse_size("128M"), Ok(128 << 20));
        assert_eq!(parse_size("1g"), Ok(1 << 30));
        assert!(parse_size("12Q").is_err());
        assert!(parse_size("M").is_err());
    }

    #[test]
    fn durations_are_bounded() {
        assert_eq!(positive_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(bounded_duration("0s"), Ok(Duration::ZERO));
        assert!(positive_duration("0s").is_err());
        assert_eq!(bounded_duration("365d"), Ok(MAX_DURATION));
        assert!(bounded_duration("366d").is_err());
        assert!(positive_duration("18446744073709551615s").is_err());
        assert!(bounded_duration("soon").is_err());
    }

    #[test]
    fn env_pairs_need_a_key() {
        assert_eq!(parse_env("A=b=c"), Ok(("A".to_owned(), "b=c".to_owned())));
        assert!(parse_env("=x").is_err());
        assert!(parse_env("novalue").is_err());
        let dir = parse_dir("site/dist::/static").expect("a dir");
        assert_eq!(
            (dir.host(), dir.guest()),
            (std::path::Path::new("site/dist"), "/static")
        );
        let dir = parse_dir("./static").expect("a dir");
        assert_eq!(
            (dir.host(), dir.guest()),
            (std::path::Path::new("./static"), "/static")
        );
        let dir = parse_dir("/srv/www").expect("a dir");
        assert_eq!(dir.guest(), "/srv/www");
        assert!(parse_dir("::/x").is_err());
    }

    #[test]
    fn cli_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
