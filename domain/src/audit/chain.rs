//! Tamper evidence for the event log.
//!
//! Every stored event carries `hash = SHA-256(previous_hash, its own
//! stored bytes)`, where `previous_hash` is the hash of the event stored
//! before it in commit order ([`GENESIS`] for the first). The bytes are the
//! event's columns exactly as stored (payload and metadata as the JSON text
//! in the store, never re-serialised: metadata is a map whose key order
//! serde does not fix), each prefixed with its length so that no two
//! events share an encoding.
//!
//! [`ChainVerifier`] reads the log in commit order and names each event
//! that was changed (its bytes no longer give its hash), deleted (an event
//! names a predecessor that is not there), inserted (it is in no chain, or
//! it forks one) or reordered (it is stored before the event it follows).
//! A chain rewritten from an edit onwards is consistent with itself, so
//! the chain's head is checkpointed somewhere the writer cannot rewrite
//! ([`Checkpoint`]), and the verifier compares each checkpoint with the
//! event at its position. Events stored before the chain existed carry no
//! hash and are counted as such, not reported as tampered.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The `previous_hash` of the first chained event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What the hash of an event covers besides its predecessor's hash: the
/// stored columns.
#[derive(Debug, Clone, Copy)]
pub struct StoredEvent<'a> {
    pub aggregate_type: &'a str,
    pub aggregate_id: &'a str,
    pub sequence: u64,
    pub event_type: &'a str,
    pub event_version: &'a str,
    /// The payload's JSON text as stored.
    pub payload: &'a str,
    /// The metadata's JSON text as stored.
    pub metadata: &'a str,
}

/// The hash an event stored after `previous` carries, as 64 hex digits.
pub fn event_hash(previous: &str, event: &StoredEvent<'_>) -> String {
    hex::encode(digest(previous.as_bytes(), event))
}

fn digest(previous: &[u8], event: &StoredEvent<'_>) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(b"batchbook event chain 1\0");
    let mut sequence = itoa::Buffer::new();
    let sequence = sequence.format(event.sequence);
    for field in [
        previous,
        event.aggregate_type.as_bytes(),
        event.aggregate_id.as_bytes(),
        sequence.as_bytes(),
        event.event_type.as_bytes(),
        event.event_version.as_bytes(),
        event.payload.as_bytes(),
        event.metadata.as_bytes(),
    ] {
        hasher.update((field.len() as u64).to_be_bytes());
        hasher.update(field);
    }
    hasher.finalize().into()
}

/// A record of the chain's head at one moment, kept where the writer of
/// the log cannot rewrite it (a file of its own locally; an S3 object
/// under Object Lock on AWS).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    /// The head event's position in commit order.
    pub position: i64,
    /// The head event's hash.
    pub hash: String,
    /// How many events the log held.
    pub events: u64,
    pub at: DateTime<Utc>,
}

/// One thing `audit verify` found wrong with the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "finding", rename_all = "snake_case")]
pub enum ChainFinding {
    /// The event's stored bytes no longer give its hash: it was edited.
    Changed { position: i64 },
    /// The event names a predecessor the log no longer holds: one or more
    /// events before it were deleted.
    Missing { before: i64 },
    /// The event belongs to no chain, or forks one: it was inserted.
    Inserted { position: i64 },
    /// The event is stored before the event it follows in the chain.
    Reordered { position: i64, follows: i64 },
    /// The event a checkpoint names is gone or has another hash: the
    /// chain was rewritten (or cut short) after the checkpoint was taken.
    Checkpoint {
        position: i64,
        expected: String,
        found: Option<String>,
    },
}

impl std::fmt::Display for ChainFinding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Changed { position } => write!(
                f,
                "the event at position {position} was changed: its stored bytes no longer match its hash"
            ),
            Self::Missing { before } => write!(
                f,
                "events were deleted before position {before}: the event there names a predecessor the log does not hold"
            ),
            Self::Inserted { position } => write!(
                f,
                "the event at position {position} was inserted: it is not part of the chain"
            ),
            Self::Reordered { position, follows } => write!(
                f,
                "the event at position {position} is out of order: it follows the event at position {follows}"
            ),
            Self::Checkpoint {
                position,
                expected,
                found: Some(found),
            } => write!(
                f,
                "the chain no longer matches the checkpoint at position {position}: it recorded {expected}, the log holds {found}"
            ),
            Self::Checkpoint {
                position,
                expected,
                found: None,
            } => write!(
                f,
                "the chain no longer matches the checkpoint at position {position}: it recorded {expected}, the log holds no event there"
            ),
        }
    }
}

