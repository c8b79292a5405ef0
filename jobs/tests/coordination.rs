//! One suite, run against both coordination backends (memory, and a private redis-server), so
//! that `herald all` and the scale-out deployment behave alike.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use chrono::TimeDelta;
use herald_jobs::testing::RedisServer;
use herald_jobs::{
    CancelOutcome, Claim, CommandOutcome, CommandReply, CoordConfig, Coordination, CycleState,
    Hold, Presence, RedisConfig, Role, clock,
};

fn config() -> CoordConfig {
    CoordConfig {
        claim_timeout: Duration::from_millis(300),
        reply_ttl: Duration::from_millis(500),
        ..CoordConfig::default()
    }
}

async fn redis(server: &RedisServer) -> Coordination {
    Coordination::redis(RedisConfig::new(server.url()), config())
        .await
        .unwrap()
}

macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn memory() {
                super::$name(herald_jobs::Coordination::in_memory(super::config())).await;
            }
            #[tokio::test]
            async fn redis() {
                let server = herald_jobs::testing::RedisServer::start();
                super::$name(super::redis(&server).await).await;
            }
        }
    )*};
}

both_backends!(
    leases_are_exclusive_renewable_and_expire,
    permits_never_exceed_the_limit_under_contention,
    a_cycle_goes_scheduled_in_flight_claimed_finished,
    stalled_cycles_are_handed_out_again_with_the_same_number,
    cancel_tells_scheduled_running_and_idle_apart,
    a_stop_during_a_cycle_outlasts_its_finish_and_a_start_withdraws_it,
    checkpoints_live_as_long_as_their_cycle,
    session_pauses_keep_the_later_deadline,
    replies_reach_waiters_before_or_after_they_wait,
    a_reply_nobody_asked_for_lapses_with_its_ttl,
    a_schedule_change_wakes_the_waiting_scheduler,
    liveness_follows_the_cycle,
    holds_renew_together_and_each_says_if_it_was_kept,
    the_console_lists_live_processes_paused_sessions_and_cycles_in_flight,
);

async fn leases_are_exclusive_renewable_and_expire(c: Coordination) {
    let ttl = Duration::from_millis(300);
    assert!(c.lease_acquire("leader", "a", ttl).await.unwrap());
    assert!(!c.lease_acquire("leader", "b", ttl).await.unwrap());
    assert!(
        c.lease_acquire("leader", "a", ttl).await.unwrap(),
        "the holder re-acquires"
    );
    assert!(c.lease_renew("leader", "a", ttl).await.unwrap());
    assert!(!c.lease_renew("leader", "b", ttl).await.unwrap());
    c.lease_release("leader", "b").await.unwrap();
    assert!(
        !c.lease_acquire("leader", "b", ttl).await.unwrap(),
        "only the holder releases"
    );
    assert!(c.lease_renewed_at("leader").await.unwrap().is_some());
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(
        !c.lease_renew("leader", "a", ttl).await.unwrap(),
        "an expired lease is lost"
    );
    assert!(
        c.lease_acquire("leader", "b", ttl).await.unwrap(),
        "and taken over"
    );
    c.lease_release("leader", "b").await.unwrap();
    assert!(c.lease_acquire("leader", "a", ttl).await.unwrap());
}

