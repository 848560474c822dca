//! The one-way "stop now" signal shared by every listener and connection task.

use tokio::sync::watch;

/// Held by the server; [`Shutdown::trigger`] tells every [`Stop`] to stop.
#[derive(Debug)]
pub struct Shutdown(watch::Sender<bool>);

/// Held by tasks; cheap to clone.
#[derive(Debug, Clone)]
pub struct Stop(watch::Receiver<bool>);

pub fn channel() -> (Shutdown, Stop) {
    let (tx, rx) = watch::channel(false);
    (Shutdown(tx), Stop(rx))
}

impl Shutdown {
    pub fn trigger(&self) {
        self.0.send_replace(true);
    }
}

impl Stop {
    /// Completes once shutdown is triggered (or the [`Shutdown`] is dropped); at
    /// once if it already was.
    pub async fn stopped(&mut self) {
        // An error means the sender is gone, which also means: stop.
        let _ = self.0.wait_for(|stop| *stop).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn stop_completes_after_trigger_and_for_late_subscribers() {
        let (shutdown, mut stop) = channel();
        let mut late = stop.clone();
        let pending = tokio::time::timeout(Duration::from_millis(20), stop.stopped()).await;
        assert!(pending.is_err(), "stopped() completed before trigger");
        shutdown.trigger();
        let stopped = tokio::time::timeout(Duration::from_secs(1), late.stopped()).await;
        assert!(stopped.is_ok(), "a clone taken before trigger did not stop");
        let stopped = tokio::time::timeout(Duration::from_secs(1), stop.stopped()).await;
        assert!(stopped.is_ok(), "the original did not stop");
        let mut after = stop.clone();
        let stopped = tokio::time::timeout(Duration::from_secs(1), after.stopped()).await;
        assert!(stopped.is_ok(), "a clone taken after trigger did not stop");
        drop(shutdown);
    }
}
