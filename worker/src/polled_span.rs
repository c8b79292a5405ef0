//! A step's span, made anew for each poll of the step and gone between polls. Lines a step logs
//! name its tenant, cycle and session exactly as under `Instrument` (no span events are
//! logged, so a span's life shows nowhere else), but no span exists while a step waits. That
//! matters because a span lives in the subscriber's registry for as long as it exists, and the
//! registry keeps the pages of the most spans that ever existed at once. When 10,000 bots start
//! together their first steps wait in line for their session files (and at a posting phase's end
//! their cycles wait for their counts to be durable): a span held across those waits kept a slot
//! each, and the registry kept those pages (BENCHMARKS.md, cost). It never decides what a span
//! names; its callers do.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

pin_project_lite::pin_project! {
    /// `step`, each poll of it inside a fresh span from `span`.
    pub(crate) struct PolledSpan<F, S> {
        #[pin]
        step: F,
        span: S,
    }
}

/// Runs `step` with the span `span` makes around each of its polls.
pub(crate) fn in_polled_span<F, S>(span: S, step: F) -> PolledSpan<F, S>
where
    F: Future,
    S: Fn() -> tracing::Span,
{
    PolledSpan { step, span }
}

impl<F: Future, S: Fn() -> tracing::Span> Future for PolledSpan<F, S> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let span = (this.span)();
        let _entered = span.enter();
        this.step.poll(cx)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    use tracing::Subscriber;
    use tracing::span::{Attributes, Id};
    use tracing_subscriber::layer::{Context as LayerContext, Layer, SubscriberExt};

    use super::*;

    /// Counts the spans alive now and at most, and the span each event happened in.
    #[derive(Clone, Default)]
    struct Census {
        alive: Arc<AtomicUsize>,
        most: Arc<AtomicUsize>,
        events_in: Arc<Mutex<Vec<String>>>,
    }

    impl<S: Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>> Layer<S> for Census {
        fn on_new_span(&self, _: &Attributes<'_>, _: &Id, _: LayerContext<'_, S>) {
            let now = self.alive.fetch_add(1, Ordering::SeqCst) + 1;
            self.most.fetch_max(now, Ordering::SeqCst);
        }

        fn on_close(&self, _: Id, _: LayerContext<'_, S>) {
            self.alive.fetch_sub(1, Ordering::SeqCst);
        }

        fn on_event(&self, _: &tracing::Event<'_>, ctx: LayerContext<'_, S>) {
            let name = ctx.lookup_current().map(|s| s.name().to_owned());
            self.events_in
                .lock()
                .unwrap()
                .push(name.unwrap_or_default());
        }
    }

    /// A hundred steps waiting at once hold no span between their polls, and what each logs
    /// still happens inside its span.
    #[tokio::test(flavor = "current_thread")]
    async fn no_span_exists_while_a_step_waits_and_every_line_is_in_one() {
        let census = Census::default();
        let subscriber = tracing_subscriber::registry().with(census.clone());
        let _default = tracing::subscriber::set_default(subscriber);
        let gate = Arc::new(tokio::sync::Notify::new());
        let steps: Vec<_> = (0..100)
            .map(|i| {
                let gate = gate.clone();
                let step = async move {
                    tracing::error!(i, "before the wait");
                    gate.notified().await;
                    tracing::error!(i, "after the wait");
                };
                tokio::spawn(in_polled_span(
                    move || tracing::error_span!("step", i),
                    step,
                ))
            })
            .collect();
        // Every step has logged its first line and waits.
        while census.events_in.lock().unwrap().len() < 100 {
            tokio::task::yield_now().await;
        }
        assert_eq!(
            census.alive.load(Ordering::SeqCst),
            0,
            "no span while waiting"
        );
        gate.notify_waiters();
        for step in steps {
            step.await.unwrap();
        }
        assert_eq!(census.most.load(Ordering::SeqCst), 1, "one span at a time");
        let events = census.events_in.lock().unwrap();
        assert_eq!(events.len(), 200);
        assert!(events.iter().all(|span| span == "step"), "{events:?}");
    }
}
