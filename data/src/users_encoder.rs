//! Writing `users.json` fast: each record's text is kept while the record is unchanged, so a write
//! that changes one tenant of ten thousand serializes one record, not all of them (a change is a
//! new `Arc`, so pointer identity says which records changed). The output is byte for byte what
//! `serde_json::to_vec_pretty` gives for the whole document.

use std::collections::HashMap;
use std::sync::Arc;

use crate::users::{User, UsersDoc};

/// Each tenant's pretty-printed record, with the record it was made from.
#[derive(Debug, Default)]
pub struct UsersEncoder {
    records: HashMap<String, (Arc<User>, Vec<u8>)>,
}

impl crate::doc_file::Encoder<UsersDoc> for UsersEncoder {
    fn encode(&mut self, doc: &UsersDoc) -> serde_json::Result<Vec<u8>> {
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
        let records: usize = self.records.values().map(|(_, b)| b.len() + 32).sum();
        let mut out = Vec::with_capacity(shell.len() + records + 64);
        out.extend_from_slice(&shell[..at]);
        if doc.users.is_empty() {
            out.extend_from_slice(b"{}");
        } else {
            out.extend_from_slice(b"{\n");
            for (i, (id, user)) in doc.users.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(b",\n");
                }
                out.extend_from_slice(b"    ");
                serde_json::to_writer(&mut out, id)?;
                out.extend_from_slice(b": ");
                out.extend_from_slice(self.record(id, user)?);
            }
            out.extend_from_slice(b"\n  }");
        }
        out.extend_from_slice(&shell[at + 2..]);
        // Records of removed tenants go too (rare: checked only when the counts say so).
        if self.records.len() > doc.users.len() {
            self.records.retain(|id, _| doc.users.contains_key(id));
        }
        Ok(out)
    }
}

impl UsersEncoder {
    /// The record's text at a nesting depth of two (four spaces more than standalone).
    fn record(&mut self, id: &str, user: &Arc<User>) -> serde_json::Result<&[u8]> {
        let fresh = self
            .records
            .get(id)
            .is_none_or(|(seen, _)| !Arc::ptr_eq(seen, user));
        if fresh {
            let standalone = serde_json::to_vec_pretty(&**user)?;
            let mut nested = Vec::with_capacity(standalone.len() + standalone.len() / 8);
            // JSON strings cannot hold a raw newline, so every newline is formatting.
            for byte in standalone {
                nested.push(byte);
                if byte == b'\n' {
                    nested.extend_from_slice(b"    ");
                }
            }
            self.records.insert(id.to_owned(), (user.clone(), nested));
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

    #[test]
    fn the_output_is_exactly_serdes_before_and_after_changes() {
        let mut encoder = UsersEncoder::default();
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
                UsersEncoder::default().encode(&empty).unwrap(),
                serde_json::to_vec_pretty(&empty).unwrap()
            );
        }
    }
}