/// What the chain check found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainReport {
    /// Events read.
    pub events: u64,
    /// Events stored before the chain existed (no hash), all before the
    /// first chained event.
    pub before_chain: u64,
    /// Checkpoints compared.
    pub checkpoints: usize,
    /// The last event's position and hash, the head to checkpoint next.
    pub head: Option<(i64, String)>,
    /// Sorted by position.
    pub findings: Vec<ChainFinding>,
}

#[derive(Clone, Copy)]
struct Link {
    position: i64,
    previous: [u8; 32],
    hash: [u8; 32],
}

/// Reads the log in commit order ([`ChainVerifier::push`]), then judges
/// it ([`ChainVerifier::finish`]). Holds 72 bytes and an index entry per
/// chained event.
#[derive(Default)]
pub struct ChainVerifier {
    links: Vec<Link>,
    events: u64,
    before_chain: u64,
    findings: Vec<ChainFinding>,
    /// The last event's position and stored hash (`None` when it has none).
    last: Option<(i64, Option<[u8; 32]>)>,
    /// The last event's stored hash as text (empty when it has none): the
    /// next event's `previous_hash` is, in an unbroken chain, the same
    /// text, so its bytes need not be parsed again.
    last_text: String,
    /// Whether every link so far follows the one before it, from the
    /// genesis: then `finish` has no forks, gaps or reorderings to look for.
    unbroken: bool,
}

fn parse_hash(hex_text: &str) -> Option<[u8; 32]> {
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(hex_text, &mut bytes).ok()?;
    Some(bytes)
}

/// Whether `hex_text` is `hash` in the lower-case hex the log is written
/// in: then the stored hash is the computed one and need not be parsed
/// (encoding is a table look-up a byte; parsing checks every digit).
fn is_hex_of(hex_text: &str, hash: &[u8; 32]) -> bool {
    let mut text = [0u8; 64];
    hex::encode_to_slice(hash, &mut text).is_ok() && text == hex_text.as_bytes()
}

impl ChainVerifier {
    pub fn new() -> Self {
        Self::default()
    }

    /// The next event in commit order, with the chain columns it was
    /// stored with (`None` for an event stored before the chain).
    pub fn push(
        &mut self,
        position: i64,
        event: &StoredEvent<'_>,
        previous_hash: Option<&str>,
        hash: Option<&str>,
    ) {
        self.events += 1;
        let computed = match (previous_hash, hash) {
            (Some(previous_text), Some(_)) => Some(digest(previous_text.as_bytes(), event)),
            _ => None,
        };
        let stored = match (hash, computed) {
            (Some(text), Some(computed)) if is_hex_of(text, &computed) => Some(computed),
            (Some(text), _) => parse_hash(text),
            (None, _) => None,
        };
        let previous = match previous_hash {
            Some(text) if !self.last_text.is_empty() && text == self.last_text => {
                self.last.and_then(|(_, hash)| hash)
            }
            Some(text) => parse_hash(text),
            None => None,
        };
        self.last = Some((position, stored));
        self.last_text.clear();
        self.last_text.push_str(hash.unwrap_or_default());
        let Some(computed) = computed else {
            if self.links.is_empty() {
                self.before_chain += 1;
            } else {
                // After the chain began, every event is chained.
                self.findings.push(ChainFinding::Inserted { position });
            }
            return;
        };
        let (Some(previous), Some(stored)) = (previous, stored) else {
            self.findings.push(ChainFinding::Changed { position });
            return;
        };
        if computed != stored {
            self.findings.push(ChainFinding::Changed { position });
        }
        self.unbroken = match self.links.last() {
            None => previous == [0u8; 32],
            Some(last) => self.unbroken && previous == last.hash && last.position < position,
        };
        self.links.push(Link {
            position,
            previous,
            hash: stored,
        });
    }

