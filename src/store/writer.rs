//! Group commit for the service's ingest: submissions from concurrent requests queue for one writer
//! thread, which commits all that are waiting in one transaction (one sync to disk) and answers each
//! only after that commit. Under load many requests share a sync; alone, a request waits for its own.

use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};

use super::{EventStore, Receipt, StoreError, Submission};

/// The most submissions one transaction takes (the rest wait for the next).
const MAX_GROUP: usize = 256;

struct Job {
    submission: Submission,
    reply: tokio::sync::oneshot::Sender<Result<Receipt, WriteError>>,
}

/// What a committed submission changed in the store, told to the writer's owner while the writer
/// still holds the store (so a reader that takes the store next sees the change and its notice
/// together): events that are all new, or events changed in place.
#[derive(Debug)]
pub enum Stored<'a> {
    /// Every event of the submission was new.
    New(&'a [crate::events::Placed]),
    /// Some were updated in place (or the submission mixed new and known events).
    Changed,
}

/// Told of every committed submission that changed the store.
pub type OnStored = Box<dyn Fn(Stored<'_>) + Send>;

/// The queue to the writer thread. Dropping every handle stops the thread once the queue is drained.
#[derive(Clone, Debug)]
pub struct GroupWriter {
    queue: mpsc::Sender<Job>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job").field("events", &self.submission.events.len()).finish_non_exhaustive()
    }
}

impl GroupWriter {
    /// Starts the writer thread for `store` (which readers may share: the writer holds the lock only
    /// while it commits and tells `on_stored` what changed).
    pub fn start(store: Arc<Mutex<Box<dyn EventStore>>>, on_stored: OnStored) -> std::io::Result<Self> {
        let (queue, jobs) = mpsc::channel::<Job>();
        std::thread::Builder::new().name("leadmap-writer".into()).spawn(move || {
            while let Ok(first) = jobs.recv() {
                let mut group = vec![first];
                while group.len() < MAX_GROUP {
                    match jobs.try_recv() {
                        Ok(job) => group.push(job),
                        Err(_) => break,
                    }
                }
                let submissions: Vec<Submission> =
                    group.iter_mut().map(|j| std::mem::replace(&mut j.submission, empty())).collect();
                let result = {
                    // A panic while holding the lock cannot leave a half-written group (one
                    // transaction), so a poisoned lock is safe to keep using.
                    let mut store = store.lock().unwrap_or_else(PoisonError::into_inner);
                    let result = store.commit_group(&submissions);
                    if let Ok(receipts) = &result {
                        for (s, receipt) in submissions.iter().zip(receipts) {
                            if let Ok(Receipt::Stored(o)) = receipt {
                                if o.inserted > 0 && o.inserted as usize == s.events.len() {
                                    on_stored(Stored::New(&s.events));
                                } else if o.inserted > 0 || o.updated > 0 {
                                    on_stored(Stored::Changed);
                                }
                            }
                        }
                    }
                    result
                };
                match result {
                    Ok(receipts) => {
                        for (job, receipt) in group.into_iter().zip(receipts) {
                            let _ = job.reply.send(receipt.map_err(WriteError::from));
                        }
                    }
                    Err(e) => {
                        // The group's one transaction failed: every submission in it gets the error.
                        let e = Arc::new(e);
                        for job in group {
                            let _ = job.reply.send(Err(WriteError::Store(Arc::clone(&e))));
                        }
                    }
                }
            }
        })?;
        Ok(Self { queue })
    }

    /// Queues `submission` and waits until it is committed (or failed).
    pub async fn submit(&self, submission: Submission) -> Result<Receipt, WriteError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.queue.send(Job { submission, reply }).map_err(|_| WriteError::Stopped)?;
        answer.await.unwrap_or(Err(WriteError::Stopped))
    }
}

fn empty() -> Submission {
    Submission { events: Vec::new(), key: None }
}

/// Why a submission was not committed.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The store failed (the message names the file); shared by every submission of a group whose
    /// transaction failed.
    #[error(transparent)]
    Store(Arc<StoreError>),
    /// The writer thread is gone.
    #[error("the store's writer has stopped")]
    Stopped,
}

impl From<StoreError> for WriteError {
    fn from(e: StoreError) -> Self {
        Self::Store(Arc::new(e))
    }
}
