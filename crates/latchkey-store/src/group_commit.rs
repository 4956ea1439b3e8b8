//! Group commit for the Alexa event outbox. Every accepted event must be durable before its 202, and
//! a commit is the expensive part of that write (one fsync on PostgreSQL, the single writer's turn on
//! SQLite). Acceptances that arrive while a commit is in flight wait in a queue and share the next one:
//! one transaction, multi-row inserts. Under no load an event is written alone, as before; under load
//! the batch grows with the queue, so the cost per event falls as the rate rises.
//!
//! An event sent to a user (the common case) has its destinations read in the same transaction, one
//! query per tenant in the batch: not a query of its own before it joins the queue (a round trip to
//! PostgreSQL, a hop to a reader thread on SQLite, per event), and no grant can end between the read
//! and the write unseen.
use sea_orm::{DatabaseConnection, DatabaseTransaction, EntityTrait, IntoActiveModel, TransactionTrait};
use std::collections::{BTreeMap, BTreeSet};
use tokio::sync::{mpsc, oneshot};

use crate::entities::alexa_delivery;
use crate::error::StoreError;
use crate::new_id;
use crate::repo::event_destinations_of;

/// Events waiting beyond this make acceptance wait for room (backpressure) instead of growing memory.
const QUEUE_DEPTH: usize = 8192;
/// Rows in one transaction at most: long transactions hold SQLite's writer from everyone else.
const MAX_BATCH_ROWS: usize = 2048;
/// Rows in one INSERT: 19 columns each stays under SQLite's 32,766 bound parameters.
const ROWS_PER_INSERT: usize = 512;

/// What to store for one event.
pub(crate) enum Event {
    /// These rows: the caller chose the destinations.
    Rows(Vec<alexa_delivery::Model>),
    /// A row for each deliverable grant of the row's user for `client_id` (the skill's client row), as
    /// the storing transaction reads them: `row` with its id, grant and region set for each. None if
    /// the user has nowhere to receive it.
    ToUser { row: Box<alexa_delivery::Model>, client_id: String },
}

impl Event {
    /// Rows it adds to a transaction, as far as is known before its destinations are read.
    fn rows_at_least(&self) -> usize {
        match self {
            Event::Rows(rows) => rows.len(),
            Event::ToUser { .. } => 1,
        }
    }
}

/// One event and who is waiting to hear its rows are stored.
struct Pending {
    event: Event,
    done: oneshot::Sender<Result<Vec<alexa_delivery::Model>, StoreError>>,
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

    /// Stores one event; returns its rows once they are committed.
    pub(crate) async fn write(&self, event: Event) -> Result<Vec<alexa_delivery::Model>, StoreError> {
        let (done, answer) = oneshot::channel();
        let gone = || {
            tracing::error!("the outbox writer stopped");
            StoreError::Unavailable(None)
        };
        self.queue.send(Pending { event, done }).await.map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

async fn run(db: DatabaseConnection, mut rx: mpsc::Receiver<Pending>) {
    while let Some(first) = rx.recv().await {
        let mut rows = first.event.rows_at_least();
        let mut batch = vec![first];
        while rows < MAX_BATCH_ROWS {
            match rx.try_recv() {
                Ok(p) => {
                    rows += p.event.rows_at_least();
                    batch.push(p);
                }
                Err(_) => break,
            }
        }
        let (events, started) = (batch.len(), std::time::Instant::now());
        commit_batch(&db, batch).await;
        // Where acceptance's time goes, for tuning (RUST_LOG=latchkey_store=debug).
        tracing::debug!(
            events,
            rows_at_least = rows,
            commit_ms = started.elapsed().as_secs_f64() * 1e3,
            "Alexa outbox group commit"
        );
    }
}

/// Commits a batch in one transaction. If that fails and the batch has several events, each is tried
/// alone, so one event's trouble (a grant deleted meanwhile) does not refuse the others.
async fn commit_batch(db: &DatabaseConnection, batch: Vec<Pending>) {
    let events: Vec<&Event> = batch.iter().map(|p| &p.event).collect();
    match store(db, &events).await {
        Ok(rows) => {
            for (p, rows) in batch.into_iter().zip(rows) {
                let _ = p.done.send(Ok(rows));
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
                let r = store(db, &[&p.event]).await.map(|mut rows| rows.pop().unwrap_or_default());
                let _ = p.done.send(r);
            }
        }
    }
}

/// Stores the events in one transaction; returns each one's rows, in the events' order.
async fn store(db: &DatabaseConnection, events: &[&Event]) -> Result<Vec<Vec<alexa_delivery::Model>>, StoreError> {
    let txn = db.begin().await?;
    let rows = with_destinations(&txn, events).await?;
    let all: Vec<alexa_delivery::ActiveModel> =
        rows.iter().flatten().cloned().map(IntoActiveModel::into_active_model).collect();
    for chunk in all.chunks(ROWS_PER_INSERT) {
        alexa_delivery::Entity::insert_many(chunk.to_vec()).exec_without_returning(&txn).await?;
    }
    txn.commit().await?;
    Ok(rows)
}

/// Each event's rows: given, or one per destination read in `txn`, one query per tenant.
async fn with_destinations(
    txn: &DatabaseTransaction,
    events: &[&Event],
) -> Result<Vec<Vec<alexa_delivery::Model>>, StoreError> {
    // (tenant, user, client) -> [(grant, region)], oldest grant first.
    let mut found: BTreeMap<(String, String, String), Vec<(String, String)>> = BTreeMap::new();
    let mut asked: BTreeMap<&str, (BTreeSet<&str>, BTreeSet<&str>)> = BTreeMap::new();
    for e in events {
        if let Event::ToUser { row, client_id } = e {
            let (users, clients) = asked.entry(row.tenant_id.as_str()).or_default();
            users.insert(row.user_id.as_str());
            clients.insert(client_id.as_str());
        }
    }
    for (tenant, (users, clients)) in asked {
        let users: Vec<&str> = users.into_iter().collect();
        let clients: Vec<&str> = clients.into_iter().collect();
        for d in event_destinations_of(txn, tenant, &users, &clients).await? {
            found.entry((tenant.to_owned(), d.user_id, d.client_id)).or_default().push((d.id, d.region));
        }
    }
    Ok(events
        .iter()
        .map(|e| match e {
            Event::Rows(rows) => rows.clone(),
            Event::ToUser { row, client_id } => found
                .get(&(row.tenant_id.clone(), row.user_id.clone(), client_id.clone()))
                .into_iter()
                .flatten()
                .map(|(grant_id, region)| alexa_delivery::Model {
                    id: new_id(),
                    grant_id: grant_id.clone(),
                    region: region.clone(),
                    ..(**row).clone()
                })
                .collect(),
        })
        .collect())
}
