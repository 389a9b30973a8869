//! How the replayer stops, in every mode: SIGTERM (what an init system sends) or SIGINT
//! (Ctrl-C), `-exit-after`, or the end of a capture file. Stopping means: capture stops at
//! once, what is queued or in flight to staging gets up to `--drain-timeout` to finish, the
//! status socket is removed, exit 0. [`Shutdown`] is the one switch every part watches; the
//! signals reach it through `signal-hook` on a thread of its own, so the one-shot runs (no
//! async runtime) and the daemon stop the same way.

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// The stop switch: an atomic for the capture thread (checked per packet, never waits) and
/// a watch channel for the tasks on tokio.
#[derive(Clone)]
pub struct Shutdown {
    capture_stop: Arc<AtomicBool>,
    notify: watch::Sender<bool>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Shutdown::new()
    }
}

impl Shutdown {
    /// A switch nobody has pulled yet.
    pub fn new() -> Shutdown {
        Shutdown {
            capture_stop: Arc::new(AtomicBool::new(false)),
            notify: watch::Sender::new(false),
        }
    }

    /// What capture polls.
    pub fn capture_flag(&self) -> Arc<AtomicBool> {
        self.capture_stop.clone()
    }

    /// Begins stopping (once; later calls only repeat the notification), logging why.
    pub fn trigger(&self, why: &str) {
        if !self.capture_stop.swap(true, Ordering::Relaxed) {
            tracing::info!("stopping: {why}");
        }
        self.notify.send_replace(true);
    }

    /// Whether stopping has begun.
    pub fn is_triggered(&self) -> bool {
        self.capture_stop.load(Ordering::Relaxed)
    }

    /// Resolves once stopping has begun.
    pub fn wait(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut rx = self.notify.subscribe();
        async move {
            let _ = rx.wait_for(|stopping| *stopping).await;
        }
    }

    /// Pulls the switch on the first SIGTERM or SIGINT, and after `exit_after` if given.
    /// The handlers stay installed afterwards, so a second Ctrl-C during the drain does not
    /// kill the process half-way (the drain timeout bounds it instead).
    pub fn stop_on_signals(&self, exit_after: Option<Duration>) -> std::io::Result<()> {
        let mut signals = Signals::new([SIGTERM, SIGINT])?;
        let shutdown = self.clone();
        std::thread::Builder::new()
            .name("replayer-signals".into())
            .spawn(move || {
                for signal in signals.forever() {
                    shutdown.trigger(if signal == SIGTERM {
                        "SIGTERM"
                    } else {
                        "SIGINT"
                    });
                }
            })?;
        if let Some(after) = exit_after {
            let shutdown = self.clone();
            std::thread::Builder::new()
                .name("replayer-exit-after".into())
                .spawn(move || {
                    std::thread::sleep(after);
                    shutdown.trigger("-exit-after reached");
                })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trigger_reaches_capture_and_tasks() {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let shutdown = Shutdown::new();
        let flag = shutdown.capture_flag();
        let waiter = rt.spawn(shutdown.wait());
        assert!(!flag.load(Ordering::Relaxed));
        shutdown.trigger("test");
        assert!(flag.load(Ordering::Relaxed) && shutdown.is_triggered());
        rt.block_on(waiter).unwrap();
        // A waiter that comes after the trigger returns at once.
        rt.block_on(shutdown.wait());
    }

    #[test]
    fn exit_after_triggers() {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let shutdown = Shutdown::new();
        shutdown
            .stop_on_signals(Some(Duration::from_millis(50)))
            .unwrap();
        rt.block_on(shutdown.wait());
        assert!(shutdown.is_triggered());
    }
}
