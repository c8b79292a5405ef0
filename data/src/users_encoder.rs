//! Writing `users.json` fast and small: a write that changes one tenant of ten thousand
//! serializes that one record and copies every other record's text from the file the previous
//! write produced (a change is a new `Arc`, so pointer identity says which records changed). The
//! output is byte for byte what `serde_json::to_vec_pretty` gives for the whole document.
//!
//! What it keeps between writes is where each record's text sits in that file (its descriptor is
//! kept, so the inode outlives the rename that replaces it), not the text itself: the text of
//! every record was the largest part of an idle deployment's memory (1.7 KB a tenant,
//! BENCHMARKS.md, cost). Records that follow each other in both versions are copied with one
//! read. A read that fails, or bytes that do not look like the record they should be, are never
//! written: the whole document is then serialized afresh.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use crate::output::{Output, SPILL_AT};
use crate::users::{User, UsersDoc};

/// Where one record's entry (`    "<id>": {...}`, without the separator before it) sits in a
/// file this encoder made.
#[derive(Debug)]
struct Span {
    id: String,
    record: Arc<User>,
    offset: u64,
    len: u64,
}

/// The file of the last write, and its records' spans in id order.
#[derive(Debug)]
struct Written {
    file: File,
    spans: Vec<Span>,
}

#[derive(Debug, Default)]
pub struct UsersEncoder {
    last: Option<Written>,
    /// The spans of the last `encode`, until `written` says its bytes are the file.
    pending: Option<Vec<Span>>,
}

impl crate::document::Encoder<UsersDoc> for UsersEncoder {
    fn encode(&mut self, doc: &UsersDoc, out: &mut Output<'_>) -> serde_json::Result<()> {
        if !self.encode_reusing(doc, true, out)? {
            // The previous file could not serve a copy: forget it, serialize everything.
            self.last = None;
            out.restart()?;
            self.encode_reusing(doc, false, out)?;
        }
        Ok(())
    }

    fn written(&mut self, written: &File) {
        let spans = self.pending.take();
        self.last = match (spans, written.try_clone()) {
            (Some(spans), Ok(file)) => Some(Written { file, spans }),
            // Without a handle on the file the next write serializes every record.
            _ => None,
        };
    }
}

/// Consecutive records' entries to copy from the previous file: `start..end` there.
struct Run {
    start: u64,
    end: u64,
}

