//! Where an encoder writes a document: a small buffer that spills into the temporary file the
//! committer renames over the document once it is complete. Holding ten thousand tenants'
//! `users.json` (about 10 MB) in memory while it was written made every write a peak of the
//! process's resident memory (BENCHMARKS.md, cost); now a write holds a buffer of about
//! [`SPILL_AT`] bytes: one record more, or one piece of a copied run.
//!
//! Owns nothing of the durable-write protocol (`durable.rs` creates, syncs and renames the
//! file); it never writes anywhere but at the end of what it wrote, or from the start again
//! after [`Output::restart`].

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

/// Bytes kept before they go to the file (also the piece in which an encoder copies a run).
pub(crate) const SPILL_AT: usize = 64 * 1024;

/// An encoder's output: appended to through [`Output::buf`], spilled between records.
#[derive(Debug)]
pub struct Output<'f> {
    file: &'f File,
    /// Bytes already in the file.
    spilled: u64,
    buf: Vec<u8>,
}

impl<'f> Output<'f> {
    /// Output into `file`, which must be empty.
    pub(crate) fn to_file(file: &'f File) -> Output<'f> {
        Output {
            file,
            spilled: 0,
            buf: Vec::with_capacity(SPILL_AT),
        }
    }

    /// Where the next byte lands in the output.
    pub fn position(&self) -> u64 {
        self.spilled + self.buf.len() as u64
    }

    /// What is not spilled yet, to append to.
    pub fn buf(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }

    /// Writes the buffer to the file once it holds [`SPILL_AT`] bytes or more.
    pub fn spill(&mut self) -> serde_json::Result<()> {
        if self.buf.len() >= SPILL_AT {
            self.write_out().map_err(serde_json::Error::io)?;
        }
        Ok(())
    }

    /// Forgets everything written: the output starts empty again.
    pub fn restart(&mut self) -> serde_json::Result<()> {
        self.buf.clear();
        self.file.set_len(0).map_err(serde_json::Error::io)?;
        self.spilled = 0;
        Ok(())
    }

    /// Writes what is left to the file.
    pub(crate) fn finish(mut self) -> io::Result<()> {
        self.write_out()
    }

    fn write_out(&mut self) -> io::Result<()> {
        self.file.write_all_at(&self.buf, self.spilled)?;
        self.spilled += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spilled_and_kept_bytes_make_the_file_in_order_and_a_restart_empties_it() {
        let file = tempfile::tempfile().unwrap();
        let len = |file: &File| file.metadata().unwrap().len();
        let mut out = Output::to_file(&file);
        out.buf().extend_from_slice(b"gone");
        out.buf().resize(SPILL_AT + 1, b'x');
        out.spill().unwrap();
        assert_eq!(len(&file), SPILL_AT as u64 + 1);
        out.restart().unwrap();
        assert_eq!(out.position(), 0);
        assert_eq!(len(&file), 0);
        let mut expected = Vec::new();
        for i in 0..3 * SPILL_AT / 1000 {
            let line = format!("{i:0999}\n");
            out.buf().extend_from_slice(line.as_bytes());
            expected.extend_from_slice(line.as_bytes());
            out.spill().unwrap();
            assert_eq!(out.position(), expected.len() as u64);
        }
        out.finish().unwrap();
        let mut written = vec![0; expected.len()];
        file.read_exact_at(&mut written, 0).unwrap();
        assert_eq!(len(&file), expected.len() as u64);
        assert_eq!(written, expected);
    }
}
