//! Outbound requests in the trace of the request being served: the hooks of a store
//! wrapped so that a request the guest sends without a `traceparent` gets one naming a
//! client span, recorded when its response head (or its failure) arrives.

use std::sync::{Arc, Mutex};

use http::HeaderName;
use http::uri::Scheme;
use wasmtime_wasi_http::{ForbiddenHeaderFilter, WasiHttpHooks};

use super::extension::{OutgoingHooks, OutgoingResult};
use crate::trace::{Attribute, TRACEPARENT, TraceContext};

/// The trace of the request an instance serves (its newest, for a WASI 0.3 instance).
pub(crate) type TraceSlot = Arc<Mutex<Option<TraceContext>>>;

pub(crate) struct TracedHooks {
    pub(crate) inner: OutgoingHooks,
    pub(crate) trace: TraceSlot,
}

impl WasiHttpHooks for TracedHooks {
    fn is_forbidden_header(&mut self, name: &HeaderName) -> bool {
        self.inner.is_forbidden_header(name)
    }

    fn forbidden_header_filter(&mut self) -> ForbiddenHeaderFilter {
        self.inner.forbidden_header_filter()
    }

    fn is_supported_scheme(&mut self, scheme: &Scheme) -> bool {
        self.inner.is_supported_scheme(scheme)
    }

    fn set_host_header(&mut self) -> bool {
        self.inner.set_host_header()
    }

    fn default_scheme(&mut self) -> Option<Scheme> {
        self.inner.default_scheme()
    }

    fn send_request(
        &mut self,
        mut request: http::Request<wasmtime_wasi_http::WasiBody>,
        options: Option<wasmtime_wasi_http::RequestOptions>,
        fut: Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
    ) -> Box<dyn Future<Output = OutgoingResult> + Send> {
        let trace = self.trace.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let Some(trace) = trace.filter(|_| !request.headers().contains_key(TRACEPARENT)) else {
            return self.inner.send_request(request, options, fut);
        };
        let method = request.method().to_string();
        let (header, span) = trace.client(method.clone());
        request
            .headers_mut()
            .insert(HeaderName::from_static(TRACEPARENT), header);
        // The URL without its query (which may hold secrets).
        let uri = request.uri();
        let url = format!(
            "{}://{}{}",
            uri.scheme_str().unwrap_or("http"),
            uri.authority().map_or("", |a| a.as_str()),
            uri.path()
        );
        let server = uri.host().unwrap_or_default().to_owned();
        let sent = Box::into_pin(self.inner.send_request(request, options, fut));
        Box::new(async move {
            let result = sent.await;
            let mut attributes = vec![
                ("http.request.method", Attribute::Text(method)),
                ("url.full", Attribute::Text(url)),
                ("server.address", Attribute::Text(server)),
            ];
            let error = match &result {
                Ok((res, _)) => {
                    let status = res.status().as_u16();
                    attributes.push(("http.response.status_code", Attribute::Int(status.into())));
                    status >= 500
                }
                Err(err) => {
                    attributes.push(("error.type", Attribute::Text(format!("{err:?}"))));
                    true
                }
            };
            span.end(attributes, error);
            result
        })
    }
}
