//! The event catalogue as a contract: the JSON Schemas committed under
//! `events/schema/` are exactly what the types make. A change to an event
//! that does not change its schema file (and, for a stored shape, its
//! version and an upcaster) fails here.
//!
//! ```sh
//! BATCHBOOK_WRITE_SCHEMA=1 cargo test -p events --test schema   # rewrite the files
//! ```

use std::path::PathBuf;

fn schema_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schema")
}

fn rendered(schema: &schemars::Schema) -> String {
    let mut text = serde_json::to_string_pretty(schema).expect("a schema serialises");
    text.push('\n');
    text
}

#[test]
fn the_committed_schemas_are_exactly_what_the_event_types_make() {
    let catalogue = events::schema::catalogue();
    let dir = schema_dir();
    if std::env::var_os("BATCHBOOK_WRITE_SCHEMA").is_some() {
        std::fs::create_dir_all(&dir).unwrap();
        for (aggregate, schema) in &catalogue {
            std::fs::write(dir.join(format!("{aggregate}.json")), rendered(schema)).unwrap();
        }
    }
    let mut differ = Vec::new();
    for (aggregate, schema) in &catalogue {
        let path = dir.join(format!("{aggregate}.json"));
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if committed != rendered(schema) {
            differ.push(aggregate.to_string());
        }
    }
    assert_eq!(
        differ,
        Vec::<String>::new(),
        "these aggregates' events no longer match events/schema/; if the change is meant, \
         give a changed stored shape a new version and an upcaster, then run \
         BATCHBOOK_WRITE_SCHEMA=1 cargo test -p events --test schema"
    );
    // And no schema file is left over from an aggregate that is gone.
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    let expected: Vec<String> = catalogue
        .iter()
        .map(|(aggregate, _)| format!("{aggregate}.json"))
        .collect();
    assert_eq!(files, expected);
}

#[test]
fn each_schema_names_every_event_of_its_aggregate() {
    let batch = events::schema::catalogue()
        .into_iter()
        .find(|(aggregate, _)| *aggregate == "Batch")
        .unwrap()
        .1;
    let value = serde_json::to_value(&batch).unwrap();
    let mut names: Vec<String> = value["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|variant| {
            variant["required"]
                .as_array()
                .into_iter()
                .flatten()
                .chain(variant["enum"].as_array().into_iter().flatten())
                .map(|n| n.as_str().unwrap().to_owned())
        })
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "BatchCancelled",
            "BatchCompleted",
            "BatchDrafted",
            "LinksRevoked",
            "PatientListAttached",
            "RecordsSaved",
            "SavingStarted",
            "SendScheduled",
            "SendingStarted"
        ]
    );
}