impl UsersEncoder {
    /// Writes the document, copying unchanged records from the last file when `reuse`; false
    /// when a copy failed (`out` then holds part of it).
    ///
    /// Long because the run of bytes still to copy and the offsets of the spans it records are
    /// one state over the records, in id order; split, both would pass through every piece.
    fn encode_reusing(
        &mut self,
        doc: &UsersDoc,
        reuse: bool,
        out: &mut Output<'_>,
    ) -> serde_json::Result<bool> {
        // Everything but the records, through serde, so field order and formatting stay serde's.
        let shell = UsersDoc {
            users: Default::default(),
            bindings: doc.bindings.clone(),
            unowned_bans: doc.unowned_bans.clone(),
            extra: doc.extra.clone(),
        };
        let shell = serde_json::to_vec_pretty(&shell)?;
        // The shell starts `{\n  "users": {}`: the records' map goes in place of its `{}`.
        let at = b"{\n  \"users\": ".len();
        let previous = self.last.as_mut().filter(|_| reuse);
        out.buf().extend_from_slice(&shell[..at]);
        let mut spans = Vec::with_capacity(doc.users.len());
        if doc.users.is_empty() {
            out.buf().extend_from_slice(b"{}");
        } else {
            out.buf().extend_from_slice(b"{\n");
            let (file, mut old) = match previous {
                Some(p) => (
                    Some(&p.file),
                    std::mem::take(&mut p.spans).into_iter().peekable(),
                ),
                None => (None, Vec::new().into_iter().peekable()),
            };
            let mut run: Option<Run> = None;
            for (i, (id, user)) in doc.users.iter().enumerate() {
                // Both lists are in id order: skip the removed tenants' spans.
                while old.peek().is_some_and(|s| s.id.as_str() < id.as_str()) {
                    old.next();
                }
                let same = old.next_if(|s| s.id == *id);
                let reused = same.as_ref().filter(|s| Arc::ptr_eq(&s.record, user));
                // Where the entry lands in the output, counting the run not yet copied.
                let pending = run.as_ref().map_or(0, |r| r.end - r.start);
                let offset = out.position() + pending + if i > 0 { 2 } else { 0 };
                let entry_len = match (reused, file) {
                    (Some(span), Some(_)) => {
                        let extends = run.as_ref().is_some_and(|r| r.end + 2 == span.offset);
                        if extends {
                            if let Some(r) = run.as_mut() {
                                r.end = span.offset + span.len;
                            }
                        } else {
                            if let (Some(r), Some(file)) = (run.take(), file)
                                && !copy(file, &r, out)?
                            {
                                return Ok(false);
                            }
                            if i > 0 {
                                out.buf().extend_from_slice(b",\n");
                            }
                            run = Some(Run {
                                start: span.offset,
                                end: span.offset + span.len,
                            });
                        }
                        span.len
                    }
                    _ => {
                        if let (Some(r), Some(file)) = (run.take(), file)
                            && !copy(file, &r, out)?
                        {
                            return Ok(false);
                        }
                        if i > 0 {
                            out.buf().extend_from_slice(b",\n");
                        }
                        let before = out.position();
                        entry(out.buf(), id, user)?;
                        let len = out.position() - before;
                        out.spill()?;
                        len
                    }
                };
                let id = match same {
                    Some(span) => span.id,
                    None => id.clone(),
                };
                spans.push(Span {
                    id,
                    record: user.clone(),
                    offset,
                    len: entry_len,
                });
            }
            if let (Some(r), Some(file)) = (run.take(), file)
                && !copy(file, &r, out)?
            {
                return Ok(false);
            }
            out.buf().extend_from_slice(b"\n  }");
        }
        out.buf().extend_from_slice(&shell[at + 2..]);
        self.pending = Some(spans);
        Ok(true)
    }
}

/// One record's entry at a nesting depth of two: `    "<id>": {...}` with the record's lines
/// indented four spaces more than standalone.
fn entry(out: &mut Vec<u8>, id: &str, user: &User) -> serde_json::Result<()> {
    crate::document::nested_key(out, id)?;
    crate::document::nested_pretty(out, user)
}

