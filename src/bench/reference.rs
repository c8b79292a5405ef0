//! A fixed piece of work timed on the machine a benchmark runs on, reported beside `bench
//! cost`'s figures: how the machine ran plain work meanwhile. It was meant to tell CPU figures of
//! different days apart from the machine's speed (the shared machines these benchmarks run on
//! have run the same build three to five times slower from one day to the next), and it does
//! not: a day it read slower was a day the bots cost half as much, and it moves with the
//! allocator's settings, which it runs under (BENCHMARKS.md, cost). The work is the two kinds a
//! running bot costs: encoding and decoding JSON in the process, and short appends to many
//! open files in the kernel (the tenant logs). None of it is Herald's code, so a change to
//! Herald's code never moves it (an upgrade of serde_json or of the allocator's settings could).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};

/// What the reference work took.
#[derive(Debug, Clone, Copy)]
pub(super) struct Reference {
    /// A 2,000-record JSON document encoded and decoded 50 times.
    pub(super) json: Duration,
    /// 20 rounds of one line appended to each of 1,000 open files.
    pub(super) appends: Duration,
}

/// Times the reference work in a scratch directory under `dir` (made if missing: it runs
/// before anything else of the benchmark).
pub(super) fn measure(dir: &Path) -> anyhow::Result<Reference> {
    Ok(Reference {
        json: time_json(2_000, 50)?,
        appends: time_appends(dir, 1_000, 20)?,
    })
}

impl Reference {
    /// `JSON 12.3 ms, appends 45.6 ms`.
    pub(super) fn describe(&self) -> String {
        format!(
            "JSON {:.1} ms, appends {:.1} ms",
            self.json.as_secs_f64() * 1000.0,
            self.appends.as_secs_f64() * 1000.0
        )
    }
}

fn time_json(records: usize, rounds: usize) -> anyhow::Result<Duration> {
    let document: serde_json::Value = (0..records)
        .map(|i| {
            (
                format!("{}", 1_000_000 + i),
                serde_json::json!({
                    "total_posts": i * 7,
                    "total_success": i * 6,
                    "total_failures": i,
                    "total_flood_waits": i % 3,
                    "total_messages_sent": i * 6,
                    "last_activity": "2026-12-07T21:00:00+00:00",
                }),
            )
        })
        .collect::<serde_json::Map<_, _>>()
        .into();
    let started = Instant::now();
    for _ in 0..rounds {
        let text = serde_json::to_string(std::hint::black_box(&document))?;
        let back: serde_json::Value = serde_json::from_str(std::hint::black_box(&text))?;
        ensure!(
            back == document,
            "the reference document did not read back as written"
        );
    }
    Ok(started.elapsed())
}

fn time_appends(dir: &Path, files: usize, rounds: usize) -> anyhow::Result<Duration> {
    let scratch = super::scratch(dir, "reference")?;
    let mut open = open_logs(scratch.path(), files)?;
    let started = Instant::now();
    append_rounds(&mut open, rounds)?;
    Ok(started.elapsed())
}

/// `files` logs opened for appending, as the tenant-log writer keeps them.
fn open_logs(dir: &Path, files: usize) -> anyhow::Result<Vec<File>> {
    (0..files)
        .map(|i| {
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(dir.join(format!("{i}.log")))
        })
        .collect::<Result<_, _>>()
        .context("opening the reference work's files")
}

/// One line to each file, `rounds` times over: one `write` each, as a tenant's line a second.
fn append_rounds(files: &mut [File], rounds: usize) -> anyhow::Result<()> {
    for _ in 0..rounds {
        for file in files.iter_mut() {
            file.write_all(LINE)?;
        }
    }
    Ok(())
}

const LINE: &[u8] =
    b"2026-12-07 21:00:00 - INFO - Posted to @reference_group from +254...21.session\n";

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn every_round_appends_one_whole_line_to_every_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut files = open_logs(dir.path(), 4).unwrap();
        append_rounds(&mut files, 3).unwrap();
        for i in 0..4 {
            let text = std::fs::read(dir.path().join(format!("{i}.log"))).unwrap();
            assert_eq!(text, LINE.repeat(3), "file {i}");
        }
    }

    #[test]
    fn the_reference_work_makes_its_directory_and_leaves_no_files_behind() {
        let dir = tempfile::tempdir().unwrap();
        let parent = dir.path().join("not-yet");
        time_appends(&parent, 3, 2).unwrap();
        assert_eq!(std::fs::read_dir(&parent).unwrap().count(), 0);
    }
}
