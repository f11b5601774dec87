//! A component as spin-sdk 7 users write one: `#[spin_sdk::http_service]` (WASI 0.3,
//! `wasi:http/handler@0.3`), the key-value store and variables through
//! `spin:key-value@3.0.0` and `spin:variables@3.0.0`.
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

    #[spin_sdk::http_service]
    async fn handle(req: Request) -> impl IntoResponse {
        match answer(req).await {
            Ok(answer) | Err(answer) => answer,
        }
    }
}
