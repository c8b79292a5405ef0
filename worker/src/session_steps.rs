//! One session's run through a cycle, in steps: begin (take the tenant's permit and the
//! session's lease, wait out a flood wait still running, connect), post the next group, and end
//! (disconnect, say why it stopped early, give the holds back). Between two posts a session run
//! is only a boxed [`SessionRun`] and the wait for the next one; what each step needs exists
//! while it runs. A running bot spends nearly all its time in that wait, so this shape is what
//! each running bot costs (BENCHMARKS.md, cost). What a step does lives in `session_run`;
//! this module owns only the order of the steps and must not decide anything about a post.

use std::sync::Arc;
use std::time::Duration;

use herald_data::Level;
use herald_session_file::{MaskedSessionName, mask_session_name};

use crate::polled_span::in_polled_span;
use crate::session_run::{Flow, Link, SessionCtx, SessionJob, Tally};
use crate::{WorkerError, plan};

/// A session run between its posts.
struct SessionRun {
    ctx: Arc<SessionCtx>,
    job: SessionJob,
    link: Link,
    tally: Tally,
    /// The pause between two of its posts.
    interval: Duration,
    /// The next group's index in `job.groups`.
    next: usize,
    /// Why it stopped before its share was done, when it did.
    stopped: Result<(), Box<WorkerError>>,
}

/// How a session run's beginning went.
enum Begun {
    /// Connected: it posts.
    Posting,
    /// It holds its permit and lease but posts nothing (stopped, or it could not connect).
    Ending,
    /// The cycle stopped before it had both its permit and its lease (a permit it took is
    /// given back already).
    NotHeld,
}

impl SessionCtx {
    /// One session's share of the cycle, posted `interval` apart. The share goes into its box
    /// before the first await, so the future holds a pointer and the pause, nothing more.
    pub(crate) fn run(self: Arc<Self>, job: SessionJob) -> impl Future<Output = Tally> + Send {
        Box::new(SessionRun {
            ctx: self,
            job,
            link: Link {
                connection: None,
                reconnects: 0,
                unsettled: None,
            },
            tally: Tally::default(),
            interval: Duration::ZERO,
            next: 0,
            stopped: Ok(()),
        })
        .drive()
    }
}

impl SessionRun {
    /// The steps in order; between two posts this future holds the box and the pause.
    async fn drive(mut self: Box<Self>) -> Tally {
        match Box::pin(in_polled_span(self.span(), self.begin())).await {
            Begun::Posting => {}
            Begun::Ending => {
                return Box::pin(in_polled_span(self.span(), self.end())).await;
            }
            Begun::NotHeld => {
                self.tally.skipped = self.job.groups.len();
                return self.tally;
            }
        }
        while let Some(position) = self.next_group() {
            let span = self.span();
            let run = &mut *self;
            let post = run
                .ctx
                .post_to(&run.job, position, &mut run.link, &mut run.tally);
            // The post's own future, boxed for the step: every running bot holds one while it
            // posts, so its size is what the posting phase costs (BENCHMARKS.md, cost).
            let flow = Box::pin(in_polled_span(span, post)).await;
            let Some(pause) = self.after(flow) else {
                break;
            };
            if !self.ctx.sleep(pause).await {
                break;
            }
        }
        Box::pin(in_polled_span(self.span(), self.end())).await
    }

    /// What makes the span a step runs in, so each line it logs names the tenant, the cycle
    /// and the session. The span is made for each poll of the step (`polled_span`): none exists
    /// between steps, where a run spends nearly all its time, nor while a step waits (for its
    /// session file, when thousands of bots start at once). At ERROR level, as the cycle's
    /// (`cycle::span` says why).
    fn span(&self) -> impl Fn() -> tracing::Span + use<> {
        let (ctx, session) = (self.ctx.clone(), MaskedSessionName::of(&self.job.session));
        move || {
            tracing::error_span!(
                "session",
                user.id = %ctx.user,
                cycle = ctx.cycle_no,
                session = %session
            )
        }
    }

