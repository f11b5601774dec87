//! Reading request bodies.
//!
//! | Item | What it does |
//! | --- | --- |
//! | [`json`], [`json_valid`] | JSON bodies: `415` for the wrong media type, `400` for bad syntax, `422` for the wrong shape or invalid fields |
//! | [`Validate`], [`FieldError`] | field-level validation, reported as an `errors` array |
//! | [`JsonRejection`] | the typed reason a body was refused |
//! | [`BodyReader`] | reading a body chunk by chunk within a limit: `413` before it is buffered whole |
//! | [`Upload`], [`BodyPlan`] | a body streamed to the handler as it arrives, within the route's limit |

mod json;
mod reader;
mod upload;

pub use reader::BodyReader;
pub(crate) use upload::detach;
#[cfg(target_arch = "wasm32")]
pub(crate) use upload::{Attached, attach, metered};
pub use upload::{BodyPlan, Chunks, Upload};

pub use json::{
    FieldError, JsonRejection, Validate, is_json_media_type, json, json_valid, parse_json,
};
