//! The scheduler under paused time (memory backend) and with a standby on a private Redis.

#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::TimeDelta;
use herald_data::{BotStatus, Store, StoreConfig, UserId};
use herald_jobs::testing::RedisServer;
use herald_jobs::{
    Command, ConsumerLimits, CoordConfig, Coordination, Cycle, Queue, RedisConfig, clock, handler,
};
use herald_scheduler::{LEADER_KEY, Scheduler, SchedulerConfig};
use tokio_util::sync::CancellationToken;

type Emitted = Arc<Mutex<Vec<(Cycle, chrono::DateTime<chrono::Utc>)>>>;

/// Starts a consumer that records each cycle with the (virtual) time it arrived.
fn record(queue: &Queue, shutdown: &CancellationToken) -> Emitted {
    let emitted: Emitted = Arc::default();
    let sink = emitted.clone();
    let on_cycle = handler(move |c: Cycle| {
        let sink = sink.clone();
        async move {
            sink.lock().unwrap().push((c, clock::now()));
            Ok(())
        }
    });
    let (queue, shutdown) = (queue.clone(), shutdown.clone());
    tokio::spawn(async move {
        queue
            .consume(
                handler(|_c: Command| async { Ok(()) }),
                on_cycle,
                ConsumerLimits::default(),
                shutdown,
            )
            .await
    });
    emitted
}

#[tokio::test(start_paused = true)]
async fn a_due_user_starts_within_milliseconds_not_a_tick_and_long_cycles_delay_no_one() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(StoreConfig::new(dir.path())).unwrap();
    let coord = Coordination::in_memory(CoordConfig {
        claim_timeout: Duration::from_secs(3600),
        ..CoordConfig::default()
    });
    let queue = Queue::in_memory();
    let shutdown = CancellationToken::new();
    let emitted = record(&queue, &shutdown);

    let mut config = SchedulerConfig::new("s1");
    config.tick = Duration::from_secs(60);
    coord.set_epoch("s1").await.unwrap(); // same leader as before: no restart rule
    let scheduler = Scheduler::new(coord.clone(), queue.clone(), store, config);
    tokio::spawn({
        let shutdown = shutdown.clone();
        async move { scheduler.run(shutdown).await }
    });
    tokio::time::sleep(Duration::from_millis(10)).await;

    // Due in 250 ms while the scheduler sleeps on a 60 s tick.
    let due = clock::now() + TimeDelta::milliseconds(250);
    coord.schedule("a", due).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    {
        let emitted = emitted.lock().unwrap();
        assert_eq!(emitted.len(), 1);
        let lag = emitted[0].1 - due;
        assert!(
            lag >= TimeDelta::zero() && lag < TimeDelta::milliseconds(10),
            "lag {lag}"
        );
    }

    // "a"'s cycle never finishes (a long cycle); "b" due now is emitted at once all the same.
    let b_due = clock::now();
    coord.schedule("b", b_due).await.unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let emitted_now = emitted.lock().unwrap().clone();
    assert_eq!(emitted_now.len(), 2, "{emitted_now:?}");
    assert_eq!(emitted_now[1].0.user_id, "b");
    assert!(emitted_now[1].1 - b_due < TimeDelta::milliseconds(10));

    // And "a" is not emitted again while its cycle is in flight, however long it runs.
    coord
        .schedule("c", clock::now() + TimeDelta::seconds(600))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(601)).await;
    let users: Vec<String> = emitted
        .lock()
        .unwrap()
        .iter()
        .map(|(c, _)| c.user_id.clone())
        .collect();
    assert_eq!(users, vec!["a", "b", "c"]);
    shutdown.cancel();
}

