use super::*;

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

#[test]
fn builds_and_formats_every_directive() {
    let cases = [
        (CacheControl::new(), ""),
        (CacheControl::new().with_no_store(), "no-store"),
        (CacheControl::new().with_no_cache(), "no-cache"),
        (
            CacheControl::new().with_no_cache_fields(["Set-Cookie", "Authorization"]),
            "no-cache=\"Set-Cookie, Authorization\"",
        ),
        (CacheControl::new().with_private(), "private"),
        (
            CacheControl::new().with_private_fields(["X-User", "bad field"]),
            "private=\"X-User\"",
        ),
        (
            CacheControl::new()
                .with_public()
                .with_max_age(secs(60))
                .with_s_maxage(secs(120)),
            "public, max-age=60, s-maxage=120",
        ),
        (
            CacheControl::new()
                .with_no_transform()
                .with_must_revalidate()
                .with_proxy_revalidate()
                .with_must_understand()
                .with_no_store(),
            "no-store, no-transform, must-revalidate, proxy-revalidate, must-understand",
        ),
        (
            CacheControl::new().with_max_stale(MaxStale::Any),
            "max-stale",
        ),
        (
            CacheControl::new()
                .with_max_stale(MaxStale::Limit(secs(30)))
                .with_min_fresh(secs(5)),
            "max-stale=30, min-fresh=5",
        ),
        (CacheControl::new().with_only_if_cached(), "only-if-cached"),
        (
            CacheControl::new()
                .with_max_age(secs(31_536_000))
                .with_immutable()
                .with_stale_while_revalidate(secs(60))
                .with_stale_if_error(secs(86_400)),
            "max-age=31536000, immutable, stale-while-revalidate=60, stale-if-error=86400",
        ),
        (
            CacheControl::new()
                .with_extension("Community", Some("UCI"))
                .with_extension("flag", None)
                .with_extension("x", Some("a \"b\""))
                .with_extension("bad name", None)
                .with_extension("ctl", Some("a\nb")),
            "community=UCI, flag, x=\"a \\\"b\\\"\"",
        ),
        (
            CacheControl::new().with_max_age(Duration::from_millis(1500)),
            "max-age=1",
        ),
    ];
    for (cc, text) in cases {
        assert_eq!(cc.to_string(), text);
        assert_eq!(cc.is_empty(), text.is_empty(), "{text}");
        if !text.is_empty() {
            assert_eq!(cc.to_header_value(), text);
        }
    }
}

#[test]
fn display_and_parse_round_trip() {
    let cases = [
        CacheControl::new(),
        CacheControl::new().with_no_store(),
        CacheControl::new().with_no_cache_fields(["set-cookie", "x-a"]),
        CacheControl::new()
            .with_private_fields(["x-user"])
            .with_max_age(secs(10)),
        CacheControl::new()
            .with_public()
            .with_no_cache()
            .with_no_transform()
            .with_must_revalidate()
            .with_proxy_revalidate()
            .with_must_understand()
            .with_max_age(secs(1))
            .with_s_maxage(secs(2))
            .with_max_stale(MaxStale::Limit(secs(3)))
            .with_min_fresh(secs(4))
            .with_only_if_cached()
            .with_immutable()
            .with_stale_while_revalidate(secs(5))
            .with_stale_if_error(secs(6))
            .with_extension("ext", Some("with space"))
            .with_extension("bare", None),
        CacheControl::new().with_max_stale(MaxStale::Any),
    ];
    for cc in cases {
        let text = cc.to_string();
        assert_eq!(text.parse::<CacheControl>(), Ok(cc), "{text}");
    }
}

