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
    /// Sets `key` to `value`, in place of its previous value if it has one.
    pub(super) fn put(&mut self, key: &str, value: &str) {
        let entry = encode(key, value);
        let found = self
            .slots()
            .find(|s| &self.0[s.key.clone()] == key.as_bytes())
            .map(|s| s.start..s.value.end);
        match found {
            Some(range) => {
                self.0.splice(range, entry);
            }
            None => self.0.extend_from_slice(&entry),
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

fn encode(key: &str, value: &str) -> Vec<u8> {
    let mut entry = Vec::with_capacity(8 + key.len() + value.len());
    // A checkpoint's key or value is far below 4 GiB; saturating keeps the buffer readable.
    for len in [key.len(), value.len()] {
        let len = u32::try_from(len).unwrap_or(u32::MAX);
        entry.extend_from_slice(&len.to_le_bytes());
    }
    entry.extend_from_slice(key.as_bytes());
    entry.extend_from_slice(value.as_bytes());
    entry
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
}
