//! The component's exports, the one file compiled for `wasm32` alone:
//! `wasi:http/incoming-handler`, answered by [`handle`](crate::handle) through the toolkit's
//! `component::serve`, and `wizer-initialize`, which runs [`init`](crate::init).
#![expect(
    unsafe_code,
    reason = "spin-sdk's #[http_component] and wit-bindgen's export! expand to the unsafe canonical-ABI exports"
)]

use spin_sdk::http::{IncomingRequest, ResponseOutparam};
use spin_sdk::http_component;

/// The component's entry point: one request in, one (possibly streamed) response out.
#[http_component]
async fn handle(req: IncomingRequest, out: ResponseOutparam) {
    edge_toolkit::component::serve(req, out, crate::handle).await;
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