    /// Judges what was read against the checkpoints taken so far.
    pub fn finish(mut self, checkpoints: &[Checkpoint]) -> ChainReport {
        if !self.unbroken {
            self.find_breaks();
        }
        for checkpoint in checkpoints {
            let found = self
                .links
                .binary_search_by_key(&checkpoint.position, |l| l.position)
                .ok()
                .map(|i| hex::encode(self.links[i].hash));
            if found.as_deref() != Some(checkpoint.hash.as_str()) {
                self.findings.push(ChainFinding::Checkpoint {
                    position: checkpoint.position,
                    expected: checkpoint.hash.clone(),
                    found,
                });
            }
        }
        self.findings.sort_by_key(|f| match f {
            ChainFinding::Changed { position }
            | ChainFinding::Inserted { position }
            | ChainFinding::Reordered { position, .. }
            | ChainFinding::Checkpoint { position, .. } => *position,
            ChainFinding::Missing { before } => *before,
        });
        self.findings.dedup();
        ChainReport {
            events: self.events,
            before_chain: self.before_chain,
            checkpoints: checkpoints.len(),
            head: self
                .last
                .and_then(|(position, hash)| Some((position, hex::encode(hash?)))),
            findings: self.findings,
        }
    }

    /// The links' forks, gaps and reorderings, when they are not one
    /// unbroken chain from the genesis in commit order.
    fn find_breaks(&mut self) {
        let genesis = [0u8; 32];
        let by_hash: HashMap<[u8; 32], usize> = self
            .links
            .iter()
            .enumerate()
            .map(|(i, link)| (link.hash, i))
            .collect();
        // Each link's followers: more than one is a fork.
        let mut followers: HashMap<[u8; 32], Vec<usize>> = HashMap::new();
        for (i, link) in self.links.iter().enumerate() {
            followers.entry(link.previous).or_default().push(i);
        }
        // Where a chain begins: at the genesis (once) or after a gap.
        let mut predecessor: Vec<Option<usize>> = vec![None; self.links.len()];
        let mut seen_genesis = false;
        let mut starts = Vec::new();
        for (i, link) in self.links.iter().enumerate() {
            if link.previous == genesis {
                if seen_genesis {
                    self.findings.push(ChainFinding::Inserted {
                        position: link.position,
                    });
                    continue;
                }
                seen_genesis = true;
                starts.push(i);
            } else if !by_hash.contains_key(&link.previous) {
                self.findings.push(ChainFinding::Missing {
                    before: link.position,
                });
                starts.push(i);
            }
        }
        // Walk each chain; at a fork, the follower the chain goes on from
        // is the real one (at the head, the first stored), the others were
        // inserted.
        for start in starts {
            let mut at = start;
            while let Some(next) = followers.get(&self.links[at].hash) {
                let chosen = next
                    .iter()
                    .copied()
                    .find(|&n| followers.contains_key(&self.links[n].hash))
                    .unwrap_or(next[0]);
                for &other in next.iter().filter(|&&n| n != chosen) {
                    self.findings.push(ChainFinding::Inserted {
                        position: self.links[other].position,
                    });
                }
                if predecessor[chosen].is_some() || chosen == start {
                    break;
                }
                predecessor[chosen] = Some(at);
                at = chosen;
            }
        }
        for (i, link) in self.links.iter().enumerate() {
            if let Some(before) = predecessor[i] {
                let follows = self.links[before].position;
                if follows > link.position {
                    self.findings.push(ChainFinding::Reordered {
                        position: link.position,
                        follows,
                    });
                }
            }
        }
    }
}

/// The head of one aggregate's chain, as a checkpoint of a store with one
/// chain per aggregate lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamHead {
    /// `<aggregate type>#<aggregate id>`.
    pub aggregate: String,
    pub sequence: u64,
    pub hash: String,
}

/// A checkpoint of a store that keeps no order across aggregates
/// (DynamoDB): every chained aggregate's head at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeadsCheckpoint {
    /// When the store was read for it.
    pub at: DateTime<Utc>,
    /// How many events the store held.
    pub events: u64,
    /// Sorted by aggregate.
    pub heads: Vec<StreamHead>,
}

/// How long before a checkpoint an aggregate must have begun for its
/// absence from the checkpoint to mean it was inserted since: longer than
/// any command takes from reading the clock to committing.
pub const CHECKPOINT_MARGIN_SECONDS: i64 = 300;

/// One finding in one aggregate's chain. Positions are the aggregate's
/// sequence numbers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StreamFinding {
    /// `<aggregate type>#<aggregate id>`.
    pub aggregate: String,
    #[serde(flatten)]
    pub finding: ChainFinding,
}

impl std::fmt::Display for StreamFinding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} (positions are its sequence numbers): {}",
            self.aggregate, self.finding
        )
    }
}