/// Appends `run` of the previous file to `out`, a spill's worth at a time; false when it cannot
/// be read or is not a run of entries (it must open an entry and close a record). `out` then
/// holds part of it, and the caller starts the output again.
fn copy(file: &File, run: &Run, out: &mut Output<'_>) -> serde_json::Result<bool> {
    let mut at = run.start;
    while at < run.end {
        // At most a spill's worth, so it fits a usize.
        let len = (run.end - at).min(SPILL_AT as u64) as usize;
        let buf = out.buf();
        let from = buf.len();
        buf.resize(from + len, 0);
        if file.read_exact_at(&mut buf[from..], at).is_err()
            || (at == run.start && !buf[from..].starts_with(b"    \""))
        {
            return Ok(false);
        }
        at += len as u64;
        if at == run.end && buf.last() != Some(&b'}') {
            return Ok(false);
        }
        out.spill()?;
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::Encoder;
    use crate::users::{BanRecord, BlockedGroup};

    fn doc(n: usize) -> UsersDoc {
        let mut doc = UsersDoc::default();
        for i in 0..n {
            let mut user = User {
                groups: vec![format!("-100{i}"), "@with \"quotes\"\nand newline".into()],
                assigned_sessions: vec![format!("s{i}.session")],
                api_pairs: vec![0],
                ..User::default()
            };
            user.extra.insert(
                "nested".into(),
                serde_json::json!({"a": [1, {"b": null}], "c": {}}),
            );
            if i % 2 == 0 {
                user.blocked_groups.push(BlockedGroup {
                    group: "-1001".into(),
                    reason: "X".into(),
                    at: chrono::Utc::now(),
                });
            }
            doc.users.insert(format!("user {i}"), Arc::new(user));
            doc.bindings.insert(format!("s{i}.session"), 0);
        }
        doc.unowned_bans.insert(
            "b.session".into(),
            BanRecord {
                reason: "r".into(),
                at: chrono::Utc::now(),
            },
        );
        doc.extra.insert("schema".into(), serde_json::json!(2));
        doc
    }

    fn encode(encoder: &mut UsersEncoder, doc: &UsersDoc) -> Vec<u8> {
        crate::document::encode_to_vec(encoder, doc).unwrap()
    }

    /// Encodes `doc` and makes the bytes the "file", as the committer does after a write.
    fn write(encoder: &mut UsersEncoder, doc: &UsersDoc, dir: &std::path::Path) -> Vec<u8> {
        let bytes = encode(encoder, doc);
        let path = dir.join(format!("users-{}.json", rand::random::<u64>()));
        std::fs::write(&path, &bytes).unwrap();
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        encoder.written(&file);
        // Replaced by the next write: the encoder must read through its own handle.
        std::fs::remove_file(&path).unwrap();
        bytes
    }

    fn pretty(doc: &UsersDoc) -> Vec<u8> {
        serde_json::to_vec_pretty(doc).unwrap()
    }

    #[test]
    fn the_output_is_exactly_serdes_before_and_after_changes() {
        let dir = tempfile::tempdir().unwrap();
        let mut encoder = UsersEncoder::default();
        let mut d = doc(9);
        assert_eq!(write(&mut encoder, &d, dir.path()), pretty(&d));
        assert_eq!(write(&mut encoder, &d, dir.path()), pretty(&d), "unchanged");
        Arc::make_mut(d.users.get_mut("user 3").unwrap()).post_content = "changed".into();
        d.users.remove("user 1");
        assert_eq!(write(&mut encoder, &d, dir.path()), pretty(&d));
        // New tenants first, in the middle and last in id order; the first and last changed.
        for id in ["a first", "user 55", "zz last"] {
            d.users.insert(id.into(), Arc::new(User::default()));
        }
        assert_eq!(write(&mut encoder, &d, dir.path()), pretty(&d));
        Arc::make_mut(d.users.get_mut("a first").unwrap()).post_content = "x".into();
        Arc::make_mut(d.users.get_mut("zz last").unwrap()).post_content = "y".into();
        d.users.remove("user 8");
        assert_eq!(write(&mut encoder, &d, dir.path()), pretty(&d));
        d.bindings.clear();
        assert_eq!(
            write(&mut encoder, &d, dir.path()),
            pretty(&d),
            "the shell changed"
        );
        d.users.clear();
        assert_eq!(
            write(&mut encoder, &d, dir.path()),
            pretty(&d),
            "no tenants left"
        );
        for empty in [UsersDoc::default(), doc(0), doc(1)] {
            assert_eq!(
                crate::document::encode_to_vec(&mut UsersEncoder::default(), &empty).unwrap(),
                pretty(&empty)
            );
        }
    }

    #[test]
    fn unchanged_records_are_copied_from_the_last_file_written() {
        let dir = tempfile::tempdir().unwrap();
        let mut encoder = UsersEncoder::default();
        let mut d = doc(5);
        write(&mut encoder, &d, dir.path());
        // The second file copies users 0-3 from the first in one run.
        Arc::make_mut(d.users.get_mut("user 4").unwrap()).post_content = "changed".into();
        let bytes = encode(&mut encoder, &d);
        // That file now holds a record whose text differs from what serde makes of it (same
        // length): what the next write gives is the file's, so the record was copied, not
        // serialized, from where the second write put it.
        let text = String::from_utf8(bytes).unwrap();
        let at = text.find("\"user 2\"").unwrap();
        let tampered = format!(
            "{}{}",
            &text[..at],
            text[at..].replacen("\"-1001\"", "\"-1009\"", 1)
        );
        assert_ne!(text, tampered);
        let path = dir.path().join("users.json");
        std::fs::write(&path, &tampered).unwrap();
        encoder.written(&std::fs::File::open(&path).unwrap());
        Arc::make_mut(d.users.get_mut("user 3").unwrap()).post_content = "again".into();
        let third = String::from_utf8(encode(&mut encoder, &d)).unwrap();
        assert!(
            third.contains("\"-1009\""),
            "user 2 was serialized, not copied"
        );
        assert_eq!(
            third.replacen("\"-1009\"", "\"-1001\"", 1).as_bytes(),
            pretty(&d)
        );
    }

    #[test]
    fn a_write_that_did_not_happen_is_never_copied_from() {
        let dir = tempfile::tempdir().unwrap();
        let mut encoder = UsersEncoder::default();
        let mut d = doc(6);
        write(&mut encoder, &d, dir.path());
        // Encoded, then the write failed: the spans of that output describe no file.
        Arc::make_mut(d.users.get_mut("user 0").unwrap()).post_content =
            "a much longer text than before".into();
        encode(&mut encoder, &d);
        Arc::make_mut(d.users.get_mut("user 2").unwrap()).post_content = "b".into();
        assert_eq!(write(&mut encoder, &d, dir.path()), pretty(&d));
        assert_eq!(write(&mut encoder, &d, dir.path()), pretty(&d));
    }

    /// Encodes `doc` into `path` and makes it the encoder's last file; its handle, to damage.
    fn write_kept(encoder: &mut UsersEncoder, doc: &UsersDoc, path: &std::path::Path) -> File {
        std::fs::write(path, encode(encoder, doc)).unwrap();
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .unwrap();
        encoder.written(&file);
        file
    }

    #[test]
    fn a_last_file_that_cannot_serve_a_copy_means_a_full_encode() {
        let dir = tempfile::tempdir().unwrap();
        let mut encoder = UsersEncoder::default();
        let mut d = doc(6);
        let file = write_kept(&mut encoder, &d, &dir.path().join("users.json"));
        // Someone truncated the inode under us: no copy can be made from it.
        file.set_len(10).unwrap();
        Arc::make_mut(d.users.get_mut("user 4").unwrap()).post_content = "c".into();
        assert_eq!(encode(&mut encoder, &d), pretty(&d));
    }

    #[test]
    fn a_document_larger_than_a_spill_is_copied_and_written_in_pieces() {
        let dir = tempfile::tempdir().unwrap();
        let mut encoder = UsersEncoder::default();
        let mut d = doc(1500);
        let first = write(&mut encoder, &d, dir.path());
        assert!(first.len() > 4 * 64 * 1024, "{} bytes", first.len());
        assert_eq!(first, pretty(&d));
        // One change in the middle: two runs copied, each longer than a spill.
        Arc::make_mut(d.users.get_mut("user 700").unwrap()).post_content = "changed".into();
        let path = dir.path().join("users.json");
        let file = write_kept(&mut encoder, &d, &path);
        assert_eq!(std::fs::read(&path).unwrap(), pretty(&d));
        // The previous file loses its end: the last run's first pieces are out before its
        // last piece cannot be read, and the write starts over, whole.
        file.set_len(file.metadata().unwrap().len() - 1000).unwrap();
        Arc::make_mut(d.users.get_mut("user 1").unwrap()).post_content = "again".into();
        assert_eq!(encode(&mut encoder, &d), pretty(&d));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// Any sequence of tenants added, changed and removed, with writes that fail between
        /// them, gives serde's bytes at every write.
        #[test]
        fn any_history_of_changes_gives_serdes_bytes(
            steps in proptest::collection::vec((0u8..4, 0u16..40, proptest::bool::ANY), 1..40)
        ) {
            let dir = tempfile::tempdir().unwrap();
            let mut encoder = UsersEncoder::default();
            let mut d = doc(12);
            for (op, n, lands) in steps {
                let id = format!("user {n}");
                match op {
                    0 => { d.users.insert(id, Arc::new(User::default())); }
                    1 => { d.users.remove(&id); }
                    _ => if let Some(user) = d.users.get_mut(&id) {
                        Arc::make_mut(user).post_content = "x".repeat(usize::from(n));
                    },
                }
                if lands {
                    proptest::prop_assert_eq!(write(&mut encoder, &d, dir.path()), pretty(&d));
                } else {
                    proptest::prop_assert_eq!(encode(&mut encoder, &d), pretty(&d));
                }
            }
        }
    }
}
