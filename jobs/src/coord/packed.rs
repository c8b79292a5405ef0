//! One cycle's checkpoint entries in the in-memory backend, packed in one buffer: for each entry
//! the key's and the value's byte lengths (little-endian `u32`) and then their bytes. Tens of
//! thousands of running cycles each hold a dozen entries; as a list of string pairs every entry
//! cost three allocations and a slot (about 80 bytes besides its text), packed it costs its text
//! and eight bytes. A cycle has tens of entries, so finding one by scanning is cheap. Holds any
//! strings: nothing in a key or a value is taken for a separator.

/// A cycle's entries, in the order their keys were first written.
#[derive(Debug, Default)]
pub(super) struct Packed(Vec<u8>);

/// Where one entry sits in the buffer.
struct Slot {
    start: usize,
    key: std::ops::Range<usize>,
    value: std::ops::Range<usize>,
}

impl Packed {
    /// Sets `key` to `value`, in place of its previous value if it has one. The buffer grows
    /// by what the entry needs, not by doubling: a running cycle's buffer grows with each group
    /// it posts, and the spare room a doubling leaves would be held by every running bot.
    pub(super) fn put(&mut self, key: &str, value: &str) {
        let found = self
            .slots()
            .find(|s| same_key(&self.0[s.key.clone()], key.as_bytes()))
            .map(|s| (s.start, s.value));
        let needed = 8 + key.len() + value.len();
        match found {
            Some((_, old)) if old.len() == value.len() => {
                self.0[old].copy_from_slice(value.as_bytes());
            }
            Some((start, old)) => {
                let grows = needed.saturating_sub(old.end - start);
                // Room first, exactly: `splice` would otherwise grow the buffer by doubling.
                self.0.reserve_exact(grows);
                self.0.splice(start..old.end, entry(key, value));
            }
            None => {
                self.0.reserve_exact(needed);
                self.0.extend(entry(key, value));
            }
        }
    }

    /// Every entry, as owned strings.
    pub(super) fn all(&self) -> Vec<(String, String)> {
        self.slots()
            .map(|s| (self.text(s.key), self.text(s.value)))
            .collect()
    }

    fn text(&self, range: std::ops::Range<usize>) -> String {
        // Only whole `str`s go in, so this is never lossy.
        String::from_utf8_lossy(&self.0[range]).into_owned()
    }

    fn slots(&self) -> impl Iterator<Item = Slot> + '_ {
        let mut at = 0;
        std::iter::from_fn(move || {
            let key_len = read_len(&self.0, at)?;
            let value_len = read_len(&self.0, at + 4)?;
            let key = at + 8..at + 8 + key_len;
            let value = key.end..key.end + value_len;
            if value.end > self.0.len() {
                return None;
            }
            let slot = Slot {
                start: at,
                key,
                value,
            };
            at = slot.value.end;
            Some(slot)
        })
    }
}

/// Compared from the end: a cycle's keys are its groups' names, which share their beginnings
/// (`-100…`, `@name_…`) and differ at the end, so a miss is seen at the first byte compared
/// rather than after a library call per entry (the scan ran on every checkpoint write).
fn same_key(stored: &[u8], key: &[u8]) -> bool {
    stored.len() == key.len() && stored.iter().rev().eq(key.iter().rev())
}

/// One entry's bytes: both lengths, then the key and the value.
fn entry<'a>(key: &'a str, value: &'a str) -> impl Iterator<Item = u8> + 'a {
    // A checkpoint's key or value is far below 4 GiB; saturating keeps the buffer readable.
    let len = |n: usize| u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes();
    len(key.len())
        .into_iter()
        .chain(len(value.len()))
        .chain(key.bytes())
        .chain(value.bytes())
}

fn read_len(buf: &[u8], at: usize) -> Option<usize> {
    let bytes: [u8; 4] = buf.get(at..at + 4)?.try_into().ok()?;
    usize::try_from(u32::from_le_bytes(bytes)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_set_replaced_and_read_back_whatever_they_hold() {
        let mut packed = Packed::default();
        assert!(packed.all().is_empty());
        packed.put("-1001", "x\u{1f}12\u{1f}s.session");
        packed.put("@group", "");
        packed.put("", "empty key");
        packed.put("-1001", "d\u{1f}\u{1f}\u{1f}k3\u{1f}host-1-a");
        packed.put("@group", "a longer value than it had before, with ünïcödé");
        assert_eq!(
            packed.all(),
            vec![
                ("-1001".into(), "d\u{1f}\u{1f}\u{1f}k3\u{1f}host-1-a".into()),
                (
                    "@group".into(),
                    "a longer value than it had before, with ünïcödé".into()
                ),
                (String::new(), "empty key".into()),
            ]
        );
    }

    #[test]
    fn the_buffer_grows_by_what_its_entries_need() {
        let mut packed = Packed::default();
        for group in 0..20 {
            packed.put(&format!("@group{group}"), "x\u{1f}12\u{1f}s.session");
            assert_eq!(packed.0.capacity(), packed.0.len());
            packed.put(
                &format!("@group{group}"),
                "d\u{1f}\u{1f}\u{1f}k3\u{1f}host-1-a",
            );
        }
        // Each done entry is shorter than the sending one it replaced: the last one's spare.
        assert!(packed.0.capacity() - packed.0.len() < 8);
        assert_eq!(packed.all().len(), 20);
    }
}
