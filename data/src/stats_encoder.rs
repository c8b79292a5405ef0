//! Writing `stats.json` cheaply: the counter flusher rewrites the whole file every second while
//! bots post, and serde's pretty printer spent most of that writer's CPU on the ten thousand
//! records' field names and on growing its buffer (BENCHMARKS.md, cost). A record whose only
//! fields are the counters is written here directly; a record carrying fields Herald does not
//! know (kept from the old backend) and everything around the records go through serde. The
//! output is byte for byte what `serde_json::to_vec_pretty` gives for the whole document, which
//! a test holds it to.

use chrono::{DateTime, Datelike, Timelike, Utc};

use crate::output::Output;
use crate::stats::{StatsDoc, UserStats};

#[derive(Debug, Default)]
pub struct StatsEncoder;

impl crate::document::Encoder<StatsDoc> for StatsEncoder {
    fn encode(&mut self, doc: &StatsDoc, out: &mut Output<'_>) -> serde_json::Result<()> {
        // Everything but the records, through serde, so field order and formatting stay serde's.
        let shell = StatsDoc {
            users: Default::default(),
            flushes: doc.flushes.clone(),
            extra: doc.extra.clone(),
        };
        let shell = serde_json::to_vec_pretty(&shell)?;
        // The shell starts `{\n  "users": {}`: the records' map goes in place of its `{}`.
        let at = b"{\n  \"users\": ".len();
        out.buf().extend_from_slice(&shell[..at]);
        if doc.users.is_empty() {
            out.buf().extend_from_slice(b"{}");
        } else {
            out.buf().extend_from_slice(b"{\n");
            for (i, (id, stats)) in doc.users.iter().enumerate() {
                if i > 0 {
                    out.buf().extend_from_slice(b",\n");
                }
                entry(out.buf(), id, stats)?;
                out.spill()?;
            }
            out.buf().extend_from_slice(b"\n  }");
        }
        out.buf().extend_from_slice(&shell[at + 2..]);
        Ok(())
    }
}

/// One record's entry at a nesting depth of two: `    "<id>": {...}`.
fn entry(out: &mut Vec<u8>, id: &str, stats: &UserStats) -> serde_json::Result<()> {
    crate::document::nested_key(out, id)?;
    if !stats.extra.is_empty() {
        return crate::document::nested_pretty(out, stats);
    }
    // Destructured whole, so a field added to `UserStats` cannot be left out here; written in
    // its declaration order, as serde writes them.
    let UserStats {
        total_posts,
        total_success,
        total_failures,
        total_flood_waits,
        total_messages_sent,
        last_activity,
        extra: _,
    } = stats;
    let counters = [
        ("total_posts", total_posts),
        ("total_success", total_success),
        ("total_failures", total_failures),
        ("total_flood_waits", total_flood_waits),
        ("total_messages_sent", total_messages_sent),
    ];
    out.extend_from_slice(b"{\n");
    let mut number = itoa::Buffer::new();
    for (name, value) in counters {
        out.extend_from_slice(b"      \"");
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b"\": ");
        out.extend_from_slice(number.format(*value).as_bytes());
        out.extend_from_slice(b",\n");
    }
    out.extend_from_slice(b"      \"last_activity\": ");
    time(out, last_activity.as_ref())?;
    out.extend_from_slice(b"\n    }");
    Ok(())
}

fn time(out: &mut Vec<u8>, at: Option<&DateTime<Utc>>) -> serde_json::Result<()> {
    match at {
        Some(at) if (0..=9999).contains(&at.year()) && at.nanosecond() < 1_000_000_000 => {
            rfc3339(out, at);
            Ok(())
        }
        // Far years and leap seconds: chrono's own serialization.
        Some(at) => serde_json::to_writer(&mut *out, at),
        None => {
            out.extend_from_slice(b"null");
            Ok(())
        }
    }
}

/// `"YYYY-MM-DDTHH:MM:SS[.fff|.ffffff|.fffffffff]Z"`, as chrono serializes a UTC time (RFC 3339
/// with as many fraction digits as the nanoseconds need, a multiple of three) for a year of four
/// digits and no leap second; a test holds the two to each other.
fn rfc3339(out: &mut Vec<u8>, at: &DateTime<Utc>) {
    let two = |out: &mut Vec<u8>, n: u32| {
        out.extend_from_slice(&[b'0' + (n / 10) as u8, b'0' + (n % 10) as u8])
    };
    let year = at.year().unsigned_abs();
    out.push(b'"');
    two(out, year / 100);
    two(out, year % 100);
    out.push(b'-');
    two(out, at.month());
    out.push(b'-');
    two(out, at.day());
    out.push(b'T');
    two(out, at.hour());
    out.push(b':');
    two(out, at.minute());
    out.push(b':');
    two(out, at.second());
    let nano = at.nanosecond();
    let (digits, value) = if nano == 0 {
        (0, 0)
    } else if nano.is_multiple_of(1_000_000) {
        (3, nano / 1_000_000)
    } else if nano.is_multiple_of(1_000) {
        (6, nano / 1_000)
    } else {
        (9, nano)
    };
    if digits > 0 {
        out.push(b'.');
        let mut text = [b'0'; 9];
        let mut rest = value;
        for slot in text[..digits].iter_mut().rev() {
            *slot = b'0' + (rest % 10) as u8;
            rest /= 10;
        }
        out.extend_from_slice(&text[..digits]);
    }
    out.extend_from_slice(b"Z\"");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::FlushMark;
    use proptest::prelude::*;

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
            let id = if i % 2 == 0 {
                format!("user {i} \"quoted\" é\u{1}")
            } else {
                format!("u-{i}_X")
            };
            doc.users.insert(id, stats);
        }
        doc
    }

    proptest! {
        /// Any time, as chrono's serde writes it (far years and leap seconds go through chrono).
        #[test]
        fn times_are_written_as_chrono_writes_them(
            secs in -80_000_000_000i64..300_000_000_000,
            nanos in prop_oneof![
                Just(0u32),
                (0u32..1000).prop_map(|n| n * 1_000_000),
                (0u32..1_000_000).prop_map(|n| n * 1_000),
                0u32..2_000_000_000,
            ],
        ) {
            // Nanoseconds past a second are a leap second, valid only at a minute's last second.
            let Some(at) = DateTime::from_timestamp(secs, nanos) else {
                return Ok(());
            };
            let mut ours = Vec::new();
            time(&mut ours, Some(&at)).unwrap();
            prop_assert_eq!(
                String::from_utf8(ours).unwrap(),
                serde_json::to_string(&at).unwrap()
            );
        }
    }

    #[test]
    fn writes_exactly_what_serde_pretty_writes() {
        let mut encoder = StatsEncoder;
        let empty = StatsDoc::default();
        assert_eq!(
            crate::document::encode_to_vec(&mut encoder, &empty).unwrap(),
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
            let ours = crate::document::encode_to_vec(&mut encoder, &doc).unwrap();
            assert_eq!(
                String::from_utf8(ours).unwrap(),
                String::from_utf8(serde_json::to_vec_pretty(&doc).unwrap()).unwrap()
            );
        }
    }
}
