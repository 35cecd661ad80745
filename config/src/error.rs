//! Configuration errors, each with its key path and, where known, its line.

use std::fmt;

/// One problem in a configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The key path, e.g. `origins[1].url`; empty for problems with the whole file.
    pub path: String,
    /// 1-based line in the file, where it could be found.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(line) = self.line {
            write!(f, "line {line}: ")?;
        }
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

/// Every problem found in a configuration file, in file order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors {
    /// Where the configuration came from (a file path, or a description).
    pub source_name: String,
    /// The problems.
    pub errors: Vec<ConfigError>,
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.errors.len();
        writeln!(
            f,
            "{}: {n} error{}",
            self.source_name,
            if n == 1 { "" } else { "s" }
        )?;
        for e in &self.errors {
            writeln!(f, "  {e}")?;
        }
        Ok(())
    }
}

/// Finds the line of a key path such as `origins[1].url` in the TOML text.
pub(crate) struct Positions {
    doc: Option<toml_edit::Document<String>>,
    line_starts: Vec<usize>,
}

enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

fn steps(path: &str) -> Vec<Step<'_>> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let (key, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !key.is_empty() {
            out.push(Step::Key(key));
        }
        while let Some(stripped) = rest.strip_prefix('[') {
            let Some(end) = stripped.find(']') else { break };
            if let Ok(i) = stripped[..end].parse() {
                out.push(Step::Index(i));
            }
            rest = &stripped[end + 1..];
        }
    }
    out
}

impl Positions {
    pub(crate) fn new(text: &str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Self {
            doc: toml_edit::Document::parse(text.to_owned()).ok(),
            line_starts,
        }
    }

    pub(crate) fn line_of_offset(&self, offset: usize) -> usize {
        match self.line_starts.binary_search(&offset) {
            Ok(i) => i + 1,
            Err(i) => i,
        }
    }

    /// The line of the deepest part of `path` present in the file.
    pub(crate) fn line_of(&self, path: &str) -> Option<usize> {
        self.find(path).and_then(|(line, _)| line)
    }

    /// Corrects a key path reported by the deserializer, which may carry a stale prefix
    /// after an earlier error: when `path` is not in the file but one of its suffixes is,
    /// the suffix is the real path. Returns the path and its line.
    pub(crate) fn locate(&self, path: &str) -> (String, Option<usize>) {
        if let Some((line, true)) = self.find(path) {
            return (path.to_owned(), line);
        }
        let mut rest = path;
        while let Some(dot) = rest.find('.') {
            rest = &rest[dot + 1..];
            if let Some((line, true)) = self.find(rest) {
                return (rest.to_owned(), line);
            }
        }
        (path.to_owned(), self.line_of(path))
    }

    /// The line of the deepest part of `path` present, and whether all of it is present.
    fn find(&self, path: &str) -> Option<(Option<usize>, bool)> {
        let doc = self.doc.as_ref()?;
        let mut node = Node::Table(doc.as_table());
        let mut best: Option<usize> = None;
        for step in steps(path) {
            let (next, span) = match step {
                Step::Key(key) => {
                    let Some((k, v)) = node.table_like().and_then(|t| t.get_key_value(key)) else {
                        return Some((best, false));
                    };
                    (Node::Item(v), k.span().or_else(|| v.span()))
                }
                Step::Index(i) => match node.array_element(i).unwrap_or(Node::Missing) {
                    Node::Missing => return Some((best, false)),
                    Node::Table(t) => (Node::Table(t), t.span()),
                    Node::Value(v) => (Node::Value(v), v.span()),
                    Node::Item(it) => (Node::Item(it), it.span()),
                },
            };
            if let Some(span) = span {
                best = Some(self.line_of_offset(span.start));
            }
            node = next;
        }
        Some((best, true))
    }
}

/// A borrowed position in a parsed TOML document.
#[derive(Clone, Copy)]
enum Node<'a> {
    Item(&'a toml_edit::Item),
    Table(&'a toml_edit::Table),
    Value(&'a toml_edit::Value),
    Missing,
}

impl<'a> Node<'a> {
    fn table_like(self) -> Option<&'a dyn toml_edit::TableLike> {
        match self {
            Node::Item(item) => item.as_table_like(),
            Node::Table(table) => Some(table),
            Node::Value(value) => value
                .as_inline_table()
                .map(|t| t as &dyn toml_edit::TableLike),
            Node::Missing => None,
        }
    }

    fn array_element(self, i: usize) -> Option<Node<'a>> {
        match self {
            Node::Item(toml_edit::Item::ArrayOfTables(tables)) => tables.get(i).map(Node::Table),
            Node::Item(toml_edit::Item::Value(toml_edit::Value::Array(values)))
            | Node::Value(toml_edit::Value::Array(values)) => values.get(i).map(Node::Value),
            _ => None,
        }
    }
}
