//! A task that takes requests as they queue and handles all those waiting
//! at once: how the embedded adapters turn many concurrent small writes
//! into one SQLite statement (each statement is a round trip to SQLite's
//! worker thread, which is what limited batch sending).

use tokio::sync::mpsc;

/// Most requests one group takes.
pub(crate) const MAX_GROUP: usize = 1_000;

/// Starts a task that hands `handle` everything queued at once, up to
/// `MAX_GROUP` requests; it ends when every sender is dropped.
pub(crate) fn spawn_grouped<T, F, Fut>(handle: F) -> mpsc::UnboundedSender<T>
where
    T: Send + 'static,
    F: Fn(Vec<T>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let (queue, mut requests) = mpsc::unbounded_channel::<T>();
    tokio::spawn(async move {
        while let Some(first) = requests.recv().await {
            let mut group = vec![first];
            while group.len() < MAX_GROUP {
                match requests.try_recv() {
                    Ok(request) => group.push(request),
                    Err(_) => break,
                }
            }
            handle(group).await;
        }
    });
    queue
}
