//! `up --runtime-config-file`: key-value stores in Redis (shared by replicas) or in SQLite
//! files of their own, SQLite databases at a path, variables from providers.

use std::path::PathBuf;

use host::spin::manifest::{RuntimeConfigFile, load_runtime_config};
use host::{KeyValue, OutboundConfig, RuntimeConfig, ServerConfig};

use crate::support::{RedisServer, TestServer, assert_problem, create_user, json, writer};
use crate::up::{AppDir, text};

/// Writes `toml` as the application's runtime-config.toml and reads it as `up` does.
fn runtime_config(dir: &AppDir, toml: &str) -> anyhow::Result<RuntimeConfigFile> {
    let path = dir.root.join("runtime-config.toml");
    std::fs::write(&path, toml)?;
    Ok(load_runtime_config(&path)?)
}

/// One replica: the application with its own state directory, on `config`.
async fn replica(
    dir: &AppDir,
    config: &RuntimeConfigFile,
    name: &str,
    env: &[(&str, &str)],
) -> anyhow::Result<TestServer> {
    let state: PathBuf = dir.root.join(format!(".spin-{name}"));
    let loaded = dir.load_configured(
        env,
        RuntimeConfig::default(),
        OutboundConfig::default(),
        Some(config),
        Some(state),
    )?;
    TestServer::serve(loaded.app, ServerConfig::default()).await
}

