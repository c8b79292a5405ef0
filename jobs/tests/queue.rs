//! The queue, in memory and on a private redis-server: jobs of both types arrive, handlers run
//! concurrently and drain on shutdown, retries are bounded, a long job never runs on two live
//! workers, and a dead worker's command is taken over.

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use herald_jobs::testing::RedisServer;
use herald_jobs::{
    Command, CommandAction, ConsumerLimits, Cycle, HandlerError, Queue, RedisConfig, clock, handler,
};
use tokio_util::sync::CancellationToken;

fn cycle(user: &str, n: u64) -> Cycle {
    Cycle {
        user_id: user.to_owned(),
        cycle_no: n,
        due_at: clock::now(),
    }
}

type Seen = Arc<Mutex<HashMap<String, u32>>>;

fn counting(
    seen: &Seen,
    delay: Duration,
) -> (herald_jobs::Handler<Command>, herald_jobs::Handler<Cycle>) {
    let (a, b) = (seen.clone(), seen.clone());
    (
        handler(move |c: Command| {
            let seen = a.clone();
            async move {
                tokio::time::sleep(delay).await;
                *seen.lock().unwrap().entry(c.user_id).or_default() += 1;
                Ok(())
            }
        }),
        handler(move |c: Cycle| {
            let seen = b.clone();
            async move {
                tokio::time::sleep(delay).await;
                *seen
                    .lock()
                    .unwrap()
                    .entry(format!("{}#{}", c.user_id, c.cycle_no))
                    .or_default() += 1;
                Ok(())
            }
        }),
    )
}

async fn wait_until(what: &str, f: impl Fn() -> bool) {
    for _ in 0..300 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

async fn both_job_types_arrive_and_drain(queue: Queue) {
    let seen: Seen = Arc::default();
    let (on_command, on_cycle) = counting(&seen, Duration::from_millis(20));
    let shutdown = CancellationToken::new();
    let consumer = tokio::spawn({
        let (queue, shutdown) = (queue.clone(), shutdown.clone());
        async move {
            queue
                .consume(on_command, on_cycle, ConsumerLimits::default(), shutdown)
                .await
        }
    });
    let cycles: Vec<Cycle> = (0..500).map(|i| cycle(&format!("u{i}"), 1)).collect();
    queue.push_cycles(&cycles).await.unwrap();
    for i in 0..10 {
        queue
            .push_command(&Command::new(format!("c{i}"), CommandAction::Stop))
            .await
            .unwrap();
    }
    wait_until("all jobs", || seen.lock().unwrap().len() == 510).await;
    assert!(
        seen.lock().unwrap().values().all(|n| *n == 1),
        "each job ran once"
    );

    shutdown.cancel();
    consumer.await.unwrap().unwrap();
    assert_eq!(queue.depth().await.unwrap().cycles_waiting, 0);
}

async fn a_job_running_at_shutdown_finishes(queue: Queue) {
    let state = Arc::new(Mutex::new((false, false)));
    let flags = state.clone();
    let on_cycle = handler(move |_c: Cycle| {
        let flags = flags.clone();
        async move {
            flags.lock().unwrap().0 = true;
            tokio::time::sleep(Duration::from_millis(400)).await;
            flags.lock().unwrap().1 = true;
            Ok(())
        }
    });
    let shutdown = CancellationToken::new();
    let consumer = tokio::spawn({
        let (queue, shutdown) = (queue.clone(), shutdown.clone());
        async move {
            queue
                .consume(
                    handler(|_c: Command| async { Ok(()) }),
                    on_cycle,
                    ConsumerLimits::default(),
                    shutdown,
                )
                .await
        }
    });
    queue.push_cycles(&[cycle("slow", 1)]).await.unwrap();
    wait_until("the slow job to start", || state.lock().unwrap().0).await;
    shutdown.cancel();
    consumer.await.unwrap().unwrap();
    assert!(
        state.lock().unwrap().1,
        "consume returned before the running job finished"
    );
}

#[tokio::test]
async fn memory_a_job_running_at_shutdown_finishes() {
    a_job_running_at_shutdown_finishes(Queue::in_memory()).await;
}

#[tokio::test]
async fn redis_a_job_running_at_shutdown_finishes() {
    let server = RedisServer::start();
    a_job_running_at_shutdown_finishes(
        Queue::redis(&RedisConfig::new(server.url())).await.unwrap(),
    )
    .await;
}

async fn a_retry_is_bounded(queue: Queue) {
    let attempts = Arc::new(Mutex::new(0u32));
    let counter = attempts.clone();
    let on_cycle = handler(move |_c: Cycle| {
        let counter = counter.clone();
        async move {
            *counter.lock().unwrap() += 1;
            Err(HandlerError::Retry {
                after: Duration::from_millis(10),
                reason: "flaky".into(),
            })
        }
    });
    let on_command = handler(|_c: Command| async { Ok(()) });
    let shutdown = CancellationToken::new();
    let limits = ConsumerLimits {
        max_attempts: 3,
        ..ConsumerLimits::default()
    };
    let consumer = tokio::spawn({
        let (queue, shutdown) = (queue.clone(), shutdown.clone());
        async move { queue.consume(on_command, on_cycle, limits, shutdown).await }
    });
    queue.push_cycles(&[cycle("u", 1)]).await.unwrap();
    wait_until("three attempts", || *attempts.lock().unwrap() == 3).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(*attempts.lock().unwrap(), 3, "no fourth attempt");
    shutdown.cancel();
    consumer.await.unwrap().unwrap();
}

#[tokio::test]
async fn memory_both_job_types_arrive_and_drain() {
    both_job_types_arrive_and_drain(Queue::in_memory()).await;
}

#[tokio::test]
async fn redis_both_job_types_arrive_and_drain() {
    let server = RedisServer::start();
    both_job_types_arrive_and_drain(Queue::redis(&RedisConfig::new(server.url())).await.unwrap())
        .await;
}

#[tokio::test]
async fn memory_a_retry_is_bounded() {
    a_retry_is_bounded(Queue::in_memory()).await;
}

#[tokio::test]
async fn redis_a_retry_is_bounded() {
    let server = RedisServer::start();
    a_retry_is_bounded(Queue::redis(&RedisConfig::new(server.url())).await.unwrap()).await;
}

#[tokio::test]
async fn two_live_redis_workers_never_run_the_same_long_job() {
    let server = RedisServer::start();
    let config = RedisConfig::new(server.url());
    let seen: Seen = Arc::default();
    let shutdown = CancellationToken::new();
    let mut consumers = Vec::new();
    for _ in 0..2 {
        let queue = Queue::redis(&config).await.unwrap();
        let (on_command, on_cycle) = counting(&seen, Duration::from_millis(1500));
        let shutdown = shutdown.clone();
        consumers.push(tokio::spawn(async move {
            queue
                .consume(on_command, on_cycle, ConsumerLimits::default(), shutdown)
                .await
        }));
    }
    let pusher = Queue::redis(&config).await.unwrap();
    let cycles: Vec<Cycle> = (0..20).map(|i| cycle(&format!("u{i}"), 1)).collect();
    pusher.push_cycles(&cycles).await.unwrap();
    wait_until("20 long jobs", || seen.lock().unwrap().len() == 20).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        seen.lock().unwrap().values().all(|n| *n == 1),
        "a job ran twice: {:?}",
        seen.lock().unwrap()
    );
    shutdown.cancel();
    for consumer in consumers {
        consumer.await.unwrap().unwrap();
    }
}

