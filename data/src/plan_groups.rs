//! `data/groups/<plan>_groups.txt`: the operator's groups per plan, one per line, `#` comments.
//!
//! Read on every cycle, so the parsed list is cached while the file is unchanged. Written only
//! through [`crate::Store::write_plan_groups`], atomically. This module never validates a group's
//! syntax (that is the Telegram layer's parse); it keeps the lines the operator wrote.

use std::fs::{self, Metadata};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::{DataError, durable};

/// Which plan file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Plan {
    Starter,
    Enterprise,
}

impl Plan {
    pub fn file_name(self) -> &'static str {
        match self {
            Plan::Starter => "starter_groups.txt",
            Plan::Enterprise => "enterprise_groups.txt",
        }
    }

    /// The path as the API shows it: relative to the data directory.
    pub fn relative_path(self) -> String {
        format!("data/groups/{}", self.file_name())
    }
}

/// What the admin API reports about a plan file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanGroups {
    pub groups: Arc<Vec<String>>,
    pub exists: bool,
    pub size: u64,
}

type Stamp = (u64, u64, i64, i64, i64, i64);

#[derive(Debug)]
pub(crate) struct PlanGroupFile {
    path: PathBuf,
    plan: Plan,
    cache: Mutex<Option<(Stamp, PlanGroups)>>,
}

impl PlanGroupFile {
    pub(crate) fn new(dir: PathBuf, plan: Plan) -> Self {
        PlanGroupFile {
            path: dir.join(plan.file_name()),
            plan,
            cache: Mutex::new(None),
        }
    }

    pub(crate) fn read(&self) -> Result<PlanGroups, DataError> {
        let label = self.plan.relative_path();
        let meta = match fs::metadata(&self.path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok(PlanGroups {
                    groups: Arc::new(Vec::new()),
                    exists: false,
                    size: 0,
                });
            }
            Err(e) => return Err(DataError::io(format!("read {label}"), e)),
        };
        let stamp = stamp(&meta);
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((seen, groups)) = cache.as_ref()
            && *seen == stamp
        {
            return Ok(groups.clone());
        }
        let text = fs::read_to_string(&self.path)
            .map_err(|e| DataError::io(format!("read {label}"), e))?;
        let groups = PlanGroups {
            groups: Arc::new(parse(&text)),
            exists: true,
            size: meta.len(),
        };
        *cache = Some((stamp, groups.clone()));
        Ok(groups)
    }

    pub(crate) fn write(&self, groups: &[String]) -> Result<(), DataError> {
        let mut text = String::from("# Managed by herald: one group per line\n");
        for group in groups {
            text.push_str(group);
            text.push('\n');
        }
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        durable::replace_file(&self.path, text.as_bytes(), &self.plan.relative_path())?;
        // The next read re-reads; a same-stamp rewrite within one tick is not possible to miss
        // because the cache is dropped here, under the same lock readers take.
        *cache = None;
        Ok(())
    }
}

fn stamp(meta: &Metadata) -> Stamp {
    (
        meta.ino(),
        meta.size(),
        meta.mtime(),
        meta.mtime_nsec(),
        meta.ctime(),
        meta.ctime_nsec(),
    )
}

/// The groups of a plan group file's text: one per line, blank lines and `#` comments skipped.
pub fn parse(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_and_blank_lines_are_skipped_and_writes_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let file = PlanGroupFile::new(dir.path().to_owned(), Plan::Starter);
        assert!(!file.read().unwrap().exists);
        fs::write(
            dir.path().join("starter_groups.txt"),
            "# ops\n-1001\n\n  -1002  \n",
        )
        .unwrap();
        assert_eq!(*file.read().unwrap().groups, vec!["-1001", "-1002"]);
        file.write(&["-1003".to_owned()]).unwrap();
        assert_eq!(*file.read().unwrap().groups, vec!["-1003"]);
    }
}
