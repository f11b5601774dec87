//! A component as spin-sdk 7 users write one: `#[spin_sdk::http_service]` (WASI 0.3,
//! `wasi:http/handler@0.3`), the key-value store, SQLite and variables through
//! `spin:key-value@3.0.0`, `spin:sqlite@3.1.0` and `spin:variables@3.0.0`.
//!
//! | Path | Behaviour |
//! | --- | --- |
//! | `GET /kv/{KEY}` | the key's value in store `default`: 200, or 404 |
//! | `PUT /kv/{KEY}` | sets the key to the body: 204 |
//! | `DELETE /kv/{KEY}` | deletes the key: 204 |
//! | `GET /exists/{KEY}` | `true` or `false` |
//! | `GET /keys` | every key of store `default`, one per line, sorted |
//! | `GET /open/{STORE}` | opens store `STORE`: 200, 403 `access-denied`, 404 `no-such-store` |
//! | `GET /var/{NAME}` | the variable's value: 200, 404 `undefined`, 400 `invalid-name` |
//! | `POST /sqlite/{DB}` | runs the body's first line as a statement on database `DB`, later lines its parameters (`i:1`, `r:1.5`, `t:text`, else null); answers the columns, the rows (`|`-separated) and `rowid=N changes=M`; 403 `access-denied`, 507 `database-full`, 500 `io: …` |

#[cfg(target_arch = "wasm32")]
mod guest {
    use http_body_util::BodyExt;
    use spin_sdk::http::{IntoResponse, Request, StatusCode};
    use spin_sdk::key_value::{Error, Store};

    fn kv_error(err: Error) -> (StatusCode, String) {
        match err {
            Error::AccessDenied => (StatusCode::FORBIDDEN, "access-denied".to_owned()),
            Error::NoSuchStore => (StatusCode::NOT_FOUND, "no-such-store".to_owned()),
            Error::StoreTableFull => (
                StatusCode::SERVICE_UNAVAILABLE,
                "store-table-full".to_owned(),
            ),
            Error::Other(other) => (StatusCode::INTERNAL_SERVER_ERROR, other),
        }
    }

    async fn answer(req: Request) -> Result<(StatusCode, String), (StatusCode, String)> {
        let method = req.method().clone();
        let path = req.uri().path().to_owned();
        if let Some(key) = path.strip_prefix("/kv/") {
            let key = key.to_owned();
            let store = Store::open_default().await.map_err(kv_error)?;
            return match method.as_str() {
                "PUT" => {
                    let body = req
                        .into_body()
                        .collect()
                        .await
                        .map_err(|err| (StatusCode::BAD_REQUEST, format!("{err:?}")))?
                        .to_bytes();
                    store.set(&key, &body).await.map_err(kv_error)?;
                    Ok((StatusCode::NO_CONTENT, String::new()))
                }
                "DELETE" => {
                    store.delete(&key).await.map_err(kv_error)?;
                    Ok((StatusCode::NO_CONTENT, String::new()))
                }
                _ => match store.get(&key).await.map_err(kv_error)? {
                    Some(value) => {
                        Ok((StatusCode::OK, String::from_utf8_lossy(&value).into_owned()))
                    }
                    None => Ok((StatusCode::NOT_FOUND, "no such key".to_owned())),
                },
            };
        }
        if let Some(key) = path.strip_prefix("/exists/") {
            let store = Store::open_default().await.map_err(kv_error)?;
            let exists = store.exists(key).await.map_err(kv_error)?;
            return Ok((StatusCode::OK, exists.to_string()));
        }
        if path == "/keys" {
            let store = Store::open_default().await.map_err(kv_error)?;
            let mut keys = store.get_keys().await.collect().await.map_err(kv_error)?;
            keys.sort();
            return Ok((StatusCode::OK, keys.join("\n")));
        }
        if let Some(label) = path.strip_prefix("/open/") {
            Store::open(label).await.map_err(kv_error)?;
            return Ok((StatusCode::OK, "opened".to_owned()));
        }
        if let Some(database) = path.strip_prefix("/sqlite/") {
            let database = database.to_owned();
            let body = req
                .into_body()
                .collect()
                .await
                .map_err(|err| (StatusCode::BAD_REQUEST, format!("{err:?}")))?
                .to_bytes();
            return sqlite(&database, &String::from_utf8_lossy(&body)).await;
        }
        if let Some(name) = path.strip_prefix("/var/") {
            use spin_sdk::variables::Error as VarError;
            return match spin_sdk::variables::get(name).await {
                Ok(value) => Ok((StatusCode::OK, value)),
                Err(VarError::Undefined(msg)) => {
                    Err((StatusCode::NOT_FOUND, format!("undefined: {msg}")))
                }
                Err(VarError::InvalidName(msg)) => {
                    Err((StatusCode::BAD_REQUEST, format!("invalid-name: {msg}")))
                }
                Err(err) => Err((StatusCode::INTERNAL_SERVER_ERROR, format!("{err:?}"))),
            };
        }
        Err((StatusCode::NOT_FOUND, "unknown fixture path".to_owned()))
    }

    async fn sqlite(
        database: &str,
        body: &str,
    ) -> Result<(StatusCode, String), (StatusCode, String)> {
        use spin_sdk::sqlite::{Connection, Error, Value};
        let failed = |err: Error| match err {
            Error::AccessDenied => (StatusCode::FORBIDDEN, "access-denied".to_owned()),
            Error::NoSuchDatabase => (StatusCode::NOT_FOUND, "no-such-database".to_owned()),
            Error::DatabaseFull => (StatusCode::INSUFFICIENT_STORAGE, "database-full".to_owned()),
            Error::InvalidConnection => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "invalid-connection".to_owned(),
            ),
            Error::Io(message) => (StatusCode::INTERNAL_SERVER_ERROR, format!("io: {message}")),
        };
        let mut lines = body.lines();
        let statement = lines.next().unwrap_or_default();
        let parameters: Vec<Value> = lines
            .map(|line| match line.split_once(':') {
                Some(("i", n)) => n.parse().map_or(Value::Null, Value::Integer),
                Some(("r", f)) => f.parse().map_or(Value::Null, Value::Real),
                Some(("t", text)) => Value::Text(text.to_owned()),
                _ => Value::Null,
            })
            .collect();
        let conn = Connection::open(database).await.map_err(failed)?;
        let result = conn.execute(statement, parameters).await.map_err(failed)?;
        let mut text = result.columns().join("|");
        text.push('\n');
        for row in result.collect().await.map_err(failed)? {
            let values: Vec<String> = row
                .values
                .iter()
                .map(|value| match value {
                    Value::Integer(n) => n.to_string(),
                    Value::Real(f) => f.to_string(),
                    Value::Text(t) => t.clone(),
                    Value::Blob(b) => format!("<{} bytes>", b.len()),
                    Value::Null => "null".to_owned(),
                })
                .collect();
            text.push_str(&values.join("|"));
            text.push('\n');
        }
        let (rowid, changes) = (conn.last_insert_rowid().await, conn.changes().await);
        text.push_str(&format!("rowid={rowid} changes={changes}"));
        Ok((StatusCode::OK, text))
    }

    #[spin_sdk::http_service]
    async fn handle(req: Request) -> impl IntoResponse {
        match answer(req).await {
            Ok(answer) | Err(answer) => answer,
        }
    }
}
