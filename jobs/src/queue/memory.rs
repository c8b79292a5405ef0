//! The in-process queue: two unbounded channels. Nothing survives the process, which is fine:
//! in `herald all` the process *is* the deployment, and a restart stops every bot anyway.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Semaphore;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{ConsumerLimits, Envelope, Handler, QueueDepth, run_job};
use crate::JobsError;
use crate::command::Command;
use crate::cycle::Cycle;

#[derive(Debug)]
struct Channel<T> {
    tx: UnboundedSender<Envelope<T>>,
    rx: Mutex<Option<UnboundedReceiver<Envelope<T>>>>,
    waiting: AtomicU64,
}

impl<T> Channel<T> {
    fn new() -> Self {
        let (tx, rx) = unbounded_channel();
        Channel {
            tx,
            rx: Mutex::new(Some(rx)),
            waiting: AtomicU64::new(0),
        }
    }

    fn push(&self, envelope: Envelope<T>) -> Result<(), JobsError> {
        self.waiting.fetch_add(1, Ordering::Relaxed);
        self.tx.send(envelope).map_err(|_| JobsError::Closed)
    }

    fn take_receiver(&self) -> Result<UnboundedReceiver<Envelope<T>>, JobsError> {
        self.rx
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .ok_or(JobsError::Closed)
    }
}

#[derive(Debug)]
pub(super) struct MemoryQueue {
    commands: Channel<Command>,
    cycles: Channel<Cycle>,
}

impl MemoryQueue {
    pub(super) fn new() -> MemoryQueue {
        MemoryQueue {
            commands: Channel::new(),
            cycles: Channel::new(),
        }
    }

    pub(super) fn push_command(&self, envelope: Envelope<Command>) -> Result<(), JobsError> {
        self.commands.push(envelope)
    }

    pub(super) fn push_cycles(&self, envelopes: Vec<Envelope<Cycle>>) -> Result<(), JobsError> {
        envelopes.into_iter().try_for_each(|e| self.cycles.push(e))
    }

    pub(super) fn depth(&self) -> QueueDepth {
        QueueDepth {
            commands_waiting: self.commands.waiting.load(Ordering::Relaxed),
            cycles_waiting: self.cycles.waiting.load(Ordering::Relaxed),
            pending: 0,
        }
    }

    pub(super) async fn consume(
        self: Arc<Self>,
        on_command: Handler<Command>,
        on_cycle: Handler<Cycle>,
        limits: ConsumerLimits,
        shutdown: CancellationToken,
    ) -> Result<(), JobsError> {
        let tracker = TaskTracker::new();
        let commands = self.commands.take_receiver()?;
        let cycles = self.cycles.take_receiver()?;
        let command_loop = pump(
            self.clone(),
            commands,
            |q| &q.commands,
            on_command,
            limits.commands,
            limits.max_attempts,
            "command",
            tracker.clone(),
            shutdown.clone(),
        );
        let cycle_loop = pump(
            self.clone(),
            cycles,
            |q| &q.cycles,
            on_cycle,
            limits.cycles,
            limits.max_attempts,
            "cycle",
            tracker.clone(),
            shutdown.clone(),
        );
        tokio::join!(command_loop, cycle_loop);
        tracker.close();
        if tokio::time::timeout(limits.drain_deadline, tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!("shutdown deadline passed with jobs still running");
        }
        Ok(())
    }
}

#[allow(clippy::too_many_arguments)]
async fn pump<T: Clone + Send + Sync + 'static>(
    queue: Arc<MemoryQueue>,
    mut rx: UnboundedReceiver<Envelope<T>>,
    channel: fn(&MemoryQueue) -> &Channel<T>,
    handler: Handler<T>,
    concurrency: usize,
    max_attempts: u32,
    kind: &'static str,
    tracker: TaskTracker,
    shutdown: CancellationToken,
) {
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    loop {
        let permit = tokio::select! {
            _ = shutdown.cancelled() => break,
            permit = permits.clone().acquire_owned() => match permit { Ok(p) => p, Err(_) => break },
        };
        let envelope = tokio::select! {
            _ = shutdown.cancelled() => break,
            envelope = rx.recv() => match envelope { Some(e) => e, None => break },
        };
        channel(&queue).waiting.fetch_sub(1, Ordering::Relaxed);
        let (queue, handler) = (queue.clone(), handler.clone());
        tracker.spawn(async move {
            let retry = run_job(&handler, &envelope, max_attempts, kind).await;
            drop(permit);
            if let Some(after) = retry {
                // Boxed: the task lives as long as its job runs (a cycle: minutes), and a sleep
                // kept in it would size it for every running bot.
                Box::pin(tokio::time::sleep(after)).await;
                let again = Envelope {
                    attempt: envelope.attempt + 1,
                    job: envelope.job,
                };
                let _ = channel(&queue).push(again);
            }
        });
    }
}
