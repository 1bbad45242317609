//! One aggregate type's store: load an aggregate, or run a command on it,
//! once or with a bounded retry when another writer changed it at the same
//! moment. Every use case reaches its aggregates through one of these, so
//! there is one loader and one retry loop per aggregate, with one error.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Mutex, PoisonError};

use cqrs_es::event_sink::EventSink;
use cqrs_es::persist::{
    EventUpcaster, PersistedEventRepository, PersistedEventStore, SerializedEvent,
};
use cqrs_es::{Aggregate, AggregateContext, AggregateError, EventEnvelope, EventStore};

use crate::ports::PortError;

/// How often a command is tried when another request changed the same
/// aggregate at the same moment.
pub const CONFLICT_RETRIES: usize = 5;

/// Why a command did not take.
#[derive(Debug, thiserror::Error)]
pub enum CommandError<E, S = Infallible> {
    /// The aggregate refused it, with its own reason.
    #[error(transparent)]
    Refused(E),
    /// The caller stopped before sending it (see
    /// [`AggregateStore::execute_retrying`]).
    #[error("the command was not sent")]
    Stopped(S),
    /// Another writer changed the aggregate at the same moment, every time
    /// it was tried.
    #[error("someone else changed this at the same moment")]
    Conflict,
    /// The event store failed.
    #[error("{0}")]
    Unavailable(String),
}

impl<E, S> CommandError<E, S> {
    fn from_aggregate(e: AggregateError<E>) -> Self
    where
        E: std::error::Error,
    {
        match e {
            AggregateError::UserError(e) => Self::Refused(e),
            AggregateError::AggregateConflict => Self::Conflict,
            other => Self::Unavailable(other.to_string()),
        }
    }
}

impl<E, S> From<PortError> for CommandError<E, S> {
    fn from(e: PortError) -> Self {
        Self::Unavailable(e.0)
    }
}

/// Plain event-store mode: cqrs-es's snapshot and aggregate-store modes
/// apply every event twice in 0.5.
fn event_store<R: PersistedEventRepository, A: Aggregate>(
    repository: R,
) -> PersistedEventStore<R, A> {
    PersistedEventStore::new_event_store(repository).with_upcasters(events::upcast::all())
}

/// How many aggregates [`AggregateStore::load_kept`] keeps; past it, it
/// starts again from none.
const KEPT_AGGREGATES: usize = 1024;

pub struct AggregateStore<R: PersistedEventRepository, A: Aggregate> {
    store: PersistedEventStore<R, A>,
    services: A::Services,
    repository: R,
    upcasters: Vec<Box<dyn EventUpcaster>>,
    /// Aggregates as [`AggregateStore::load_kept`] last replayed them, with
    /// the sequence of the last event applied.
    kept: Mutex<HashMap<String, (usize, A)>>,
}

impl<R: PersistedEventRepository, A: Aggregate + Clone> AggregateStore<R, A> {
    /// `repository` is called twice: the event store has one, and the
    /// view refresher and [`Self::load_kept`] have their own.
    pub fn new(repository: impl Fn() -> R, services: A::Services) -> Self {
        Self {
            store: event_store(repository()),
            services,
            repository: repository(),
            upcasters: events::upcast::all(),
            kept: Mutex::new(HashMap::new()),
        }
    }

    /// Every stored event of one aggregate, as the projector receives them:
    /// for bringing the views up to date with a command just run.
    pub async fn stored_events(&self, id: &str) -> Result<Vec<SerializedEvent>, PortError> {
        self.repository
            .get_events::<A>(id)
            .await
            .map_err(|e| PortError::new("event store", e))
    }

    /// The aggregate replayed from its events; its default state when it
    /// has none.
    pub async fn load(&self, id: &str) -> Result<A, PortError> {
        let mut context = self
            .store
            .load_aggregate(id)
            .await
            .map_err(|e| PortError::new("event store", e))?;
        Ok(context.aggregate().clone())
    }

