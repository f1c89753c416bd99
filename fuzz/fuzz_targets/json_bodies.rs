//! Every front-end's JSON bodies through the shared parser
//! (`http::extract::parse_json`), and Iguazio's request documents: refused
//! with a named field or accepted, never a panic; a body some type accepts
//! is one JSON object.
#![no_main]

use libfuzzer_sys::fuzz_target;
use roster_server::fuzzing::{iguazio_document, json_bodies};

fuzz_target!(|data: &[u8]| {
    let answers = json_bodies(data);
    let object = answers[0].1.is_ok();
    for (ty, answer) in &answers {
        match answer {
            Ok(()) => assert!(object, "{ty} accepted a body that is not one JSON object"),
            Err(e) => assert!(e.field.as_deref().is_some_and(|f| !f.is_empty()), "{ty}: an error naming no field"),
        }
    }
    if iguazio_document(data) {
        assert!(object);
    }
});
