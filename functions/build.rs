//! Finds the patient pages' message catalogues
//! (`functions/pages/messages/<lang>.toml`) and builds them in, so that a
//! translation is added by adding its file: no code names the languages.
//! Also gzips the vendored NHS.UK stylesheet at the best level, once, so
//! neither a server's start nor a patient's first visit pays for it.

use std::io::Write;
use std::path::Path;
use std::{env, fs};

fn main() {
    gzip_stylesheet();
    let dir = Path::new(&env::var("CARGO_MANIFEST_DIR").expect("set by cargo"))
        .join("pages")
        .join("messages");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut catalogues: Vec<(String, String)> = fs::read_dir(&dir)
        .expect("functions/pages/messages is readable")
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|e| e == "toml"))
        .map(|path| {
            println!("cargo:rerun-if-changed={}", path.display());
            let lang = path
                .file_stem()
                .and_then(|s| s.to_str())
                .expect("a catalogue's name is its language tag")
                .to_owned();
            (lang, path.display().to_string())
        })
        .collect();
    catalogues.sort();
    let mut code = String::from("/// Each catalogue's language tag and text, from `functions/pages/messages`.\npub const CATALOGUES: &[(&str, &str)] = &[\n");
    for (lang, path) in &catalogues {
        code.push_str(&format!("    ({lang:?}, include_str!({path:?})),\n"));
    }
    code.push_str("];\n");
    let out = Path::new(&env::var("OUT_DIR").expect("set by cargo")).join("catalogues.rs");
    fs::write(out, code).expect("OUT_DIR is writable");
}

/// `nhsuk-frontend.min.css`, gzipped, as `OUT_DIR/nhsuk-frontend.min.css.gz`.
fn gzip_stylesheet() {
    let css = Path::new(&env::var("CARGO_MANIFEST_DIR").expect("set by cargo"))
        .join("pages/vendor/nhsuk-frontend/nhsuk-frontend.min.css");
    println!("cargo:rerun-if-changed={}", css.display());
    let text = fs::read(&css).expect("the vendored stylesheet is readable");
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(&text).expect("gzip writes to memory");
    let gzipped = encoder.finish().expect("gzip writes to memory");
    let out =
        Path::new(&env::var("OUT_DIR").expect("set by cargo")).join("nhsuk-frontend.min.css.gz");
    fs::write(out, gzipped).expect("OUT_DIR is writable");
}
