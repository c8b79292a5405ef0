//! Writing a document of many records fast (`users.json`, `stats.json`): each record's text is
//! kept while the record is unchanged, so a write that changes one tenant of ten thousand
//! serializes one record, not all of them (a change is a new `Arc`, so pointer identity says which
//! records changed). The output is byte for byte what `serde_json::to_vec_pretty` gives for the
//! whole document. It must never be used for a document whose records are not its first field.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::Serialize;

/// A document whose first serialized field is `"users"`, a map of shared records.
pub trait Records: Serialize {
    type Record: Serialize + Send + Sync + 'static;

    fn records(&self) -> &BTreeMap<String, Arc<Self::Record>>;

    /// The document without its records (everything else as it is).
    fn shell(&self) -> Self;
}

/// Each tenant's pretty-printed record, with the record it was made from.
#[derive(Debug)]
pub struct RecordsEncoder<D: Records> {
    records: HashMap<String, (Arc<D::Record>, Vec<u8>)>,
}

impl<D: Records> Default for RecordsEncoder<D> {
    fn default() -> Self {
        RecordsEncoder {
            records: HashMap::new(),
        }
    }
}

impl<D: Records + 'static> crate::doc_file::Encoder<D> for RecordsEncoder<D> {
    fn encode(&mut self, doc: &D) -> serde_json::Result<Vec<u8>> {
        // Everything but the records, through serde, so field order and formatting stay serde's.
        let shell = serde_json::to_vec_pretty(&doc.shell())?;
        // The shell starts `{\n  "users": {}`: the records' map goes in place of its `{}`.
        let at = b"{\n  \"users\": ".len();
        debug_assert!(shell.starts_with(b"{\n  \"users\": {}"));
        let users = doc.records();
        let records: usize = self.records.values().map(|(_, b)| b.len() + 32).sum();
        let mut out = Vec::with_capacity(shell.len() + records + 64);
        out.extend_from_slice(&shell[..at]);
        if users.is_empty() {
            out.extend_from_slice(b"{}");
        } else {
            out.extend_from_slice(b"{\n");
            for (i, (id, record)) in users.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(b",\n");
                }
                out.extend_from_slice(b"    ");
                serde_json::to_writer(&mut out, id)?;
                out.extend_from_slice(b": ");
                out.extend_from_slice(self.record(id, record)?);
            }
            out.extend_from_slice(b"\n  }");
        }
        out.extend_from_slice(&shell[at + 2..]);
        // Records of removed tenants go too (rare: checked only when the counts say so).
        if self.records.len() > users.len() {
            self.records.retain(|id, _| users.contains_key(id));
        }
        Ok(out)
    }
}

impl<D: Records> RecordsEncoder<D> {
    /// The record's text at a nesting depth of two (four spaces more than standalone).
    fn record(&mut self, id: &str, record: &Arc<D::Record>) -> serde_json::Result<&[u8]> {
        let fresh = self
            .records
            .get(id)
            .is_none_or(|(seen, _)| !Arc::ptr_eq(seen, record));
        if fresh {
            let standalone = serde_json::to_vec_pretty(&**record)?;
            let mut nested = Vec::with_capacity(standalone.len() + standalone.len() / 8);
            // JSON strings cannot hold a raw newline, so every newline is formatting.
            for byte in standalone {
                nested.push(byte);
                if byte == b'\n' {
                    nested.extend_from_slice(b"    ");
                }
            }
            self.records.insert(id.to_owned(), (record.clone(), nested));
        }
        Ok(self
            .records
            .get(id)
            .map(|(_, b)| b.as_slice())
            .unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc_file::Encoder;
    use crate::stats::{FlushMark, StatsDoc, UserStats};
    use crate::users::{BanRecord, BlockedGroup, User, UsersDoc};

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

    #[test]
    fn the_output_is_exactly_serdes_before_and_after_changes() {
        let mut encoder = RecordsEncoder::<UsersDoc>::default();
        let mut d = doc(5);
        assert_eq!(
            encoder.encode(&d).unwrap(),
            serde_json::to_vec_pretty(&d).unwrap()
        );
        Arc::make_mut(d.users.get_mut("user 3").unwrap()).post_content = "changed".into();
        d.users.remove("user 1");
        assert_eq!(
            encoder.encode(&d).unwrap(),
            serde_json::to_vec_pretty(&d).unwrap()
        );
        for empty in [UsersDoc::default(), doc(0), doc(1)] {
            assert_eq!(
                RecordsEncoder::<UsersDoc>::default()
                    .encode(&empty)
                    .unwrap(),
                serde_json::to_vec_pretty(&empty).unwrap()
            );
        }
    }

    #[test]
    fn counters_too_are_exactly_serdes_before_and_after_a_flush() {
        let mut d = StatsDoc::default();
        for i in 0..4 {
            let mut stats = UserStats {
                total_posts: i,
                last_activity: Some(chrono::Utc::now()),
                ..UserStats::default()
            };
            stats.extra.insert("streak".into(), serde_json::json!(i));
            d.users.insert(format!("{i}"), Arc::new(stats));
        }
        d.extra.insert("note".into(), serde_json::json!("kept"));
        let mut encoder = RecordsEncoder::<StatsDoc>::default();
        assert_eq!(
            encoder.encode(&d).unwrap(),
            serde_json::to_vec_pretty(&d).unwrap()
        );
        Arc::make_mut(d.users.get_mut("2").unwrap()).total_posts += 1;
        d.flushes.insert(
            "host-1-abc".into(),
            FlushMark {
                seq: 7,
                at: chrono::Utc::now(),
            },
        );
        assert_eq!(
            encoder.encode(&d).unwrap(),
            serde_json::to_vec_pretty(&d).unwrap()
        );
        assert_eq!(
            RecordsEncoder::<StatsDoc>::default()
                .encode(&StatsDoc::default())
                .unwrap(),
            serde_json::to_vec_pretty(&StatsDoc::default()).unwrap()
        );
    }
}