    /// As [`Self::load`], for an aggregate read on every request (a
    /// workspace, for its members; a patient's link's batch, delivery and
    /// invite, on every page they open): the copy this store last replayed,
    /// brought up to date with the events stored after it. It asks the
    /// store every time, so it sees every change as [`Self::load`] does;
    /// it only skips decoding and applying the events it has seen.
    pub async fn load_kept(&self, id: &str) -> Result<A, PortError>
    where
        A: Clone,
    {
        let kept = self.kept().get(id).cloned();
        let (mut sequence, mut aggregate) = kept.unwrap_or_default();
        let newer = self
            .repository
            .get_last_events::<A>(id, sequence)
            .await
            .map_err(|e| PortError::new("event store", e))?;
        if newer.is_empty() {
            return Ok(aggregate);
        }
        for event in newer {
            let event = self.upcasters.iter().fold(event, |event, upcaster| {
                if upcaster.can_upcast(&event.event_type, &event.event_version) {
                    upcaster.upcast(event)
                } else {
                    event
                }
            });
            let envelope = EventEnvelope::<A>::try_from(event)
                .map_err(|e| PortError::new("event store", e))?;
            sequence = envelope.sequence;
            aggregate.apply(envelope.payload);
        }
        let mut kept = self.kept();
        if kept.len() >= KEPT_AGGREGATES && !kept.contains_key(id) {
            kept.clear();
        }
        // Two requests may replay at once; the later sequence stays.
        if kept.get(id).is_none_or(|(held, _)| *held < sequence) {
            kept.insert(id.to_owned(), (sequence, aggregate.clone()));
        }
        Ok(aggregate)
    }

    fn kept(&self) -> std::sync::MutexGuard<'_, HashMap<String, (usize, A)>> {
        self.kept.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs one command, once. A conflict is reported, not retried: the
    /// caller's own retry (a queue's redelivery, say) will find the
    /// aggregate as the other writer left it.
    pub async fn execute(
        &self,
        id: &str,
        command: A::Command,
        metadata: HashMap<String, String>,
    ) -> Result<(), CommandError<A::Error>> {
        self.run(id, |_| Ok::<_, Infallible>(command), metadata)
            .await
            .map(drop)
    }

    /// Runs the command `command` makes from the aggregate as it stands,
    /// and answers with the aggregate after it. When another writer
    /// changed the aggregate at the same moment, it is loaded again and
    /// `command` asked again, at most [`CONFLICT_RETRIES`] times.
    pub async fn execute_retrying(
        &self,
        id: &str,
        metadata: impl Fn() -> HashMap<String, String>,
        mut command: impl FnMut(&A) -> A::Command,
    ) -> Result<A, CommandError<A::Error>> {
        self.try_execute_retrying(id, metadata, |current| {
            Ok::<_, Infallible>(command(current))
        })
        .await
    }

    /// As [`Self::execute_retrying`], but `command` may stop instead of
    /// making a command, with its own reason ([`CommandError::Stopped`]).
    pub async fn try_execute_retrying<S>(
        &self,
        id: &str,
        metadata: impl Fn() -> HashMap<String, String>,
        mut command: impl FnMut(&A) -> Result<A::Command, S>,
    ) -> Result<A, CommandError<A::Error, S>> {
        for _ in 0..CONFLICT_RETRIES {
            match self.run(id, &mut command, metadata()).await {
                Err(CommandError::Conflict) => continue,
                done => return done,
            }
        }
        Err(CommandError::Conflict)
    }

    /// One try of a command: the aggregate loaded once, the command
    /// `command` makes from it handled and its events committed, as
    /// cqrs-es's `CqrsFramework::execute_with_metadata` does (this store
    /// has no queries for it to dispatch to); but answering the aggregate
    /// after the command, which the framework does not, so that a caller
    /// need not read it twice more (once to make the command, once to see
    /// what it did) beside the framework's own read. The aggregate after is
    /// the one before with the committed events applied, exactly what
    /// loading it again would replay.
    async fn run<S>(
        &self,
        id: &str,
        command: impl FnOnce(&A) -> Result<A::Command, S>,
        metadata: HashMap<String, String>,
    ) -> Result<A, CommandError<A::Error, S>> {
        let mut context = self
            .store
            .load_aggregate(id)
            .await
            .map_err(|e| PortError::new("event store", e))?;
        let mut after = context.aggregate().clone();
        let next = command(&after).map_err(CommandError::Stopped)?;
        let sink = EventSink::default();
        context
            .aggregate()
            .handle(next, &self.services, &sink)
            .await
            .map_err(CommandError::Refused)?;
        let committed = self
            .store
            .commit(sink.collect().await, context, metadata)
            .await
            .map_err(CommandError::from_aggregate)?;
        for envelope in committed {
            after.apply(envelope.payload);
        }
        Ok(after)
    }
}
