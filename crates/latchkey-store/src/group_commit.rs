//! Group commit for the Alexa event outbox. Every accepted event must be durable before its 202, and
//! a commit is the expensive part of that write (one fsync on PostgreSQL, the single writer's turn on
//! SQLite). Acceptances that arrive while a commit is in flight wait in a queue and share the next one:
//! one transaction, multi-row inserts. Under no load an event is written alone, as before; under load
//! the batch grows with the queue, so the cost per event falls as the rate rises.
use sea_orm::{DatabaseConnection, EntityTrait, TransactionTrait};
use tokio::sync::{mpsc, oneshot};

use crate::entities::alexa_delivery;
use crate::error::StoreError;

/// Events waiting beyond this make acceptance wait for room (backpressure) instead of growing memory.
const QUEUE_DEPTH: usize = 8192;
/// Rows in one transaction at most: long transactions hold SQLite's writer from everyone else.
const MAX_BATCH_ROWS: usize = 2048;
/// Rows in one INSERT: 19 columns each stays under SQLite's 32,766 bound parameters.
const ROWS_PER_INSERT: usize = 512;

/// One event's rows and who is waiting to hear they are stored.
struct Pending {
    rows: Vec<alexa_delivery::ActiveModel>,
    done: oneshot::Sender<Result<(), StoreError>>,
}

/// The queue in front of the outbox's writer task.
#[derive(Clone)]
pub(crate) struct OutboxWriter {
    queue: mpsc::Sender<Pending>,
}

impl OutboxWriter {
    /// Starts the writer task on the current runtime (the process's main one: a task spawned on one of
    /// actix's worker runtimes would stop with that worker). It ends when the last `Store` is dropped.
    pub(crate) fn start(writer: DatabaseConnection) -> Self {
        let (queue, rx) = mpsc::channel(QUEUE_DEPTH);
        tokio::spawn(run(writer, rx));
        Self { queue }
    }

    /// Stores one event's rows; returns once they are committed.
    pub(crate) async fn write(&self, rows: Vec<alexa_delivery::ActiveModel>) -> Result<(), StoreError> {
        let (done, answer) = oneshot::channel();
        let gone = || {
            tracing::error!("the outbox writer stopped");
            StoreError::Unavailable(None)
        };
        self.queue.send(Pending { rows, done }).await.map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

async fn run(db: DatabaseConnection, mut rx: mpsc::Receiver<Pending>) {
    while let Some(first) = rx.recv().await {
        let mut rows = first.rows.len();
        let mut batch = vec![first];
        while rows < MAX_BATCH_ROWS {
            match rx.try_recv() {
                Ok(p) => {
                    rows += p.rows.len();
                    batch.push(p);
                }
                Err(_) => break,
            }
        }
        commit_batch(&db, batch).await;
    }
}

/// Commits a batch in one transaction. If that fails and the batch has several events, each is tried
/// alone, so one event's trouble (a grant deleted meanwhile) does not refuse the others.
async fn commit_batch(db: &DatabaseConnection, batch: Vec<Pending>) {
    let all: Vec<_> = batch.iter().flat_map(|p| p.rows.iter().cloned()).collect();
    match insert(db, all).await {
        Ok(()) => {
            for p in batch {
                let _ = p.done.send(Ok(()));
            }
        }
        Err(e) if batch.len() == 1 => {
            for p in batch {
                let _ = p.done.send(Err(e.clone()));
            }
        }
        Err(e) => {
            tracing::debug!(error = %e, events = batch.len(), "a group commit failed; storing its events one by one");
            for p in batch {
                let r = insert(db, p.rows).await;
                let _ = p.done.send(r);
            }
        }
    }
}

async fn insert(db: &DatabaseConnection, rows: Vec<alexa_delivery::ActiveModel>) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let txn = db.begin().await?;
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        alexa_delivery::Entity::insert_many(chunk.to_vec()).exec_without_returning(&txn).await?;
    }
    txn.commit().await?;
    Ok(())
}
