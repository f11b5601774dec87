//! End-to-end tests: the guest components built by this package's build script, served by
//! the host over real sockets on 127.0.0.1:0. One test binary for the whole suite.

mod admin;
mod component;
mod deploy;
mod faults;
mod files;
mod h2_abuse;
mod harness;
mod limits;
mod outbound;
mod p3;
mod rate;
mod reuse;
mod runtime_config;
mod serving;
mod shared_engine;
mod smuggling;
mod spin_parity;
mod support;
mod tls;
mod toolkit;
mod tracing;
mod up;
mod watch;
