//! Writing `stats.json` cheaply: the counter flusher rewrites the whole file every second while
//! bots post, and serde's pretty printer spent most of that writer's CPU on the ten thousand
//! records' field names and on growing its buffer (BENCHMARKS.md, cost). A record whose only
//! fields are the counters is written here directly; a record carrying fields Herald does not
//! know (kept from the old backend) and everything around the records go through serde. The
//! output is byte for byte what `serde_json::to_vec_pretty` gives for the whole document, which
//! a test holds it to.

use chrono::{DateTime, Utc};

use crate::stats::{StatsDoc, UserStats};

#[derive(Debug, Default)]
pub struct StatsEncoder {
    /// The last output's length: the next is about as long, so its buffer is made once.
    last_len: usize,
}

impl crate::doc_file::Encoder<StatsDoc> for StatsEncoder {
    fn encode(&mut self, doc: &StatsDoc) -> serde_json::Result<Vec<u8>> {
        // Everything but the records, through serde, so field order and formatting stay serde's.
        let shell = StatsDoc {
            users: Default::default(),
            flushes: doc.flushes.clone(),
            extra: doc.extra.clone(),
        };
        let shell = serde_json::to_vec_pretty(&shell)?;
        // The shell starts `{\n  "users": {}`: the records' map goes in place of its `{}`.
        let at = b"{\n  \"users\": ".len();
        let mut out = Vec::with_capacity(
            self.last_len
                .max(shell.len() + doc.users.len() * 256)
                .saturating_add(4096),
        );
        out.extend_from_slice(&shell[..at]);
        if doc.users.is_empty() {
            out.extend_from_slice(b"{}");
        } else {
            out.extend_from_slice(b"{\n");
            for (i, (id, stats)) in doc.users.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(b",\n");
                }
                entry(&mut out, id, stats)?;
            }
            out.extend_from_slice(b"\n  }");
        }
        out.extend_from_slice(&shell[at + 2..]);
        self.last_len = out.len();
        Ok(out)
    }
}

/// One record's entry at a nesting depth of two: `    "<id>": {...}`.
fn entry(out: &mut Vec<u8>, id: &str, stats: &UserStats) -> serde_json::Result<()> {
    out.extend_from_slice(b"    ");
    serde_json::to_writer(&mut *out, id)?;
    out.extend_from_slice(b": ");
    if !stats.extra.is_empty() {
        let standalone = serde_json::to_vec_pretty(stats)?;
        // JSON strings cannot hold a raw newline, so every newline is formatting.
        for byte in standalone {
            out.push(byte);
            if byte == b'\n' {
                out.extend_from_slice(b"    ");
            }
        }
        return Ok(());
    }
    // The fields in `UserStats`' order, as serde writes them.
    let counters = [
        ("total_posts", stats.total_posts),
        ("total_success", stats.total_success),
        ("total_failures", stats.total_failures),
        ("total_flood_waits", stats.total_flood_waits),
        ("total_messages_sent", stats.total_messages_sent),
    ];
    out.extend_from_slice(b"{\n");
    let mut number = itoa::Buffer::new();
    for (name, value) in counters {
        out.extend_from_slice(b"      \"");
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b"\": ");
        out.extend_from_slice(number.format(value).as_bytes());
        out.extend_from_slice(b",\n");
    }
    out.extend_from_slice(b"      \"last_activity\": ");
    time(out, stats.last_activity.as_ref())?;
    out.extend_from_slice(b"\n    }");
    Ok(())
}

fn time(out: &mut Vec<u8>, at: Option<&DateTime<Utc>>) -> serde_json::Result<()> {
    match at {
        // chrono's own serialization, so the text is exactly what serde would write.
        Some(at) => serde_json::to_writer(&mut *out, at),
        None => {
            out.extend_from_slice(b"null");
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc_file::Encoder;
    use crate::stats::FlushMark;

    fn doc(n: usize) -> StatsDoc {
        let mut doc = StatsDoc::default();
        for i in 0..n {
            let mut stats = UserStats {
                total_posts: i as u64 * 1_000_003,
                total_success: i as u64,
                total_failures: u64::MAX - i as u64,
                total_flood_waits: 0,
                total_messages_sent: 7,
                last_activity: (i % 3 != 0)
                    .then(|| DateTime::from_timestamp(1_700_000_000 + i as i64, i as u32 * 1000))
                    .flatten(),
                ..UserStats::default()
            };
            if i % 4 == 1 {
                stats.extra.insert(
                    "streak".into(),
                    serde_json::json!({"days": [1, 2, {"x": null}], "note": "a\nb \"q\""}),
                );
            }
            doc.users
                .insert(format!("user {i} \"quoted\" é\u{1}"), stats);
        }
        doc
    }

    #[test]
    fn writes_exactly_what_serde_pretty_writes() {
        let mut encoder = StatsEncoder::default();
        let empty = StatsDoc::default();
        assert_eq!(
            encoder.encode(&empty).unwrap(),
            serde_json::to_vec_pretty(&empty).unwrap()
        );
        let mut with_all = doc(40);
        with_all.flushes.insert(
            "host-1-0000abcd".into(),
            FlushMark {
                seq: 9,
                at: DateTime::from_timestamp(1_700_000_000, 5).unwrap(),
            },
        );
        with_all
            .extra
            .insert("from_old_backend".into(), serde_json::json!([1, "two"]));
        for doc in [doc(1), doc(2), doc(40), with_all] {
            let ours = encoder.encode(&doc).unwrap();
            assert_eq!(
                String::from_utf8(ours).unwrap(),
                String::from_utf8(serde_json::to_vec_pretty(&doc).unwrap()).unwrap()
            );
        }
    }
}