/// What the chain check of a store with one chain per aggregate found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StreamsReport {
    /// Events read.
    pub events: u64,
    /// Aggregates read.
    pub aggregates: u64,
    /// Events stored before the chain existed (no hash), each before the
    /// first chained event of its aggregate.
    pub before_chain: u64,
    /// Checkpoints compared.
    pub checkpoints: usize,
    /// Sorted by aggregate, then position.
    pub findings: Vec<StreamFinding>,
}

impl StreamsReport {
    pub fn is_clean(&self) -> bool {
        self.findings.is_empty()
    }
}

/// Checks a store in which each aggregate's events form their own chain
/// (the first `previous_hash` of each is [`GENESIS`]), as DynamoDB keeps
/// them: [`ChainVerifier`] on each aggregate with its sequence numbers as
/// positions, each against its heads in the checkpoints. An aggregate a
/// checkpoint names that is gone was deleted (a [`ChainFinding::Checkpoint`]
/// with nothing found); a chained aggregate that began well before the
/// latest checkpoint but is not in it was inserted.
pub struct StreamsVerifier {
    /// Each aggregate's heads, as checkpoints, in the order taken.
    heads: HashMap<String, Vec<Checkpoint>>,
    latest: Option<(DateTime<Utc>, std::collections::HashSet<String>)>,
    seen: std::collections::HashSet<String>,
    report: StreamsReport,
}

impl StreamsVerifier {
    pub fn new(checkpoints: &[HeadsCheckpoint]) -> Self {
        let mut heads: HashMap<String, Vec<Checkpoint>> = HashMap::new();
        for checkpoint in checkpoints {
            for head in &checkpoint.heads {
                heads
                    .entry(head.aggregate.clone())
                    .or_default()
                    .push(Checkpoint {
                        position: head.sequence as i64,
                        hash: head.hash.clone(),
                        events: head.sequence,
                        at: checkpoint.at,
                    });
            }
        }
        let latest = checkpoints
            .iter()
            .max_by_key(|c| c.at)
            .map(|c| (c.at, c.heads.iter().map(|h| h.aggregate.clone()).collect()));
        Self {
            heads,
            latest,
            seen: Default::default(),
            report: StreamsReport {
                events: 0,
                aggregates: 0,
                before_chain: 0,
                checkpoints: checkpoints.len(),
                findings: Vec::new(),
            },
        }
    }

    /// One aggregate's events in sequence order, each with the chain
    /// columns it was stored with.
    pub fn push_aggregate<'a>(
        &mut self,
        aggregate: &str,
        events: impl IntoIterator<Item = (StoredEvent<'a>, Option<&'a str>, Option<&'a str>)>,
    ) {
        let mut verifier = ChainVerifier::new();
        // The first chained event: where, and when it says it occurred.
        let mut began: Option<(u64, Option<DateTime<Utc>>)> = None;
        for (event, previous, hash) in events {
            if began.is_none() && hash.is_some() {
                began = Some((event.sequence, occurred_at(event.metadata)));
            }
            verifier.push(event.sequence as i64, &event, previous, hash);
        }
        let checkpoints = self.heads.get(aggregate).map(Vec::as_slice).unwrap_or(&[]);
        let chain = verifier.finish(checkpoints);
        self.report.events += chain.events;
        self.report.aggregates += 1;
        self.report.before_chain += chain.before_chain;
        let mut findings: Vec<StreamFinding> = chain
            .findings
            .into_iter()
            .map(|finding| StreamFinding {
                aggregate: aggregate.to_owned(),
                finding,
            })
            .collect();
        if let (Some((at, listed)), Some((first, Some(occurred)))) = (&self.latest, began) {
            if !listed.contains(aggregate)
                && occurred < *at - chrono::Duration::seconds(CHECKPOINT_MARGIN_SECONDS)
            {
                findings.insert(
                    0,
                    StreamFinding {
                        aggregate: aggregate.to_owned(),
                        finding: ChainFinding::Inserted {
                            position: first as i64,
                        },
                    },
                );
            }
        }
        self.report.findings.extend(findings);
        self.seen.insert(aggregate.to_owned());
    }