async fn two_replicas_on_one_redis_share_users_and_compare_and_swap(
    example: &str,
) -> anyhow::Result<()> {
    let redis = RedisServer::start().await?;
    let dir = AppDir::repository(example)?;
    let config = runtime_config(
        &dir,
        &format!(
            "[key_value_store.default]\ntype = \"redis\"\nurl = \"{}\"\n",
            redis.url
        ),
    )?;
    let a = replica(&dir, &config, "a", &[]).await?;
    let b = replica(&dir, &config, "b", &[]).await?;

    // Written through one, read through the other.
    let location = create_user(&a, "Ada Lovelace", "ada@example.org").await?;
    let read = b.get(&location).await?;
    assert_eq!(read.status(), 200, "{}", text(&read));
    assert_eq!(json(&read)?["name"], "Ada Lovelace");
    let etag = read.headers()["etag"].to_str()?.to_owned();
    let list = a.get("/api/v1/users").await?;
    assert!(text(&list).contains("Ada Lovelace"), "{}", text(&list));

    // Compare-and-swap holds across replicas: b updates with the current ETag, then a's
    // write with the same (now stale) ETag is refused.
    let auth = writer();
    let json_type = ("content-type", "application/json");
    let update = |name: &str| format!(r#"{{"name":"{name}","email":"ada@example.org"}}"#);
    let ok = b
        .call(
            "PUT",
            &location,
            &[json_type, ("authorization", &auth), ("if-match", &etag)],
            &update("Ada King"),
        )
        .await?;
    assert_eq!(ok.status(), 200, "{}", text(&ok));
    let lost = a
        .call(
            "PUT",
            &location,
            &[json_type, ("authorization", &auth), ("if-match", &etag)],
            &update("Ada Byron"),
        )
        .await?;
    assert_problem(&lost, 412)?;
    assert_eq!(json(&a.get(&location).await?)?["name"], "Ada King");

    // The data is in Redis, not in either replica's state directory.
    let store = KeyValue::in_memory()?.with_redis_store("default", &redis.url)?;
    let keys = store.keys("default")?;
    let id = location.rsplit('/').next().unwrap_or_default();
    assert!(keys.iter().any(|key| key.ends_with(id)), "{keys:?}");
    let local = KeyValue::open(&dir.root.join(".spin-a/sqlite_key_value.db"))?;
    assert!(local.keys("default")?.is_empty());
    Ok(())
}

crate::each_world!(two_replicas_on_one_redis_share_users_and_compare_and_swap);

#[tokio::test]
async fn the_redis_store_keeps_the_key_value_semantics() -> anyhow::Result<()> {
    let redis = RedisServer::start().await?;
    let kv = KeyValue::in_memory()?.with_redis_store("shared", &redis.url)?;
    assert_eq!(kv.get("shared", "a")?, None);
    kv.set("shared", "a", b"1")?;
    assert_eq!(kv.get("shared", "a")?, Some(b"1".to_vec()));
    assert!(kv.exists("shared", "a")?);
    // Compare-and-swap: only over the value read, and create-only when absent.
    assert!(!kv.compare_and_swap("shared", "a", Some(b"0"), b"2")?);
    assert!(kv.compare_and_swap("shared", "a", Some(b"1"), b"2")?);
    assert!(!kv.compare_and_swap("shared", "a", None, b"3")?);
    assert!(kv.compare_and_swap("shared", "new", None, b"x")?);
    assert_eq!(kv.get("shared", "a")?, Some(b"2".to_vec()));
    assert_eq!(kv.increment("shared", "n", 5)?, 5);
    assert_eq!(kv.increment("shared", "n", -2)?, 3);
    kv.set_many(
        "shared",
        &[
            ("b".to_owned(), b"B".to_vec()),
            ("c".to_owned(), b"C".to_vec()),
        ],
    )?;
    assert_eq!(
        kv.get_many("shared", vec!["b".into(), "zz".into(), "c".into()])?,
        [
            ("b".to_owned(), Some(b"B".to_vec())),
            ("zz".to_owned(), None),
            ("c".to_owned(), Some(b"C".to_vec())),
        ]
    );
    assert_eq!(kv.keys("shared")?, ["a", "b", "c", "n", "new"]);
    kv.delete_many("shared", &["b".to_owned(), "c".to_owned()])?;
    kv.delete("shared", "a")?;
    assert_eq!(kv.keys("shared")?, ["n", "new"]);
    // The limits hold as for SQLite, before anything reaches Redis.
    assert!(kv.set("shared", &"k".repeat(2000), b"v").is_err());
    // Other labels stay in the local database.
    kv.set("local", "a", b"here")?;
    assert_eq!(kv.keys("shared")?, ["n", "new"]);

    // A Redis that is not there stops the start, with its URL.
    drop(redis);
    let err = KeyValue::in_memory()?
        .with_redis_store("default", "redis://127.0.0.1:1/0")
        .expect_err("nothing listens on port 1");
    assert!(
        err.to_string().contains("Redis for store `default`"),
        "{err}"
    );
    Ok(())
}

#[tokio::test]
async fn stores_and_databases_live_where_the_runtime_config_says() -> anyhow::Result<()> {
    let dir = AppDir::fixtures(FIXTURES_APP)?;
    let config = runtime_config(
        &dir,
        "[key_value_store.default]\ntype = \"spin\"\npath = \"data/kv.db\"\n\n[sqlite_database.default]\ntype = \"spin\"\npath = \"data/app.db\"\n",
    )?;
    let token = [("SPIN_VARIABLE_TOKEN", "t")];
    let server = replica(&dir, &config, "s", &token).await?;
    let put = server
        .call("PUT", "/kv/default/colour", &[], "teal")
        .await?;
    assert_eq!(put.status(), 204, "{}", text(&put));
    let created = server
        .call("POST", "/sqlite/default", &[], "CREATE TABLE t (x TEXT)")
        .await?;
    assert_eq!(created.status(), 200, "{}", text(&created));
    let inserted = server
        .call(
            "POST",
            "/sqlite/default",
            &[],
            "INSERT INTO t VALUES (?)\nt:kept",
        )
        .await?;
    assert_eq!(inserted.status(), 200, "{}", text(&inserted));

    // In the files the config names, relative to it, and not in the state directory.
    let kv = KeyValue::open(&dir.root.join("data/kv.db"))?;
    assert_eq!(kv.get("default", "colour")?, Some(b"teal".to_vec()));
    // Another replica, with another state directory, finds the row in the configured file.
    assert!(dir.root.join("data/app.db").is_file());
    let other = replica(&dir, &config, "t", &token).await?;
    let selected = other
        .call("POST", "/sqlite/default", &[], "SELECT x FROM t")
        .await?;
    assert_eq!(selected.status(), 200, "{}", text(&selected));
    assert_eq!(text(&selected), "x\nkept\n");
    assert!(!dir.root.join(".spin-s/sqlite_db.db").exists());
    Ok(())
}

#[tokio::test]
async fn variables_come_from_the_providers_in_order() -> anyhow::Result<()> {
    let dir = AppDir::fixtures(FIXTURES_APP)?;
    std::fs::write(
        dir.root.join(".env"),
        "MYAPP_TOKEN=from-dotenv\nMYAPP_REGION=dotenv-region\n",
    )?;
    let config = runtime_config(
        &dir,
        "[[variables_provider]]\ntype = \"env\"\nprefix = \"MYAPP\"\ndotenv_path = \".env\"\n\n[[variables_provider]]\ntype = \"static\"\nvalues = { token = \"from-static\", region = \"static-region\", colour = \"static-colour\" }\n",
    )?;
    // The process environment first (SPIN_VARIABLE_*, then the env provider's prefix),
    // then the .env file, then the static table, then the manifest's default.
    let server = replica(&dir, &config, "v", &[("MYAPP_REGION", "env-region")]).await?;
    for (variable, expected) in [
        ("token", "from-dotenv"),
        ("region", "env-region"),
        ("colour", "static-colour"),
    ] {
        let res = server.get(&format!("/var/{variable}")).await?;
        assert_eq!(res.status(), 200, "{variable}: {}", text(&res));
        assert_eq!(text(&res), expected, "{variable}");
    }
    let server = replica(
        &dir,
        &config,
        "w",
        &[("SPIN_VARIABLE_COLOUR", "spin-colour")],
    )
    .await?;
    let res = server.get("/var/colour").await?;
    assert_eq!(text(&res), "spin-colour");
    Ok(())
}

/// The fixture component with a store, a database and three variables.
const FIXTURES_APP: &str = r#"spin_manifest_version = 2
[application]
name = "configured"

[variables]
token = { required = true }
region = { default = "manifest-region" }
colour = { default = "manifest-colour" }

[[trigger.http]]
route = "/..."
component = "app"

[component.app]
source = "fixtures.wasm"
key_value_stores = ["default"]
sqlite_databases = ["default"]

[component.app.variables]
token = "{{ token }}"
region = "{{ region }}"
colour = "{{ colour }}"
"#;