    /// Takes the holds, waits out a running flood wait and connects.
    async fn begin(&mut self) -> Begun {
        let (ctx, job) = (&self.ctx, &self.job);
        let held = ctx.session_holds(job);
        if !ctx.take(&held.permit).await || !ctx.take(&held.lease).await {
            ctx.holds.release(&held.permit).await;
            return Begun::NotHeld;
        }
        metrics::gauge!("herald_active_sessions").increment(1.0);
        match self.open().await {
            Ok(true) => Begun::Posting,
            Ok(false) => Begun::Ending,
            Err(why) => {
                self.stopped = Err(Box::new(why));
                Begun::Ending
            }
        }
    }

    /// Waits out the session's flood wait, if short enough, and connects; false when the cycle
    /// stopped meanwhile.
    async fn open(&mut self) -> Result<bool, WorkerError> {
        let (ctx, job) = (&self.ctx, &self.job);
        let w = &ctx.worker.inner;
        let paused = w
            .coord
            .session_paused_until(&job.session)
            .await
            .map_err(WorkerError::PauseUnknown)?;
        if let Some(until) = paused {
            let wait = herald_jobs::clock::until(until);
            if wait > w.config.policy.max_wait_in_cycle {
                return Err(WorkerError::FloodWait(until));
            }
            if !ctx.sleep(wait).await {
                return Ok(false);
            }
        }
        self.interval = plan::post_interval(
            &ctx.record,
            job.groups.len(),
            w.config.min_delay_between_posts,
        );
        self.link.connection = Some(ctx.connect(job).await?);
        Ok(true)
    }

    /// The position of the share's next group, taken; `None` when the run posts nothing more.
    fn next_group(&mut self) -> Option<u32> {
        let &position = self.job.groups.get(self.next)?;
        if self.ctx.lost.is_cancelled() {
            return None;
        }
        self.next += 1;
        Some(position)
    }

    /// How the run goes on after a group: the pause before the next one, or `None` when it
    /// posts nothing more this cycle.
    fn after(&mut self, flow: Flow) -> Option<Duration> {
        match flow {
            Flow::Next => (self.next < self.job.groups.len()).then_some(self.interval),
            Flow::Stop => None,
            Flow::End(stopped) => {
                self.stopped = stopped;
                None
            }
        }
    }

    /// Disconnects, says why the run stopped early if it did, and gives back the session's
    /// lease and the tenant's permit.
    async fn end(mut self: Box<Self>) -> Tally {
        let SessionRun {
            ctx,
            job,
            link,
            tally,
            stopped,
            ..
        } = &mut *self;
        if let Some(connection) = link.connection.take() {
            ctx.close(job, connection).await;
        }
        metrics::gauge!("herald_active_sessions").decrement(1.0);
        if let Err(why) = stopped {
            let masked = mask_session_name(&job.session);
            tracing::warn!(why = %why, "session skipped this cycle");
            ctx.log(
                Level::Warning,
                &format!("Session {masked} skipped this cycle: {why}"),
            );
        }
        tally.skipped = job.groups.len() - tally.sent - tally.failed;
        // Built again rather than kept: the run's box stays small while it waits.
        let held = ctx.session_holds(job);
        ctx.holds.release(&held.lease).await;
        ctx.holds.release(&held.permit).await;
        *tally
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::polled_span::PolledSpan;

    /// The size of the box a post step is: the post's future in its polled span. Computed from
    /// the types alone (a function's future type is named by the function, never called).
    fn post_step_box<'a, Post, Span>(
        _post: impl Fn(&'a SessionCtx, &'a SessionJob, u32, &'a mut Link, &'a mut Tally) -> Post,
        _span: fn(&'a SessionRun) -> Span,
    ) -> usize {
        std::mem::size_of::<PolledSpan<Post, Span>>()
    }

    /// Every running bot holds one post step's box while it posts, made and freed each post.
    /// One byte over 1,024, it takes jemalloc's 1,280-byte class: up to 2.5 MiB more with
    /// 10,000 bots posting at once, where the memory target has little room (BENCHMARKS.md,
    /// cost, seventh session). Debug and release builds lay these futures out alike (984
    /// bytes in both when this test was written).
    #[test]
    fn a_post_step_fits_the_1024_byte_allocation_class() {
        let size = post_step_box(SessionCtx::post_to, SessionRun::span);
        eprintln!("post step box: {size} bytes");
        assert!(size <= 1024, "the post step's box grew to {size} bytes");
    }
}
