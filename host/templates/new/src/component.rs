//! The component's exports, the one file compiled for `wasm32` alone: the HTTP handler,
//! answered by [`serve`](crate::serve) through the toolkit's glue, and
//! `wizer-initialize`, which runs [`init`](crate::init). The handler is
//! `wasi:http/incoming-handler@0.2` (WASI 0.2, through spin-sdk) by default and
//! `wasi:http/handler@0.3` (WASI 0.3, through `wasip3`) with the `wasi-p3` feature.

/// The WASI 0.2 entry point: one request in, one (possibly streamed) response out.
#[cfg(not(feature = "wasi-p3"))]
mod p2 {
    use spin_sdk::http::{IncomingRequest, ResponseOutparam};

    #[spin_sdk::http_component]
    async fn handle(req: IncomingRequest, out: ResponseOutparam) {
        edge_toolkit::component::serve_limited(req, out, crate::body_plan, crate::serve).await;
    }
}

/// The WASI 0.3 entry point: each request a task of its own, several at once per instance.
#[cfg(feature = "wasi-p3")]
mod p3 {
    use wasip3::http::types::{ErrorCode, Request, Response};

    struct Component;

    impl wasip3::exports::http::handler::Guest for Component {
        async fn handle(req: Request) -> Result<Response, ErrorCode> {
            edge_toolkit::component::p3::serve_limited(req, crate::body_plan, crate::serve).await
        }
    }

    wasip3::http::service::export!(Component);
}

/// The `wizer-initialize` export: builds the route table ([`init`](crate::init)) so that a
/// pre-initialiser can snapshot the instance with it built. It calls nothing on the host.
mod preinit {
    ::spin_sdk::wit_bindgen::generate!({
        inline: "
            package edge-toolkit:handler;

            world preinit {
                /// Builds what every request needs; calls no import.
                export wizer-initialize: func();
            }
        ",
        runtime_path: "::spin_sdk::wit_bindgen::rt",
    });

    struct Preinit;

    impl Guest for Preinit {
        fn wizer_initialize() {
            crate::init();
        }
    }

    export!(Preinit);
}
