//! Strict deserialization with errors pointed at their place: file, 1-based line and column, and the field's path
//! (`faults.script[2].target`), recovered from the TOML text where serde has lost it.

use super::ScenarioError;
use std::path::Path;

/// Deserializes strict TOML, turning an error into one that names the file, line, column and field path.
pub fn deserialize<T: serde::de::DeserializeOwned>(text: &str, file: &Path) -> Result<T, ScenarioError> {
    let deserializer = toml::Deserializer::new(text);
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let field = match e.path().to_string() {
            // An error that belongs to no field (a duplicate key, a syntax error, a missing top-level field).
            path if path == "." || path.is_empty() => "(top level)".to_string(),
            path => path,
        };
        let inner = e.into_inner();
        let (line, column) = inner.span().map_or((1, 1), |span| line_col(text, span.start));
        let message = inner.message().to_string();
        if let Some((field, message)) = refine(text, &field, &message) {
            let (line, column) = locate(text, &field).unwrap_or((line, column));
            return ScenarioError::Invalid { file: file.into(), line, column, field, message };
        }
        ScenarioError::Invalid { file: file.into(), line, column, field, message }
    })
}

/// An error serde reports against a whole table (a tagged enum, such as a fault, is read from a buffered copy of
/// its table, which has lost the positions of its fields) pointed back at the field it is about, with the line of
/// that field: the one named in the message, the `kind` for a missing field or an unknown kind, or the field
/// whose value the message quotes.
fn refine(text: &str, table: &str, message: &str) -> Option<(String, String)> {
    let doc = toml_edit::ImDocument::parse(text).ok()?;
    let mut item = doc.as_item();
    for part in table.split('.') {
        let (key, indexes) = part.find('[').map_or((part, ""), |at| (&part[..at], &part[at..]));
        if !key.is_empty() {
            item = item.get(key)?;
        }
        for index in indexes.split(['[', ']']).filter(|s| !s.is_empty()) {
            item = item.get(index.parse::<usize>().ok()?)?;
        }
    }
    let table_like = item.as_table_like()?;
    let kind = table_like.get("kind").and_then(|k| k.as_str()).unwrap_or_default().to_string();
    let quoted = |prefix: &str| message.strip_prefix(prefix)?.split('`').next().map(str::to_string);
    if let Some(name) = quoted("unknown field `") {
        let expected = message.split(", expected ").nth(1).unwrap_or("nothing more");
        let field = if table == name || table.ends_with(&format!(".{name}")) {
            table.to_string()
        } else {
            format!("{table}.{name}")
        };
        if kind.is_empty() {
            // Not a fault (those have a kind): an unknown table or field of the format itself.
            return Some((
                field,
                format!("unknown field `{name}`; remove it or check its spelling (expected {expected})"),
            ));
        }
        return Some((field, format!("is not used by kind `{kind}`; remove it (kind `{kind}` takes {expected})")));
    }
    if let Some(name) = quoted("missing field `") {
        return Some((format!("{table}.kind"), format!("kind `{kind}` needs the field `{name}`")));
    }
    if let Some(name) = quoted("unknown variant `") {
        let expected = message.split(", expected one of ").nth(1).unwrap_or_default();
        return Some((format!("{table}.kind"), format!("unknown kind `{name}`; the kinds are {expected}")));
    }
    // A value error quotes the value ("150 is out of range", "`-2s` is negative"): the field holding it.
    let value = message.trim_start_matches('`').split(['`', ' ']).next()?;
    let (key, _) = table_like.iter().find(|(_, v)| {
        let raw = v.as_value().map(|v| v.to_string()).unwrap_or_default();
        raw.trim().trim_matches('"') == value
    })?;
    Some((format!("{table}.{key}"), message.to_string()))
}

/// The 1-based line and column of the value at `path` (`load.deploys[0].at`), if the text has it.
pub fn locate(text: &str, path: &str) -> Option<(usize, usize)> {
    let doc = toml_edit::ImDocument::parse(text).ok()?;
    let mut item = doc.as_item();
    for part in path.split('.') {
        let (key, indexes) = match part.find('[') {
            Some(at) => (&part[..at], &part[at..]),
            None => (part, ""),
        };
        if !key.is_empty() {
            item = item.get(key)?;
        }
        for index in indexes.split(['[', ']']).filter(|s| !s.is_empty()) {
            item = item.get(index.parse::<usize>().ok()?)?;
        }
    }
    let span = item.span()?;
    Some(line_col(text, span.start))
}

/// 1-based line and column of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}
