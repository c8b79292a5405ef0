//! What a data file's document is ([`Document`]: its invariants) and how it becomes the file's
//! bytes ([`Encoder`]; [`Pretty`] for small files, and the pieces the users and stats encoders
//! share to write records themselves). It never touches a data file: the committer writes what
//! an encoder makes, [`crate::doc_file`] reads.

use std::fs::File;
#[cfg(test)]
use std::io::Read;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::output::Output;

/// What a data file must be for the data manager to keep it (its parsed copy in a `DocFile`).
pub trait Document: Serialize + DeserializeOwned + Default + Clone + Send + Sync + 'static {
    /// How the committer turns the document into bytes; it lives as long as the committer, so
    /// it may keep what a later write can reuse.
    type Encoder: Encoder<Self>;

    /// Invariants checked after a file is parsed and before any write; the message names the
    /// offending record.
    fn validate(&self) -> Result<(), String> {
        Ok(())
    }

    /// [`Document::validate`] after a change to a document that was valid as `before`: a
    /// document may check only what the change can have broken. It must refuse everything
    /// `validate` refuses.
    fn validate_change(&self, _before: &Self) -> Result<(), String> {
        self.validate()
    }

    /// Cheap check that a change left the document as it was, so that nothing is written. `false`
    /// when unsure (the write then happens, which is always safe).
    fn unchanged_since(&self, _before: &Self) -> bool {
        false
    }
}

/// Turns a document into the file's bytes.
pub trait Encoder<T>: Default + Send + 'static {
    /// Writes `doc` to `out`, spilling between records. After an error `out` holds part of a
    /// document, which never becomes the file.
    fn encode(&mut self, doc: &T, out: &mut Output<'_>) -> serde_json::Result<()>;

    /// The bytes of the last [`Encoder::encode`] are now the file `written` (open for reading
    /// and writing). Not called when that write failed: the encoder then must not take them for
    /// the file's content.
    fn written(&mut self, _written: &File) {}
}

/// Pretty-printed JSON, like the old backend's `indent=2`, made afresh each time (small files).
#[derive(Debug, Default)]
pub struct Pretty;

impl<T: Serialize> Encoder<T> for Pretty {
    fn encode(&mut self, doc: &T, out: &mut Output<'_>) -> serde_json::Result<()> {
        serde_json::to_writer_pretty(out.buf(), doc)
    }
}

/// What `encoder` writes for `doc`, through a file as the committer's writes go (so outputs
/// larger than a spill go through the spills), for the encoders' tests.
#[cfg(test)]
pub(crate) fn encode_to_vec<T, E: Encoder<T>>(
    encoder: &mut E,
    doc: &T,
) -> serde_json::Result<Vec<u8>> {
    use std::io::Seek;
    let mut file = tempfile::tempfile().map_err(serde_json::Error::io)?;
    let mut out = Output::to_file(&file);
    encoder.encode(doc, &mut out)?;
    out.finish().map_err(serde_json::Error::io)?;
    let mut bytes = Vec::new();
    file.rewind().map_err(serde_json::Error::io)?;
    file.read_to_end(&mut bytes)
        .map_err(serde_json::Error::io)?;
    Ok(bytes)
}

/// A record's key at a nesting depth of two, `    "<id>": `, as serde pretty-prints it.
pub(crate) fn nested_key(out: &mut Vec<u8>, id: &str) -> serde_json::Result<()> {
    out.extend_from_slice(b"    ");
    if id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        // Nothing in it to escape (the frontend's tenant ids, numbers, are such words).
        out.push(b'"');
        out.extend_from_slice(id.as_bytes());
        out.push(b'"');
    } else {
        serde_json::to_writer(&mut *out, id)?;
    }
    out.extend_from_slice(b": ");
    Ok(())
}

/// `value` as serde pretty-prints it, each line after the first indented four spaces more: a
/// record at a nesting depth of two, for the encoders that write a document's records
/// themselves. JSON strings cannot hold a raw newline, so every newline is formatting.
pub(crate) fn nested_pretty(out: &mut Vec<u8>, value: &impl Serialize) -> serde_json::Result<()> {
    let standalone = serde_json::to_vec_pretty(value)?;
    out.reserve(standalone.len() + standalone.len() / 8);
    for byte in standalone {
        out.push(byte);
        if byte == b'\n' {
            out.extend_from_slice(b"    ");
        }
    }
    Ok(())
}
