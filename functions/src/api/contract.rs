//! The OpenAPI document as the contract a frontend generates its types from.
//!
//! utoipa writes every `Option` field as nullable. In a request that is
//! not what Batchbook accepts: a field is either left out or given a value,
//! and `null` is refused (see `body.rs`). So `request_fields_take_no_null`
//! takes `null` out of every optional field of every schema a request body
//! or parameter names, directly or through another schema. Responses keep
//! theirs: there `null` means "not yet" or "none".
//!
//! utoipa also writes an `Option` field's description inside the `oneOf`
//! that says it may be `null`, where generators and readers do not look;
//! `descriptions_on_the_field` lifts it onto the field.

use std::collections::BTreeSet;

use serde_json::Value;

/// The document as `/openapi.json` serves it.
pub fn document(openapi: &utoipa::openapi::OpenApi) -> Value {
    let mut doc = request_fields_take_no_null(openapi);
    if let Some(schemas) = doc["components"]["schemas"].as_object_mut() {
        schemas.values_mut().for_each(descriptions_on_the_field);
    }
    doc
}

/// Each property's description where a reader looks for it: on the
/// property, not on one of its `oneOf` variants.
fn descriptions_on_the_field(schema: &mut Value) {
    if let Some(properties) = schema.get_mut("properties").and_then(Value::as_object_mut) {
        for property in properties.values_mut() {
            if property.get("description").is_none() {
                let lifted = ["oneOf", "anyOf", "allOf"].iter().find_map(|key| {
                    property[*key]
                        .as_array_mut()?
                        .iter_mut()
                        .find_map(|variant| variant.as_object_mut()?.remove("description"))
                });
                if let (Some(description), Some(map)) = (lifted, property.as_object_mut()) {
                    map.insert("description".into(), description);
                }
            }
            descriptions_on_the_field(property);
        }
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        if let Some(variants) = schema.get_mut(key).and_then(Value::as_array_mut) {
            variants.iter_mut().for_each(descriptions_on_the_field);
        }
    }
    if let Some(items) = schema.get_mut("items") {
        descriptions_on_the_field(items);
    }
}

/// The document, with `null` taken out of what requests may send.
fn request_fields_take_no_null(openapi: &utoipa::openapi::OpenApi) -> Value {
    let mut doc = serde_json::to_value(openapi).expect("an OpenAPI document is JSON");
    let mut names = BTreeSet::new();
    let mut pending = Vec::new();
    if let Some(paths) = doc["paths"].as_object_mut() {
        for operation in paths.values_mut().filter_map(Value::as_object_mut) {
            for operation in operation.values_mut() {
                if let Some(body) = operation.get_mut("requestBody") {
                    refs_in(body, &mut pending);
                    strip_null(body);
                }
                if let Some(parameters) = operation
                    .get_mut("parameters")
                    .and_then(Value::as_array_mut)
                {
                    for parameter in parameters {
                        refs_in(parameter, &mut pending);
                        if let Some(schema) = parameter.get_mut("schema") {
                            strip_null(schema);
                        }
                    }
                }
            }
        }
    }
    let schemas = &mut doc["components"]["schemas"];
    while let Some(name) = pending.pop() {
        if !names.insert(name.clone()) {
            continue;
        }
        if let Some(schema) = schemas.get(&name) {
            refs_in(schema, &mut pending);
        }
    }
    for name in &names {
        if let Some(schema) = schemas.get_mut(name) {
            strip_optional_nulls(schema);
        }
    }
    doc
}

/// The component schemas `value` refers to.
fn refs_in(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                if let Some(name) = r.strip_prefix("#/components/schemas/") {
                    found.push(name.to_owned());
                }
            }
            map.values().for_each(|v| refs_in(v, found));
        }
        Value::Array(items) => items.iter().for_each(|v| refs_in(v, found)),
        _ => {}
    }
}

/// In an object schema (and the schemas it holds inline), `null` out of
/// each property.
fn strip_optional_nulls(schema: &mut Value) {
    if let Some(properties) = schema.get_mut("properties").and_then(Value::as_object_mut) {
        for property in properties.values_mut() {
            strip_null(property);
            strip_optional_nulls(property);
        }
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        if let Some(variants) = schema.get_mut(key).and_then(Value::as_array_mut) {
            variants.iter_mut().for_each(strip_optional_nulls);
        }
    }
    if let Some(items) = schema.get_mut("items") {
        strip_optional_nulls(items);
    }
}

/// `null` out of one schema: `type: [T, "null"]` becomes `type: T`, and a
/// `oneOf` with a `null` variant loses it (and is unwrapped when one is left).
fn strip_null(schema: &mut Value) {
    let Some(map) = schema.as_object_mut() else {
        return;
    };
    if let Some(Value::Array(types)) = map.get_mut("type") {
        types.retain(|t| t != "null");
        if types.len() == 1 {
            let only = types.remove(0);
            map.insert("type".into(), only);
        }
    }
    for key in ["oneOf", "anyOf"] {
        let Some(Value::Array(variants)) = map.get_mut(key) else {
            continue;
        };
        variants.retain(|v| v.get("type").and_then(Value::as_str) != Some("null"));
        if variants.len() == 1 {
            let only = variants.remove(0);
            map.remove(key);
            if let Value::Object(inner) = only {
                for (k, v) in inner {
                    map.entry(k).or_insert(v);
                }
            }
        }
    }
    if let Some(items) = map.get_mut("items") {
        strip_null(items);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_optional_request_field_takes_no_null_and_a_response_field_keeps_it() {
        let mut doc: utoipa::openapi::OpenApi = serde_json::from_value(json!({
            "openapi": "3.1.0",
            "info": {"title": "t", "version": "1"},
            "paths": {"/x": {"post": {
                "parameters": [{"name": "limit", "in": "query", "required": false,
                                "schema": {"type": ["integer", "null"]}}],
                "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Req"}}}},
                "responses": {"200": {"description": "ok", "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/Resp"}}}}}
            }}},
            "components": {"schemas": {
                "Req": {"type": "object", "properties": {
                    "subject": {"type": ["string", "null"]},
                    "inner": {"oneOf": [{"type": "null"}, {"$ref": "#/components/schemas/Inner"}]}
                }},
                "Inner": {"type": "object", "properties": {"days": {"type": ["integer", "null"]}}},
                "Resp": {"type": "object", "properties": {"sent_at": {"type": ["string", "null"]}}}
            }}
        }))
        .unwrap();
        doc.info.title = "t".into();
        let out = request_fields_take_no_null(&doc);
        let schemas = &out["components"]["schemas"];
        assert_eq!(
            schemas["Req"]["properties"]["subject"],
            json!({"type": "string"})
        );
        assert_eq!(
            schemas["Req"]["properties"]["inner"],
            json!({"$ref": "#/components/schemas/Inner"})
        );
        assert_eq!(
            schemas["Inner"]["properties"]["days"],
            json!({"type": "integer"})
        );
        assert_eq!(
            schemas["Resp"]["properties"]["sent_at"],
            json!({"type": ["string", "null"]})
        );
        assert_eq!(
            out["paths"]["/x"]["post"]["parameters"][0]["schema"],
            json!({"type": "integer"})
        );
    }
}
