//! How the daemon stops: SIGTERM (what an init system sends) or SIGINT (Ctrl-C), or
//! `-exit-after`. Stopping means: capture stops at once, what is queued or in flight to
//! staging gets up to `--drain-timeout` to finish, the status socket is removed, exit 0.
//! [`Shutdown`] is the one switch every part watches.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::signal::unix::{signal, SignalKind};
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

    pub fn trigger(&self, why: &str) {
        if !self.capture_stop.swap(true, Ordering::Relaxed) {
            tracing::info!("stopping: {why}");
        }
        self.notify.send_replace(true);
    }

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
}

/// Installs the SIGTERM and SIGINT handlers (must run inside the runtime) and returns the
/// task that triggers `shutdown` on the first of them, or after `exit_after`.
pub fn watch_signals(
    shutdown: Shutdown,
    exit_after: Option<Duration>,
) -> std::io::Result<impl std::future::Future<Output = ()>> {
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        let exit_after = async {
            match exit_after {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = term.recv() => shutdown.trigger("SIGTERM"),
            _ = int.recv() => shutdown.trigger("SIGINT"),
            _ = exit_after => shutdown.trigger("-exit-after reached"),
            _ = shutdown.wait() => {}
        }
    })
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
        let task = rt
            .block_on(async { watch_signals(shutdown.clone(), Some(Duration::from_millis(50))) })
            .unwrap();
        rt.block_on(task);
        assert!(shutdown.is_triggered());
    }
}
