//! Input schemas as a model and a command line read them: without what tells them nothing. Every byte of
//! a tool definition is paid in every agent's context.

use serde_json::Value;

use super::JsonObject;

/// `schema` without what tells a model nothing: the draft URI, `default: null`, `null` in the type of
/// an optional member, `default: false`, number formats and an unsigned `minimum: 0`, `additionalProperties: false` (the server names an unknown
/// member in its error), descriptions of array items, line breaks in descriptions; `$ref`s inlined
/// and enums of documented constants reduced to `enum` (the tool's description says what matters).
pub fn compact(schema: &JsonObject) -> JsonObject {
    let defs = schema.get("$defs").and_then(Value::as_object).cloned();
    let mut root = schema.clone();
    root.remove("$schema");
    root.remove("$defs");
    object_schema(&root, defs.as_ref())
}

/// One schema value, compacted, with references to `defs` inlined.
fn member(value: &Value, defs: Option<&JsonObject>) -> Value {
    match value {
        Value::Object(object) => Value::Object(object_schema(object, defs)),
        Value::Array(items) => Value::Array(items.iter().map(|v| member(v, defs)).collect()),
        other => other.clone(),
    }
}

/// An object schema compacted: a reference (plain, or optional as `anyOf [ref, null]`) becomes its
/// definition, with this schema's own members (its description, its default) laid over it.
fn object_schema(object: &JsonObject, defs: Option<&JsonObject>) -> JsonObject {
    let (mut out, inlined) = if let Some(target) = reference(object, defs) {
        (object_schema(target, defs), Some("$ref"))
    } else if let Some(target) = nullable_reference(object, defs) {
        (object_schema(target, defs), Some("anyOf"))
    } else {
        (JsonObject::new(), None)
    };
    for (key, value) in object.iter().filter(|(k, _)| Some(k.as_str()) != inlined) {
        let value = match key.as_str() {
            "description" => Value::String(one_line(value.as_str().unwrap_or_default())),
            "properties" => properties(value, defs),
            "items" => undescribed(member(value, defs)),
            // The server refuses unknown members with an error naming them.
            "additionalProperties" if *value == Value::Bool(false) => continue,
            // A flag is off unless given.
            "default" if *value == Value::Bool(false) => continue,
            _ => member(value, defs),
        };
        out.insert(key.clone(), value);
    }
    tidy(out)
}

/// The members of an object schema, each compacted; an optional member's `null` is dropped with its
/// `default: null` (leaving it out says the same).
fn properties(value: &Value, defs: Option<&JsonObject>) -> Value {
    let Some(members) = value.as_object() else {
        return member(value, defs);
    };
    let compacted = members.iter().map(|(name, schema)| {
        let mut schema = member(schema, defs);
        if let Some(object) = schema.as_object_mut()
            && object.get("default") == Some(&Value::Null)
        {
            object.remove("default");
            drop_null_type(object);
        }
        (name.clone(), schema)
    });
    Value::Object(compacted.collect())
}

/// An array's items, described by the array.
fn undescribed(mut items: Value) -> Value {
    if let Some(object) = items.as_object_mut() {
        object.remove("description");
    }
    items
}

fn drop_null_type(object: &mut JsonObject) {
    if let Some(Value::Array(types)) = object.get("type") {
        let kept: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
        if let [single] = kept.as_slice() {
            object.insert("type".to_owned(), single.clone());
        }
    }
}

/// Enums of documented constants as `enum`, and integer formats dropped.
fn tidy(mut object: JsonObject) -> JsonObject {
    if let Some(Value::Array(variants)) = object.get("oneOf")
        && let Some(values) = constants(variants)
    {
        object.remove("oneOf");
        object.insert("enum".to_owned(), Value::Array(values));
    }
    if object.contains_key("enum") {
        // The values say their type.
        object.remove("type");
    }
    let format = object
        .get("format")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if format.starts_with("uint") && object.get("minimum") == Some(&Value::from(0)) {
        // Unsigned: the descriptions give the real ranges, and the server checks them.
        object.remove("minimum");
    }
    if format.starts_with("uint") || format.starts_with("int") || format == "double" {
        object.remove("format");
    }
    object
}

/// The constants of `oneOf` variants that are each a string constant, or `None`.
fn constants(variants: &[Value]) -> Option<Vec<Value>> {
    variants
        .iter()
        .map(|v| v.get("const").filter(|c| c.is_string()).cloned())
        .collect()
}

/// The definition `object` refers to (`{"$ref": "#/$defs/X"}`).
fn reference<'a>(object: &JsonObject, defs: Option<&'a JsonObject>) -> Option<&'a JsonObject> {
    let name = object.get("$ref")?.as_str()?.strip_prefix("#/$defs/")?;
    defs?.get(name)?.as_object()
}

/// The definition of `{"anyOf": [{"$ref"}, {"type": "null"}]}`, an optional reference.
fn nullable_reference<'a>(
    object: &JsonObject,
    defs: Option<&'a JsonObject>,
) -> Option<&'a JsonObject> {
    let [first, second] = object.get("anyOf")?.as_array()?.as_slice() else {
        return None;
    };
    (second.get("type")? == "null").then_some(())?;
    reference(first.as_object()?, defs)
}

/// Doc-comment line breaks as spaces.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(value: Value) -> JsonObject {
        value.as_object().cloned().unwrap()
    }

    #[test]
    fn compacts_references_nulls_formats_and_constants() {
        let schema = object(serde_json::json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$defs": {"Kind": {"description": "Which.", "oneOf": [
                {"const": "a", "description": "A.", "type": "string"},
                {"const": "b", "description": "B.", "type": "string"}]}},
            "type": "object",
            "properties": {
                "kind": {"anyOf": [{"$ref": "#/$defs/Kind"}, {"type": "null"}], "default": null,
                         "description": "The\n kind."},
                "days": {"type": ["integer", "null"], "format": "uint32", "minimum": 0, "default": null},
                "cap": {"type": ["number", "null"], "format": "double"},
            },
            "required": ["cap"],
        }));
        let expected = serde_json::json!({
            "type": "object",
            "properties": {
                "kind": {"description": "The kind.", "enum": ["a", "b"]},
                "days": {"type": "integer"},
                "cap": {"type": ["number", "null"]},
            },
            "required": ["cap"],
        });
        assert_eq!(Value::Object(compact(&schema)), expected);
    }
}