async fn permits_never_exceed_the_limit_under_contention(c: Coordination) {
    let ttl = Duration::from_secs(5);
    let active = Arc::new(AtomicU32::new(0));
    let peak = Arc::new(AtomicU32::new(0));
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let (c, active, peak) = (c.clone(), active.clone(), peak.clone());
            tokio::spawn(async move {
                let holder = format!("h{i}");
                while !c.permit_acquire("user:1", &holder, 7, ttl).await.unwrap() {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                let now = active.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                assert!(c.permit_count("user:1").await.unwrap() <= 7);
                tokio::time::sleep(Duration::from_millis(20)).await;
                active.fetch_sub(1, Ordering::SeqCst);
                c.permit_release("user:1", &holder).await.unwrap();
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(
        peak.load(Ordering::SeqCst),
        7,
        "the limit was reached but never passed"
    );
    // A crashed holder's permit comes back when its ttl lapses.
    for i in 0..7 {
        assert!(
            c.permit_acquire("user:2", &format!("h{i}"), 7, Duration::from_millis(200))
                .await
                .unwrap()
        );
    }
    assert!(!c.permit_acquire("user:2", "late", 7, ttl).await.unwrap());
    assert!(
        c.permit_acquire("user:2", "h0", 7, ttl).await.unwrap(),
        "idempotent for a holder"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(c.permit_acquire("user:2", "late", 7, ttl).await.unwrap());
    assert!(
        !c.permit_renew("user:2", "h1", ttl).await.unwrap(),
        "an expired permit is not renewed"
    );
}

async fn a_cycle_goes_scheduled_in_flight_claimed_finished(c: Coordination) {
    let now = clock::now();
    c.schedule("u1", now - TimeDelta::seconds(1)).await.unwrap();
    c.schedule("u2", now + TimeDelta::hours(1)).await.unwrap();
    assert_eq!(
        c.earliest().await.unwrap().map(|t| t.timestamp_millis()),
        Some((now - TimeDelta::seconds(1)).timestamp_millis())
    );
    let due = c.take_due(now, 100).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!((due[0].user_id.as_str(), due[0].cycle_no), ("u1", 1));
    assert_eq!(
        c.next_run("u1").await.unwrap(),
        None,
        "a user in flight is not scheduled"
    );
    assert!(
        c.take_due(now, 100).await.unwrap().is_empty(),
        "never emitted twice"
    );
    assert_eq!(c.in_flight("u1").await.unwrap().unwrap().cycle_no, 1);

    let ttl = Duration::from_secs(5);
    assert_eq!(
        c.claim_cycle("u1", 1, "w1", ttl).await.unwrap(),
        Claim::Claimed
    );
    assert_eq!(
        c.claim_cycle("u1", 1, "w2", ttl).await.unwrap(),
        Claim::HeldByOther
    );
    assert_eq!(
        c.claim_cycle("u1", 7, "w1", ttl).await.unwrap(),
        Claim::NotInFlight,
        "a stale cycle number"
    );
    assert!(c.renew_cycle("u1", 1, "w1", ttl).await.unwrap());
    assert!(!c.renew_cycle("u1", 1, "w2", ttl).await.unwrap());
    assert!(
        !c.finish_cycle("u1", 1, "w2", None).await.unwrap(),
        "only the holder finishes"
    );
    let next = now + TimeDelta::seconds(30);
    assert!(c.finish_cycle("u1", 1, "w1", Some(next)).await.unwrap());
    assert_eq!(c.in_flight("u1").await.unwrap(), None);
    assert_eq!(
        c.next_run("u1")
            .await
            .unwrap()
            .map(|t| t.timestamp_millis()),
        Some(next.timestamp_millis())
    );
    assert_eq!(
        c.claim_cycle("u1", 1, "w1", ttl).await.unwrap(),
        Claim::NotInFlight,
        "a duplicate job is dropped"
    );
    assert_eq!(c.in_flight_count().await.unwrap(), 0);
    let second = c.take_due(next, 100).await.unwrap();
    assert_eq!(second[0].cycle_no, 2);
}

async fn stalled_cycles_are_handed_out_again_with_the_same_number(c: Coordination) {
    let now = clock::now();
    c.schedule("u", now).await.unwrap();
    let cycle = c.take_due(now, 10).await.unwrap().remove(0);
    // Emitted but never claimed: after the claim timeout it is stalled.
    assert!(c.take_stalled(clock::now(), 10).await.unwrap().is_empty());
    tokio::time::sleep(Duration::from_millis(400)).await;
    let again = c.take_stalled(clock::now(), 10).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].cycle_no, cycle.cycle_no);
    assert!(
        c.take_stalled(clock::now(), 10).await.unwrap().is_empty(),
        "not handed out twice in a row"
    );

    // Claimed by a worker that then dies (no renewal): another worker takes it over.
    assert_eq!(
        c.claim_cycle("u", cycle.cycle_no, "dead", Duration::from_millis(200))
            .await
            .unwrap(),
        Claim::Claimed
    );
    assert_eq!(
        c.claim_cycle("u", cycle.cycle_no, "live", Duration::from_secs(5))
            .await
            .unwrap(),
        Claim::HeldByOther
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stalled = c.take_stalled(clock::now(), 10).await.unwrap();
    assert_eq!(stalled.len(), 1);
    assert_eq!(
        c.claim_cycle("u", cycle.cycle_no, "live", Duration::from_secs(5))
            .await
            .unwrap(),
        Claim::Claimed
    );
    assert!(
        !c.renew_cycle("u", cycle.cycle_no, "dead", Duration::from_secs(5))
            .await
            .unwrap(),
        "the dead holder lost it"
    );
    assert!(
        !c.finish_cycle("u", cycle.cycle_no, "dead", None)
            .await
            .unwrap()
    );

    // A worker shutting down gives its cycle back at once.
    c.release_cycle("u", cycle.cycle_no, "live").await.unwrap();
    assert_eq!(c.take_stalled(clock::now(), 10).await.unwrap().len(), 1);
}

async fn cancel_tells_scheduled_running_and_idle_apart(c: Coordination) {
    let now = clock::now();
    assert_eq!(c.cancel("u").await.unwrap(), CancelOutcome::Idle);
    c.schedule("u", now + TimeDelta::hours(1)).await.unwrap();
    assert_eq!(c.cancel("u").await.unwrap(), CancelOutcome::WasScheduled);
    assert_eq!(c.next_run("u").await.unwrap(), None);
    c.schedule("u", now).await.unwrap();
    c.take_due(now, 10).await.unwrap();
    assert_eq!(c.cancel("u").await.unwrap(), CancelOutcome::InFlight);
    c.schedule("v", now).await.unwrap();
    c.clear_schedule().await.unwrap();
    assert_eq!(c.earliest().await.unwrap(), None);
}

async fn a_stop_during_a_cycle_outlasts_its_finish_and_a_start_withdraws_it(c: Coordination) {
    // Whole milliseconds: the Redis backend keeps the schedule in them.
    let now = chrono::DateTime::from_timestamp_millis(clock::now().timestamp_millis()).unwrap();
    let next = now + TimeDelta::hours(1);
    let ttl = Duration::from_secs(5);
    let running = async |user: &str| {
        c.schedule(user, now).await.unwrap();
        let cycle = c.take_due(now, 10).await.unwrap().remove(0);
        assert_eq!(cycle.user_id, user);
        assert_eq!(
            c.claim_cycle(user, cycle.cycle_no, "w", ttl).await.unwrap(),
            Claim::Claimed
        );
        cycle.cycle_no
    };
    let finish = async |user: &str, cycle_no: u64| {
        assert!(
            c.finish_cycle(user, cycle_no, "w", Some(next))
                .await
                .unwrap()
        );
        c.next_run(user).await.unwrap()
    };

    // The cycle decided on its next run before the stop came: its finish schedules nothing.
    let cycle_no = running("stopped").await;
    assert_eq!(c.cancel("stopped").await.unwrap(), CancelOutcome::InFlight);
    assert_eq!(finish("stopped", cycle_no).await, None);
    // Starting again makes a cycle due; a second start keeps what is scheduled.
    c.resume("stopped", now).await.unwrap();
    assert_eq!(c.next_run("stopped").await.unwrap(), Some(now));
    c.resume("stopped", next).await.unwrap();
    assert_eq!(c.next_run("stopped").await.unwrap(), Some(now));
    // The stop went with its cycle: the next cycle's finish schedules as usual.
    let cycle_no = running("stopped").await;
    assert_eq!(finish("stopped", cycle_no).await, Some(next));

    // Stopped and started again while one cycle runs: the start schedules nothing of its own
    // and the cycle's finish schedules the next.
    let cycle_no = running("restarted").await;
    assert_eq!(
        c.cancel("restarted").await.unwrap(),
        CancelOutcome::InFlight
    );
    c.resume("restarted", now).await.unwrap();
    assert_eq!(c.next_run("restarted").await.unwrap(), None);
    assert_eq!(finish("restarted", cycle_no).await, Some(next));
}

async fn checkpoints_live_as_long_as_their_cycle(c: Coordination) {
    let now = clock::now();
    c.schedule("u", now).await.unwrap();
    let cycle = c.take_due(now, 10).await.unwrap().remove(0);
    c.claim_cycle("u", cycle.cycle_no, "w", Duration::from_secs(5))
        .await
        .unwrap();
    c.checkpoint_put("u", cycle.cycle_no, "-1001", "started")
        .await
        .unwrap();
    c.checkpoint_put("u", cycle.cycle_no, "-1001", "done")
        .await
        .unwrap();
    c.checkpoint_put("u", cycle.cycle_no, "-1002", "done")
        .await
        .unwrap();
    let mut all = c.checkpoint_get_all("u", cycle.cycle_no).await.unwrap();
    all.sort();
    assert_eq!(
        all,
        vec![
            ("-1001".to_owned(), "done".to_owned()),
            ("-1002".to_owned(), "done".to_owned())
        ]
    );
    c.finish_cycle("u", cycle.cycle_no, "w", None)
        .await
        .unwrap();
    assert!(
        c.checkpoint_get_all("u", cycle.cycle_no)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn session_pauses_keep_the_later_deadline(c: Coordination) {
    let now = clock::now();
    assert_eq!(c.session_paused_until("s").await.unwrap(), None);
    c.pause_session("s", now + TimeDelta::seconds(60))
        .await
        .unwrap();
    c.pause_session("s", now + TimeDelta::seconds(10))
        .await
        .unwrap();
    let until = c.session_paused_until("s").await.unwrap().unwrap();
    assert_eq!(
        until.timestamp_millis(),
        (now + TimeDelta::seconds(60)).timestamp_millis()
    );
    c.pause_session("t", now + TimeDelta::milliseconds(200))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        c.session_paused_until("t").await.unwrap(),
        None,
        "a pause ends by itself"
    );
}

async fn replies_reach_waiters_before_or_after_they_wait(c: Coordination) {
    let reply = |id: &str| CommandReply {
        request_id: id.to_owned(),
        outcome: CommandOutcome::Stopped,
    };
    // The reply lands before anyone waits: the stored copy answers.
    c.reply(&reply("early")).await.unwrap();
    let got = c
        .expect_reply("early")
        .wait(Duration::from_millis(200))
        .await
        .unwrap();
    assert_eq!(got, Some(reply("early")));
    // The waiter is there first: delivered as soon as the reply is sent.
    let waiter = c.expect_reply("late");
    let sender = c.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        sender.reply(&reply("late")).await.unwrap();
    });
    let started = std::time::Instant::now();
    assert_eq!(
        waiter.wait(Duration::from_secs(10)).await.unwrap(),
        Some(reply("late"))
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(
        c.expect_reply("never")
            .wait(Duration::from_millis(100))
            .await
            .unwrap(),
        None
    );
}

async fn a_reply_nobody_asked_for_lapses_with_its_ttl(c: Coordination) {
    let reply = CommandReply {
        request_id: "gone".to_owned(),
        outcome: CommandOutcome::Stopped,
    };
    c.reply(&reply).await.unwrap();
    tokio::time::sleep(Duration::from_millis(700)).await;
    // No other reply comes; the scheduler's next look at the schedule is all that happens.
    c.take_due(herald_jobs::clock::now(), 10).await.unwrap();
    let got = c
        .expect_reply("gone")
        .wait(Duration::from_millis(100))
        .await
        .unwrap();
    assert_eq!(got, None);
}

async fn a_schedule_change_wakes_the_waiting_scheduler(c: Coordination) {
    let waiter = {
        let c = c.clone();
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            c.wait_for_change(Duration::from_secs(30)).await;
            started.elapsed()
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    c.schedule("u", clock::now()).await.unwrap();
    let waited = waiter.await.unwrap();
    assert!(waited < Duration::from_secs(5), "woke after {waited:?}");
}

async fn liveness_follows_the_cycle(c: Coordination) {
    let now = clock::now();
    assert_eq!(
        c.liveness("u", "leader").await.unwrap().cycle_state,
        CycleState::Idle
    );
    c.lease_acquire("leader", "scheduler", Duration::from_secs(5))
        .await
        .unwrap();
    c.schedule("u", now).await.unwrap();
    let sleeping = c.liveness("u", "leader").await.unwrap();
    assert_eq!(sleeping.cycle_state, CycleState::Sleeping);
    assert!(
        sleeping.last_heartbeat.is_some(),
        "the scheduler's renewal vouches for a sleeping bot"
    );
    let due = sleeping
        .next_run_at
        .expect("a sleeping bot says when it posts next");
    assert!((due - now).num_milliseconds().abs() < 1000, "{due} {now}");
    let cycle = c.take_due(now, 10).await.unwrap().remove(0);
    c.claim_cycle("u", cycle.cycle_no, "w", Duration::from_secs(5))
        .await
        .unwrap();
    let running = c.liveness("u", "leader").await.unwrap();
    assert_eq!(running.cycle_state, CycleState::Running);
    assert!(running.last_heartbeat.is_some());
    assert_eq!(
        running.next_run_at, None,
        "a running cycle is not scheduled"
    );
    assert_eq!(c.epoch().await.unwrap(), None);
    c.set_epoch("scheduler").await.unwrap();
    assert_eq!(c.epoch().await.unwrap().as_deref(), Some("scheduler"));
}

#[tokio::test]
async fn redis_going_away_gives_errors_and_coming_back_needs_no_new_handle() {
    let mut server = RedisServer::start();
    let c = redis(&server).await;
    c.schedule("u", clock::now()).await.unwrap();
    server.kill();
    let err = c.schedule("u", clock::now()).await.unwrap_err();
    assert!(err.to_string().starts_with("Redis is unavailable"), "{err}");
    server.restart();
    let mut ok = false;
    for _ in 0..50 {
        if c.schedule("u", clock::now()).await.is_ok() {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ok, "the connection came back by itself");
    // State was lost with the restart (nothing on disk): the epoch says so.
    assert_eq!(c.epoch().await.unwrap(), None);
}

#[tokio::test]
async fn an_unreachable_redis_is_refused_at_connect_with_its_address() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = Coordination::redis(
        RedisConfig::new(format!("redis://:secret@127.0.0.1:{port}")),
        config(),
    )
    .await
    .unwrap_err();
    let message = err.to_string();
    assert!(message.contains(&format!("127.0.0.1:{port}")), "{message}");
    assert!(!message.contains("secret"), "{message}");
}

async fn holds_renew_together_and_each_says_if_it_was_kept(c: Coordination) {
    let ttl = Duration::from_secs(2);
    let now = clock::now();
    c.schedule("u1", now - TimeDelta::seconds(1)).await.unwrap();
    assert_eq!(c.take_due(now, 10).await.unwrap().len(), 1);
    assert_eq!(
        c.claim_cycle("u1", 1, "w1", ttl).await.unwrap(),
        Claim::Claimed
    );
    assert!(c.permit_acquire("user:u1", "w1/a", 1, ttl).await.unwrap());
    assert!(c.lease_acquire("session:a", "w1", ttl).await.unwrap());
    let (user, holder): (std::sync::Arc<str>, std::sync::Arc<str>) = ("u1".into(), "w1".into());
    let holds = [
        Hold::Cycle {
            user: user.clone(),
            cycle_no: 1,
            holder: holder.clone(),
        },
        Hold::Permit {
            key: "user:u1".into(),
            holder: "w1/a".into(),
        },
        Hold::Lease {
            key: "session:a".into(),
            holder: holder.clone(),
        },
        Hold::Lease {
            key: "session:never-taken".into(),
            holder: holder.clone(),
        },
        Hold::Cycle {
            user,
            cycle_no: 1,
            holder: "w2".into(),
        },
    ];
    // Three renewals 0.7 s apart carry every hold past its first 2 s ttl.
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(700)).await;
        assert_eq!(
            c.renew_holds(&holds, ttl).await.unwrap(),
            [true, true, true, false, false]
        );
    }
    assert!(!c.lease_acquire("session:a", "w2", ttl).await.unwrap());
    assert!(!c.permit_acquire("user:u1", "w2/a", 1, ttl).await.unwrap());
    assert_eq!(
        c.claim_cycle("u1", 1, "w2", ttl).await.unwrap(),
        Claim::HeldByOther
    );
    assert!(c.lease_renewed_at("session:a").await.unwrap().is_some());

    // Left alone, the lease and the permit lapse, and a late renewal is refused.
    tokio::time::sleep(ttl + Duration::from_millis(300)).await;
    assert_eq!(
        c.renew_holds(&holds[1..3], ttl).await.unwrap(),
        [false, false]
    );
    assert!(c.renew_holds(&[], ttl).await.unwrap().is_empty());
}

async fn the_console_lists_live_processes_paused_sessions_and_cycles_in_flight(c: Coordination) {
    let long = Duration::from_secs(60);
    let mut worker = Presence::new("w1", Role::Worker, long);
    worker.cycles = 3;
    c.announce(&worker).await.unwrap();
    let mut leader = Presence::new("s2", Role::Scheduler, long);
    leader.leader = true;
    leader.lag_ms = Some(12);
    c.announce(&leader).await.unwrap();
    c.announce(&Presence::new("s1", Role::Scheduler, long))
        .await
        .unwrap();
    // `herald all`: a worker and a scheduler under one name are two processes' worth.
    c.announce(&Presence::new("s1", Role::Worker, long))
        .await
        .unwrap();
    c.announce(&Presence::new(
        "gone",
        Role::Worker,
        Duration::from_millis(200),
    ))
    .await
    .unwrap();
    let ids = |list: &[Presence]| list.iter().map(|p| p.id.clone()).collect::<Vec<_>>();
    let listed = c.presences().await.unwrap();
    assert_eq!(
        ids(&listed),
        ["s2", "s1", "gone", "s1", "w1"],
        "leader first, then standbys, then workers"
    );
    assert_eq!(
        listed[0], leader,
        "an announcement reads back as it was made"
    );
    // A newer announcement replaces the older one.
    worker.cycles = 4;
    worker.seen(long);
    c.announce(&worker).await.unwrap();

    let now = clock::now();
    c.pause_session("late", now + TimeDelta::seconds(90))
        .await
        .unwrap();
    c.pause_session("soon", now + TimeDelta::seconds(30))
        .await
        .unwrap();
    c.pause_session("brief", now + TimeDelta::milliseconds(200))
        .await
        .unwrap();

    c.schedule("u1", now - TimeDelta::seconds(2)).await.unwrap();
    c.schedule("u2", now - TimeDelta::seconds(1)).await.unwrap();
    c.schedule("u3", now + TimeDelta::hours(1)).await.unwrap();
    assert_eq!(c.take_due(now, 100).await.unwrap().len(), 2);

    tokio::time::sleep(Duration::from_millis(300)).await;
    let listed = c.presences().await.unwrap();
    assert_eq!(
        ids(&listed),
        ["s2", "s1", "s1", "w1"],
        "a lapsed announcement is gone"
    );
    assert_eq!(listed[3].cycles, 4);
    let paused: Vec<String> = c
        .paused_sessions()
        .await
        .unwrap()
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    assert_eq!(
        paused,
        ["soon", "late"],
        "a lapsed pause is gone; soonest first"
    );
    let mut users = c.in_flight_users(10).await.unwrap();
    users.sort();
    assert_eq!(
        users,
        ["u1", "u2"],
        "only cycles in flight, not scheduled ones"
    );
    assert_eq!(c.in_flight_users(1).await.unwrap().len(), 1);
    assert!(c.in_flight_users(0).await.unwrap().is_empty());
}