#[tokio::test]
async fn a_new_leader_stops_every_running_bot_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(StoreConfig::new(dir.path())).unwrap();
    for (id, status) in [
        ("run", BotStatus::Running),
        ("stopping", BotStatus::Stopping),
        ("idle", BotStatus::Stopped),
        ("susp", BotStatus::Suspended),
    ] {
        store
            .upsert_user(&UserId::parse(id).unwrap(), move |u, _| {
                u.bot_status = status;
                Ok::<_, ()>(())
            })
            .await
            .unwrap();
    }
    let coord = Coordination::in_memory(CoordConfig::default());
    coord
        .schedule("run", clock::now() + TimeDelta::hours(1))
        .await
        .unwrap();
    let queue = Queue::in_memory();
    let shutdown = CancellationToken::new();
    let scheduler = Scheduler::new(
        coord.clone(),
        queue,
        store.clone(),
        SchedulerConfig::new("fresh"),
    );
    let task = tokio::spawn({
        let shutdown = shutdown.clone();
        async move { scheduler.run(shutdown).await }
    });
    for _ in 0..100 {
        if coord.epoch().await.unwrap().is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let status = |id: &str| store.user(id).unwrap().bot_status;
    assert_eq!(status("run"), BotStatus::Stopped);
    assert_eq!(status("stopping"), BotStatus::Stopped);
    assert_eq!(
        status("susp"),
        BotStatus::Suspended,
        "a suspension survives restarts"
    );
    assert_eq!(
        coord.next_run("run").await.unwrap(),
        None,
        "the schedule went with the restart"
    );
    store.flush_logs();
    let log = store.log_tail(&UserId::parse("run").unwrap(), 5).join("\n");
    assert!(
        log.contains("Bot stopped because Herald restarted"),
        "{log}"
    );
    assert!(
        store
            .log_tail(&UserId::parse("idle").unwrap(), 5)
            .is_empty()
    );
    shutdown.cancel();
    task.await.unwrap();
}

#[tokio::test]
async fn a_standby_takes_over_when_the_leader_goes_and_stops_the_bots() {
    let server = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(StoreConfig::new(dir.path())).unwrap();
    let redis = RedisConfig::new(server.url());
    let mut schedulers = Vec::new();
    for name in ["first", "second"] {
        let coord = Coordination::redis(redis.clone(), CoordConfig::default())
            .await
            .unwrap();
        let queue = Queue::redis(&redis).await.unwrap();
        let mut config = SchedulerConfig::new(name);
        config.lease_ttl = Duration::from_millis(900);
        let shutdown = CancellationToken::new();
        let scheduler = Scheduler::new(coord, queue, store.clone(), config);
        let task = tokio::spawn({
            let shutdown = shutdown.clone();
            async move { scheduler.run(shutdown).await }
        });
        schedulers.push((shutdown, task));
        if name == "first" {
            // The second starts only once the first leads, so it can only stand by.
            let coord = Coordination::redis(redis.clone(), CoordConfig::default())
                .await
                .unwrap();
            for _ in 0..100 {
                if coord.epoch().await.unwrap().is_some() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    let coord = Coordination::redis(redis.clone(), CoordConfig::default())
        .await
        .unwrap();
    assert_eq!(coord.epoch().await.unwrap().as_deref(), Some("first"));

    store
        .upsert_user(&UserId::parse("t").unwrap(), |u, _| {
            u.bot_status = BotStatus::Running;
            Ok::<_, ()>(())
        })
        .await
        .unwrap();
    // The leader dies without a word: its task is dropped, its lease runs out.
    let (_, first) = schedulers.remove(0);
    first.abort();
    let mut took_over = false;
    for _ in 0..100 {
        if coord.epoch().await.unwrap().as_deref() == Some("second") {
            took_over = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(took_over, "the standby never took over");
    assert!(coord.lease_renewed_at(LEADER_KEY).await.unwrap().is_some());
    assert_eq!(store.user("t").unwrap().bot_status, BotStatus::Stopped);
    let (shutdown, task) = schedulers.remove(0);
    shutdown.cancel();
    task.await.unwrap();
}