    /// Judges the aggregates the checkpoints name and nothing held.
    pub fn finish(mut self) -> StreamsReport {
        let mut gone: Vec<(&String, &Vec<Checkpoint>)> = self
            .heads
            .iter()
            .filter(|(aggregate, _)| !self.seen.contains(*aggregate))
            .collect();
        gone.sort_by_key(|(aggregate, _)| *aggregate);
        for (aggregate, checkpoints) in gone {
            let last = checkpoints
                .iter()
                .max_by_key(|c| c.position)
                .expect("every listed aggregate has a head");
            self.report.findings.push(StreamFinding {
                aggregate: aggregate.clone(),
                finding: ChainFinding::Checkpoint {
                    position: last.position,
                    expected: last.hash.clone(),
                    found: None,
                },
            });
        }
        self.report
            .findings
            .sort_by(|a, b| a.aggregate.cmp(&b.aggregate));
        self.report
    }
}

/// When an event's stored metadata says it occurred; `None` when the
/// metadata is too damaged to say (the hash check names that event).
fn occurred_at(metadata: &str) -> Option<DateTime<Utc>> {
    #[derive(Deserialize)]
    struct When {
        occurred_at: DateTime<Utc>,
    }
    serde_json::from_str::<When>(metadata)
        .ok()
        .map(|w| w.occurred_at)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Row {
        id: String,
        payload: String,
        previous: Option<String>,
        hash: Option<String>,
    }

    fn stored(row: &Row) -> StoredEvent<'_> {
        StoredEvent {
            aggregate_type: "Batch",
            aggregate_id: &row.id,
            sequence: 1,
            event_type: "BatchCancelled",
            event_version: "1.0",
            payload: &row.payload,
            metadata: "{}",
        }
    }

    /// `unchained` events stored before the chain, then `chained` events
    /// hashed as the writer hashes them.
    fn log(unchained: usize, chained: usize) -> Vec<Row> {
        let mut rows = Vec::new();
        let mut previous = GENESIS.to_owned();
        for n in 0..unchained + chained {
            let mut row = Row {
                id: format!("b-{n}"),
                payload: format!(r#"{{"n":{n}}}"#),
                previous: None,
                hash: None,
            };
            if n >= unchained {
                let hash = event_hash(&previous, &stored(&row));
                row.previous = Some(std::mem::replace(&mut previous, hash.clone()));
                row.hash = Some(hash);
            }
            rows.push(row);
        }
        rows
    }

    /// Positions are 1-based, as SQLite's rowids.
    fn verify(rows: &[Row], checkpoints: &[Checkpoint]) -> ChainReport {
        let mut verifier = ChainVerifier::new();
        for (i, row) in rows.iter().enumerate() {
            verifier.push(
                i as i64 + 1,
                &stored(row),
                row.previous.as_deref(),
                row.hash.as_deref(),
            );
        }
        verifier.finish(checkpoints)
    }

    fn checkpoint(rows: &[Row], position: i64) -> Checkpoint {
        Checkpoint {
            position,
            hash: rows[position as usize - 1].hash.clone().unwrap(),
            events: position as u64,
            at: Utc::now(),
        }
    }

    #[test]
    fn an_untouched_log_has_no_findings_and_counts_its_events_before_the_chain() {
        let rows = log(3, 5);
        let report = verify(&rows, &[checkpoint(&rows, 8)]);
        assert_eq!(report.findings, []);
        assert_eq!(report.events, 8);
        assert_eq!(report.before_chain, 3);
        assert_eq!(report.checkpoints, 1);
        assert_eq!(report.head, Some((8, rows[7].hash.clone().unwrap())));
    }

    /// A stored hash is compared as the bytes it spells: in upper-case hex
    /// it is the same hash, and text that is not a hash is a change. (The
    /// next event's `previous_hash` text is hashed as stored, so only its
    /// bytes must match.)
    #[test]
    fn a_stored_hash_is_read_as_its_bytes_not_its_spelling() {
        let mut rows = log(0, 4);
        rows[1].hash = rows[1].hash.as_ref().map(|h| h.to_uppercase());
        assert_eq!(verify(&rows, &[checkpoint(&log(0, 4), 4)]).findings, []);

        rows[3].hash = Some("not a hash".into());
        assert_eq!(
            verify(&rows, &[]).findings,
            [ChainFinding::Changed { position: 4 }]
        );
    }

    #[test]
    fn a_byte_edited_in_a_payload_is_named() {
        let mut rows = log(0, 5);
        rows[2].payload = r#"{"n":9}"#.into();
        assert_eq!(
            verify(&rows, &[]).findings,
            [ChainFinding::Changed { position: 3 }]
        );
    }

    #[test]
    fn a_deleted_event_is_named_by_the_one_after_it() {
        let mut rows = log(0, 5);
        rows.remove(2);
        // Positions keep their gap, as rowids do.
        let mut verifier = ChainVerifier::new();
        for (position, row) in [1, 2, 4, 5].into_iter().zip(&rows) {
            verifier.push(
                position,
                &stored(row),
                row.previous.as_deref(),
                row.hash.as_deref(),
            );
        }
        assert_eq!(
            verifier.finish(&[]).findings,
            [ChainFinding::Missing { before: 4 }]
        );
    }

    #[test]
    fn two_swapped_events_are_named_once() {
        let mut rows = log(0, 5);
        rows.swap(1, 2);
        assert_eq!(
            verify(&rows, &[]).findings,
            [ChainFinding::Reordered {
                position: 2,
                follows: 3
            }]
        );
    }

    #[test]
    fn an_event_inserted_without_a_hash_or_with_a_forged_one_is_named() {
        let mut rows = log(1, 4);
        rows.insert(
            3,
            Row {
                id: "forged".into(),
                payload: "{}".into(),
                previous: None,
                hash: None,
            },
        );
        assert_eq!(
            verify(&rows, &[]).findings,
            [ChainFinding::Inserted { position: 4 }]
        );
        // A forger who hashes their event after event 2 forks the chain.
        let mut rows = log(0, 4);
        let mut forged = Row {
            id: "forged".into(),
            payload: "{}".into(),
            previous: rows[1].hash.clone(),
            hash: None,
        };
        forged.hash = Some(event_hash(
            rows[1].hash.as_deref().unwrap(),
            &stored(&forged),
        ));
        rows.insert(2, forged);
        assert_eq!(
            verify(&rows, &[]).findings,
            [ChainFinding::Inserted { position: 3 }]
        );
    }

    #[test]
    fn a_chain_rewritten_after_an_edit_no_longer_matches_its_checkpoint() {
        let rows = log(0, 5);
        let taken = checkpoint(&rows, 5);
        // The forger edits event 2 and re-hashes it and everything after.
        let mut rewritten = log(0, 5);
        rewritten[1].payload = r#"{"n":7}"#.into();
        let mut previous = rewritten[0].hash.clone().unwrap();
        for row in &mut rewritten[1..] {
            let hash = event_hash(&previous, &stored(row));
            row.previous = Some(std::mem::replace(&mut previous, hash.clone()));
            row.hash = Some(hash);
        }
        let found = rewritten[4].hash.clone();
        assert_eq!(
            verify(&rewritten, std::slice::from_ref(&taken)).findings,
            [ChainFinding::Checkpoint {
                position: 5,
                expected: taken.hash.clone(),
                found
            }]
        );
        // Cut short below the checkpoint: the event it names is gone.
        assert_eq!(
            verify(&rows[..4], std::slice::from_ref(&taken)).findings,
            [ChainFinding::Checkpoint {
                position: 5,
                expected: taken.hash,
                found: None
            }]
        );
    }

    #[test]
    fn findings_read_as_sentences() {
        assert_eq!(
            ChainFinding::Reordered {
                position: 2,
                follows: 3
            }
            .to_string(),
            "the event at position 2 is out of order: it follows the event at position 3"
        );
        assert_eq!(
            ChainFinding::Missing { before: 4 }.to_string(),
            "events were deleted before position 4: the event there names a predecessor the log does not hold"
        );
    }

    /// One aggregate's events, chained as the DynamoDB writer chains them
    /// (from the genesis, in sequence), the first `unchained` without.
    struct StreamRow {
        id: String,
        sequence: u64,
        payload: String,
        metadata: String,
        previous: Option<String>,
        hash: Option<String>,
    }

    fn stream_event(row: &StreamRow) -> StoredEvent<'_> {
        StoredEvent {
            aggregate_type: "Batch",
            aggregate_id: &row.id,
            sequence: row.sequence,
            event_type: "BatchCancelled",
            event_version: "1.0",
            payload: &row.payload,
            metadata: &row.metadata,
        }
    }

    fn stream(id: &str, events: u64, unchained: u64, occurred: &str) -> Vec<StreamRow> {
        let mut previous = GENESIS.to_owned();
        (1..=events)
            .map(|sequence| {
                let mut row = StreamRow {
                    id: id.to_owned(),
                    sequence,
                    payload: format!(r#"{{"n":{sequence}}}"#),
                    metadata: format!(r#"{{"occurred_at":"{occurred}"}}"#),
                    previous: None,
                    hash: None,
                };
                if sequence > unchained {
                    let hash = event_hash(&previous, &stream_event(&row));
                    row.previous = Some(std::mem::replace(&mut previous, hash.clone()));
                    row.hash = Some(hash);
                }
                row
            })
            .collect()
    }

    fn heads(at: &str, streams: &[&[StreamRow]]) -> HeadsCheckpoint {
        HeadsCheckpoint {
            at: at.parse().unwrap(),
            events: streams.iter().map(|s| s.len() as u64).sum(),
            heads: streams
                .iter()
                .filter_map(|rows| {
                    let last = rows.last()?;
                    Some(StreamHead {
                        aggregate: format!("Batch#{}", last.id),
                        sequence: last.sequence,
                        hash: last.hash.clone()?,
                    })
                })
                .collect(),
        }
    }

    fn verify_streams(streams: &[&[StreamRow]], checkpoints: &[HeadsCheckpoint]) -> StreamsReport {
        let mut verifier = StreamsVerifier::new(checkpoints);
        for rows in streams {
            verifier.push_aggregate(
                &format!("Batch#{}", rows[0].id),
                rows.iter()
                    .map(|r| (stream_event(r), r.previous.as_deref(), r.hash.as_deref())),
            );
        }
        verifier.finish()
    }

    #[test]
    fn per_aggregate_chains_that_match_their_checkpoint_have_no_findings() {
        let a = stream("a", 4, 1, "2026-01-01T09:00:00Z");
        let b = stream("b", 2, 0, "2026-01-01T09:00:00Z");
        let taken = heads("2026-01-02T00:00:00Z", &[&a, &b]);
        let report = verify_streams(&[&a, &b], &[taken]);
        assert_eq!(report.findings, []);
        assert_eq!(
            (
                report.events,
                report.aggregates,
                report.before_chain,
                report.checkpoints
            ),
            (6, 2, 1, 1)
        );
    }

    #[test]
    fn an_edit_a_deleted_event_and_a_deleted_aggregate_are_named_with_their_aggregate() {
        let mut a = stream("a", 4, 0, "2026-01-01T09:00:00Z");
        let mut b = stream("b", 3, 0, "2026-01-01T09:00:00Z");
        let c = stream("c", 2, 0, "2026-01-01T09:00:00Z");
        let taken = heads("2026-01-02T00:00:00Z", &[&a, &b, &c]);
        a[1].payload = r#"{"n":8}"#.into();
        b.remove(1);
        let report = verify_streams(&[&a, &b], std::slice::from_ref(&taken));
        let finding = |aggregate: &str, finding| StreamFinding {
            aggregate: aggregate.into(),
            finding,
        };
        assert_eq!(
            report.findings,
            [
                finding("Batch#a", ChainFinding::Changed { position: 2 }),
                finding("Batch#b", ChainFinding::Missing { before: 3 }),
                finding(
                    "Batch#c",
                    ChainFinding::Checkpoint {
                        position: 2,
                        expected: taken.heads[2].hash.clone(),
                        found: None
                    }
                ),
            ]
        );
        assert_eq!(
            report.findings[0].to_string(),
            "Batch#a (positions are its sequence numbers): the event at position 2 was changed: its stored bytes no longer match its hash"
        );
    }

    #[test]
    fn an_aggregate_that_began_before_the_last_checkpoint_but_is_not_in_it_was_inserted() {
        let a = stream("a", 2, 0, "2026-01-01T09:00:00Z");
        let taken = heads("2026-01-02T00:00:00Z", &[&a]);
        let forged = stream("f", 2, 0, "2026-01-01T10:00:00Z");
        // One that began after the checkpoint is new, not forged; one
        // stored wholly before the chain is not judged.
        let later = stream("l", 1, 0, "2026-01-02T00:10:00Z");
        let old = stream("o", 2, 2, "2025-01-01T10:00:00Z");
        let report = verify_streams(&[&a, &forged, &later, &old], &[taken]);
        assert_eq!(
            report.findings,
            [StreamFinding {
                aggregate: "Batch#f".into(),
                finding: ChainFinding::Inserted { position: 1 }
            }]
        );
        assert_eq!(report.before_chain, 2);
    }
}