#[tokio::test]
async fn a_dead_workers_command_is_taken_over() {
    let server = RedisServer::start();
    let config = RedisConfig::new(server.url());
    let limits = ConsumerLimits {
        command_claim_idle: Duration::from_millis(800),
        ..ConsumerLimits::default()
    };

    // The first worker takes the command and never finishes it: it is as good as dead.
    let stuck = Queue::redis(&config).await.unwrap();
    let taken = Arc::new(Mutex::new(false));
    let flag = taken.clone();
    let hang = handler(move |_c: Command| {
        let flag = flag.clone();
        async move {
            *flag.lock().unwrap() = true;
            std::future::pending::<()>().await;
            Ok(())
        }
    });
    let dead = tokio::spawn({
        let limits = limits.clone();
        async move {
            stuck
                .consume(
                    hang,
                    handler(|_c: Cycle| async { Ok(()) }),
                    limits,
                    CancellationToken::new(),
                )
                .await
        }
    });
    let pusher = Queue::redis(&config).await.unwrap();
    pusher
        .push_command(&Command::new("u1", CommandAction::Stop))
        .await
        .unwrap();
    wait_until("the first worker to take it", || *taken.lock().unwrap()).await;
    dead.abort();

    let seen: Seen = Arc::default();
    let (on_command, on_cycle) = counting(&seen, Duration::ZERO);
    let live = Queue::redis(&config).await.unwrap();
    let shutdown = CancellationToken::new();
    let consumer = tokio::spawn({
        let shutdown = shutdown.clone();
        async move { live.consume(on_command, on_cycle, limits, shutdown).await }
    });
    wait_until("the takeover", || {
        seen.lock().unwrap().get("u1") == Some(&1)
    })
    .await;
    shutdown.cancel();
    consumer.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_redis_restart_does_not_stop_the_consumer() {
    let mut server = RedisServer::start();
    let config = RedisConfig::new(server.url());
    let queue = Queue::redis(&config).await.unwrap();
    let seen: Seen = Arc::default();
    let (on_command, on_cycle) = counting(&seen, Duration::ZERO);
    let shutdown = CancellationToken::new();
    let consumer = tokio::spawn({
        let (queue, shutdown) = (queue.clone(), shutdown.clone());
        async move {
            queue
                .consume(on_command, on_cycle, ConsumerLimits::default(), shutdown)
                .await
        }
    });
    queue.push_cycles(&[cycle("before", 1)]).await.unwrap();
    wait_until("the first job", || {
        seen.lock().unwrap().contains_key("before#1")
    })
    .await;
    server.restart();
    let mut pushed = false;
    for _ in 0..50 {
        if queue.push_cycles(&[cycle("after", 1)]).await.is_ok() {
            pushed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(pushed);
    wait_until("a job after the restart", || {
        seen.lock().unwrap().contains_key("after#1")
    })
    .await;
    shutdown.cancel();
    consumer.await.unwrap().unwrap();
}
