//! What a benchmark reads about another process from `/proc`: CPU time (the whole process and
//! each thread by name) and open descriptors. Linux only, like the benchmarks that use it.

use std::collections::BTreeMap;
use std::process::Command;

use anyhow::Context;

/// User plus system CPU time of a process so far, in clock ticks (`/proc/<pid>/stat`).
pub(super) fn cpu_ticks(pid: u32) -> anyhow::Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("cannot read /proc/{pid}/stat"))?;
    Ok(parse_stat(&stat)
        .with_context(|| format!("unexpected /proc/{pid}/stat: {stat}"))?
        .1)
}

/// CPU ticks so far of each live thread, summed by thread name (threads that ended are not
/// counted: the benchmarks' threads live as long as the process).
pub(super) fn cpu_ticks_by_thread(pid: u32) -> anyhow::Result<BTreeMap<String, u64>> {
    let mut by_name = BTreeMap::new();
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task"))
        .with_context(|| format!("cannot list /proc/{pid}/task"))?;
    for task in tasks {
        let path = task?.path().join("stat");
        // A thread may end between the listing and the read.
        let Ok(stat) = std::fs::read_to_string(&path) else {
            continue;
        };
        let (name, ticks) =
            parse_stat(&stat).with_context(|| format!("unexpected {}: {stat}", path.display()))?;
        *by_name.entry(name.to_owned()).or_default() += ticks;
    }
    Ok(by_name)
}

/// The command name and utime + stime of one `stat` line (stat(5)).
fn parse_stat(stat: &str) -> Option<(&str, u64)> {
    // The name, in parentheses, may hold spaces and parentheses: it ends at the last ')'.
    let (head, after) = stat.rsplit_once(')')?;
    let name = head.split_once('(')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // Fields 14 and 15 (utime, stime) are the 12th and 13th after the name.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((name, utime + stime))
}

pub(super) fn clock_ticks_per_second() -> anyhow::Result<f64> {
    let out = Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .context("cannot run getconf CLK_TCK")?;
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .context("getconf CLK_TCK printed no number")
}

pub(super) fn open_files(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stat_line_gives_its_name_and_cpu_ticks() {
        let line = "4242 (tokio (rt) w) S 1 2 3 4 5 6 7 8 9 10 120 35 0 0 20 0 9 0 100 1 2";
        assert_eq!(parse_stat(line), Some(("tokio (rt) w", 155)));
        assert_eq!(parse_stat("4242 (short) S 1 2"), None);
    }

    #[test]
    fn a_busy_thread_is_counted_under_its_own_name() {
        let (seen, stop) = std::sync::mpsc::channel::<()>();
        let busy = std::thread::Builder::new()
            .name("herald-probe".into())
            .spawn(move || {
                // Spins until told (or the test is gone), so it is alive and has spent CPU when
                // it is read.
                while stop.try_recv() == Err(std::sync::mpsc::TryRecvError::Empty) {
                    std::hint::spin_loop();
                }
            })
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(300));
        let by_thread = cpu_ticks_by_thread(std::process::id()).unwrap();
        seen.send(()).unwrap();
        busy.join().unwrap();
        let probe = by_thread.get("herald-probe").copied();
        assert!(probe.is_some_and(|ticks| ticks > 0), "{by_thread:?}");
        assert!(by_thread.values().sum::<u64>() <= cpu_ticks(std::process::id()).unwrap());
    }
}