#[test]
fn parses_tolerantly() {
    // (input, expected)
    let cases = [
        ("", CacheControl::new()),
        (" , ,", CacheControl::new()),
        ("NO-STORE", CacheControl::new().with_no_store()),
        ("max-age=\"60\"", CacheControl::new().with_max_age(secs(60))),
        ("max-age = 60", CacheControl::new().with_max_age(secs(60))),
        (
            "max-age=60, max-age=10",
            CacheControl::new().with_max_age(secs(60)),
        ),
        (
            "max-age=abc, max-age=10",
            CacheControl::new().with_max_age(secs(10)),
        ),
        ("max-age=-1", CacheControl::new()),
        ("max-age", CacheControl::new()),
        (
            "max-age=99999999999999999999999",
            CacheControl::new().with_max_age(secs(1 << 31)),
        ),
        (
            "max-age=4294967296",
            CacheControl::new().with_max_age(secs(1 << 31)),
        ),
        (
            "no-cache, no-cache=\"a\"",
            CacheControl::new().with_no_cache(),
        ),
        (
            "no-cache=\"a\", no-cache=\"b\"",
            CacheControl::new().with_no_cache_fields(["a", "b"]),
        ),
        (
            "no-cache=\"a\", no-cache",
            CacheControl::new().with_no_cache(),
        ),
        (
            "private=\"a, b\"",
            CacheControl::new().with_private_fields(["a", "b"]),
        ),
        (
            "private=x-user",
            CacheControl::new().with_private_fields(["x-user"]),
        ),
        ("no-store=1", CacheControl::new().with_no_store()),
        (
            "max-stale",
            CacheControl::new().with_max_stale(MaxStale::Any),
        ),
        (
            "max-stale=5",
            CacheControl::new().with_max_stale(MaxStale::Limit(secs(5))),
        ),
        ("max-stale=x", CacheControl::new()),
        (
            "public,\tmax-age=5",
            CacheControl::new().with_public().with_max_age(secs(5)),
        ),
        (
            "foo=\"a\\\"b\"",
            CacheControl::new().with_extension("foo", Some("a\"b")),
        ),
        (
            "Foo=Bar",
            CacheControl::new().with_extension("foo", Some("Bar")),
        ),
        ("foo=", CacheControl::new().with_extension("foo", Some(""))),
        (
            "IMMUTABLE, Stale-While-Revalidate=1, STALE-IF-ERROR=\"2\"",
            CacheControl::new()
                .with_immutable()
                .with_stale_while_revalidate(secs(1))
                .with_stale_if_error(secs(2)),
        ),
        (
            "must-understand, no-store, only-if-cached, min-fresh=3, s-maxage=4",
            CacheControl::new()
                .with_must_understand()
                .with_no_store()
                .with_only_if_cached()
                .with_min_fresh(secs(3))
                .with_s_maxage(secs(4)),
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(input.parse::<CacheControl>(), Ok(expected), "{input:?}");
    }
}

#[test]
fn getters_read_back_what_was_set() {
    let cc: CacheControl = "private=\"a\", no-cache=\"b, c\", max-stale=7, x=1"
        .parse()
        .expect("valid");
    assert!(cc.private() && cc.no_cache());
    assert_eq!(cc.private_fields(), ["a"]);
    assert_eq!(cc.no_cache_fields(), ["b", "c"]);
    assert_eq!(cc.max_stale(), Some(MaxStale::Limit(secs(7))));
    assert_eq!(cc.extensions().collect::<Vec<_>>(), [("x", Some("1"))]);
    assert!(!cc.public() && !cc.no_store() && !cc.immutable() && !cc.only_if_cached());
    assert!(!cc.no_transform() && !cc.must_revalidate() && !cc.proxy_revalidate());
    assert!(!cc.must_understand());
    assert_eq!(cc.max_age(), None);
    assert_eq!(cc.s_maxage(), None);
    assert_eq!(cc.min_fresh(), None);
    assert_eq!(cc.stale_while_revalidate(), None);
    assert_eq!(cc.stale_if_error(), None);
    let plain = CacheControl::new().with_private();
    assert!(plain.private());
    assert!(plain.private_fields().is_empty());
}

#[test]
fn rejects_what_cannot_be_split() {
    let cases = [
        (
            "max-age=\"60",
            InvalidCacheControl::UnterminatedQuote { position: 8 },
        ),
        (
            "=60",
            InvalidCacheControl::UnexpectedCharacter {
                position: 0,
                character: '=',
            },
        ),
        (
            "max-age=60 60",
            InvalidCacheControl::UnexpectedCharacter {
                position: 11,
                character: '6',
            },
        ),
        (
            "a=\"x\"y",
            InvalidCacheControl::UnexpectedCharacter {
                position: 5,
                character: 'y',
            },
        ),
        (
            "no-store; max-age=1",
            InvalidCacheControl::UnexpectedCharacter {
                position: 8,
                character: ';',
            },
        ),
        (
            "x=\"a\\",
            InvalidCacheControl::UnterminatedQuote { position: 2 },
        ),
    ];
    for (input, expected) in cases {
        let err = input.parse::<CacheControl>().expect_err(input);
        assert_eq!(err, expected, "{input:?}");
        assert!(err.to_string().contains("Cache-Control"));
    }
}

#[test]
fn from_headers_joins_lines() {
    let mut headers = HeaderMap::new();
    assert_eq!(
        CacheControl::from_headers(&headers),
        Ok(CacheControl::new())
    );
    headers.append(header::CACHE_CONTROL, HeaderValue::from_static("public"));
    headers.append(header::CACHE_CONTROL, HeaderValue::from_static("max-age=5"));
    assert_eq!(
        CacheControl::from_headers(&headers),
        Ok(CacheControl::new().with_public().with_max_age(secs(5)))
    );
    headers.append(
        header::CACHE_CONTROL,
        HeaderValue::from_bytes(b"x=\xff").expect("opaque"),
    );
    assert_eq!(
        CacheControl::from_headers(&headers),
        Err(InvalidCacheControl::NotUtf8)
    );
}
