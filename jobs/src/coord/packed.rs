//! One cycle's checkpoint entries in the in-memory backend, packed in one buffer: for each entry
//! the key's and the value's byte lengths (LEB128, one byte each below 128) and then their bytes.
//! Tens of thousands of running cycles each hold a dozen entries; as a list of string pairs every
//! entry cost three allocations and a slot (about 80 bytes besides its text), packed it costs its
//! text and two bytes. A posted group's settled entry is its name and `d`, so the lengths were a
//! third of it when they took eight bytes, and every running bot's grew through its cycle
//! (BENCHMARKS.md, cost). A cycle has tens of entries, so finding one by scanning is cheap. Holds
//! any strings: nothing in a key or a value is taken for a separator.

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
        let (needed, bytes) = entry(key, value);
        match found {
            Some((_, old)) if old.len() == value.len() => {
                self.0[old].copy_from_slice(value.as_bytes());
            }
            Some((start, old)) => {
                let grows = needed.saturating_sub(old.end - start);
                // Room first, exactly: `splice` would otherwise grow the buffer by doubling.
                self.0.reserve_exact(grows);
                self.0.splice(start..old.end, bytes);
            }
            None => {
                self.0.reserve_exact(needed);
                self.0.extend(bytes);
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
            let (key_len, after_key_len) = read_len(&self.0, at)?;
            let (value_len, body) = read_len(&self.0, after_key_len)?;
            let key = body..body + key_len;
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

/// One entry's size and its bytes: both lengths, then the key and the value.
fn entry<'a>(key: &'a str, value: &'a str) -> (usize, impl Iterator<Item = u8> + 'a) {
    let (key_len, value_len) = (Leb128::new(key.len()), Leb128::new(value.len()));
    let size = key_len.len + value_len.len + key.len() + value.len();
    let bytes = key_len
        .into_bytes()
        .chain(value_len.into_bytes())
        .chain(key.bytes())
        .chain(value.bytes());
    (size, bytes)
}

/// A length in LEB128: seven bits a byte, low bits first, the top bit set on all but the last.
struct Leb128 {
    bytes: [u8; 10],
    len: usize,
}

impl Leb128 {
    fn new(mut n: usize) -> Leb128 {
        let (mut bytes, mut len) = ([0u8; 10], 0);
        loop {
            // Masked to seven bits, so the cast keeps every bit.
            let low = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                bytes[len] = low;
                return Leb128 {
                    bytes,
                    len: len + 1,
                };
            }
            bytes[len] = low | 0x80;
            len += 1;
        }
    }

    fn into_bytes(self) -> impl Iterator<Item = u8> {
        self.bytes.into_iter().take(self.len)
    }
}

/// The length at `at` and where the bytes after it begin; `None` past the buffer's end.
fn read_len(buf: &[u8], at: usize) -> Option<(usize, usize)> {
    let (mut n, mut shift) = (0usize, 0u32);
    for (i, byte) in buf.get(at..)?.iter().enumerate() {
        n |= usize::from(byte & 0x7f).checked_shl(shift)?;
        if byte & 0x80 == 0 {
            return Some((n, at + i + 1));
        }
        shift += 7;
    }
    None
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
        // A settled entry costs its key, its value and one byte for each length.
        let mut settled = Packed::default();
        settled.put("-1001000000007", "d");
        assert_eq!(settled.0.len(), 2 + 14 + 1);
    }

    #[test]
    fn lengths_of_any_size_read_back() {
        let long = "k".repeat(300);
        let longer = "v".repeat(70_000);
        let mut packed = Packed::default();
        for (key, value) in [("", ""), (long.as_str(), "short"), ("a", longer.as_str())] {
            packed.put(key, value);
        }
        packed.put(&long, &longer);
        assert_eq!(
            packed.all(),
            vec![
                (String::new(), String::new()),
                (long.clone(), longer.clone()),
                ("a".into(), longer.clone()),
            ]
        );
        for n in [
            0,
            1,
            127,
            128,
            16_383,
            16_384,
            usize::from(u16::MAX),
            1 << 40,
        ] {
            let encoded: Vec<u8> = Leb128::new(n).into_bytes().collect();
            assert_eq!(read_len(&encoded, 0), Some((n, encoded.len())), "{n}");
        }
        assert_eq!(
            read_len(&[0x80], 0),
            None,
            "a length cut short is no length"
        );
    }
}
