//! A throw-away data directory with a pool of (content-free) session files and API pairs.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::path::Path;

use herald_data::{Store, StoreConfig, UserId};
use herald_sessions::{Pool, PoolConfig};

pub fn uid(id: &str) -> UserId {
    UserId::parse(id).unwrap()
}

pub fn hash(i: usize) -> String {
    format!("{i:032x}")
}

pub fn put_sessions(root: &Path, names: &[String]) {
    let dir = root.join("sessions/unused");
    std::fs::create_dir_all(&dir).unwrap();
    for name in names {
        std::fs::write(dir.join(name), b"session").unwrap();
    }
}

pub fn session_names(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("+1555{i:07}.session")).collect()
}

pub async fn pool_with(root: &Path, sessions: usize, pairs: usize, config: PoolConfig) -> Pool {
    let store = Store::open(StoreConfig::new(root)).unwrap();
    put_sessions(root, &session_names(sessions));
    let pool = Pool::new(store, config);
    for i in 0..pairs {
        pool.add_pair(&(1000 + i).to_string(), &hash(i))
            .await
            .unwrap();
    }
    pool
}

pub async fn register(pool: &Pool, id: &str) {
    pool.store()
        .upsert_user(&uid(id), |_, _| Ok::<_, ()>(()))
        .await
        .unwrap();
}

pub fn files_in(root: &Path, folder: &str) -> Vec<String> {
    let mut names: Vec<String> = match std::fs::read_dir(root.join("sessions").join(folder)) {
        Ok(entries) => entries
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    };
    names.sort();
    names
}
