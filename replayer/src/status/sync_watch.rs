//! Pauses replay while staging's data sync runs (docs/design.md, 'The sync flag'), with no
//! restart and no runbook: the flag file (and the optional `--sync-window`) is read about once
//! a second through [`replayer_status::sync`], the same rules the check plugins use.
//!
//! While paused the daemon keeps capturing and answering on the status socket; requests are
//! counted as `paused_sync` instead of being queued (the daemon checks
//! [`DaemonStatus::state`] for each request). A stale flag still pauses: the file says staging
//! is being rebuilt, and the checks are the ones that make the staleness loud.

use crate::status::socket::DaemonStatus;
use replayer_status::schema::DaemonState;
use replayer_status::{read_sync, SyncConfig};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// How often the flag is read: pause and resume happen within this plus a little.
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// Reads the flag once and applies it: state `paused` or `replaying` (never overriding
/// `stopping`), and the `sync` section of the document. Returns whether replay is paused.
pub fn check_once(config: &SyncConfig, status: &DaemonStatus) -> bool {
    let reading = read_sync(config, SystemTime::now());
    if let Some(error) = &reading.error {
        tracing::warn!("sync flag unreadable, treated as no sync: {error}");
    }
    let was = status.state();
    status.set_sync(reading.to_status(config));
    status.set_paused(reading.in_progress);
    let now = status.state();
    if was != now {
        match now {
            DaemonState::Paused => tracing::info!(
                flag = %config.flag.display(),
                stale = reading.stale,
                "data sync in progress: replay paused"
            ),
            DaemonState::Replaying if was == DaemonState::Paused => {
                tracing::info!("data sync over: replay resumed")
            }
            _ => {}
        }
    }
    reading.in_progress
}

/// Polls until `stop` resolves.
pub async fn run(
    config: SyncConfig,
    status: Arc<DaemonStatus>,
    stop: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(stop);
    let mut tick = tokio::time::interval(POLL_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = &mut stop => return,
            _ = tick.tick() => {
                // A local file of one line: cheap enough to read on the runtime, but keep
                // a slow filesystem off the status server's threads all the same.
                let (config2, status2) = (config.clone(), status.clone());
                let _ = tokio::task::spawn_blocking(move || check_once(&config2, &status2)).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::CaptureStats;
    use crate::status::stats::Stats;
    use std::path::PathBuf;

    fn setup(tag: &str) -> (PathBuf, SyncConfig, Arc<DaemonStatus>) {
        let dir = std::env::temp_dir().join(format!("replayer-sync-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let flag = dir.join("FACTER_data_sync_in_progress");
        let config = SyncConfig {
            flag: flag.clone(),
            ..SyncConfig::default()
        };
        let status = Arc::new(DaemonStatus::new(
            "lo:80".into(),
            Arc::new(CaptureStats::default()),
            Arc::new(Stats::new(&[])),
            &flag,
        ));
        (dir, config, status)
    }

    #[test]
    fn flag_pauses_and_clearing_resumes() {
        let (dir, config, status) = setup("once");
        let flag = &config.flag;
        assert!(!check_once(&config, &status), "missing flag: no sync");
        assert_eq!(status.state(), DaemonState::Replaying);

        std::fs::write(flag, "true\n").unwrap();
        assert!(check_once(&config, &status));
        assert_eq!(status.state(), DaemonState::Paused);
        let sync = status.sync();
        assert!(sync.in_progress && !sync.stale);
        assert!(sync.since.is_some());
        assert_eq!(sync.flag, flag.display().to_string());

        std::fs::write(flag, "\n").unwrap();
        assert!(!check_once(&config, &status));
        assert_eq!(status.state(), DaemonState::Replaying);
        assert_eq!(status.sync().since, None);

        // Stopping is final: a flag change does not bring the daemon back.
        std::fs::write(flag, "true\n").unwrap();
        status.set_state(DaemonState::Stopping);
        check_once(&config, &status);
        assert_eq!(status.state(), DaemonState::Stopping);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn watcher_follows_the_flag_within_two_seconds() {
        let (dir, config, status) = setup("run");
        let flag = config.flag.clone();
        status.set_state(DaemonState::Replaying);
        let rt = tokio::runtime::Runtime::new().unwrap();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let watcher = rt.spawn(run(config, status.clone(), async {
            let _ = stop_rx.await;
        }));
        let wait_for = |want: DaemonState| {
            let start = std::time::Instant::now();
            while status.state() != want {
                assert!(
                    start.elapsed() < Duration::from_secs(2),
                    "state still {:?}, want {want:?}",
                    status.state()
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        };
        std::thread::sleep(Duration::from_millis(100));
        std::fs::write(&flag, "yes\n").unwrap();
        wait_for(DaemonState::Paused);
        std::fs::write(&flag, "false\n").unwrap();
        wait_for(DaemonState::Replaying);
        stop_tx.send(()).unwrap();
        rt.block_on(watcher).unwrap();
        let _ = std::fs::remove_dir_all(dir);
    }
}
