//! Batch intake, the same for every backend: which items of a batch claim a key, and what
//! each item gets once the claims are known. The backends only run the set-based SQL.

use std::collections::{HashMap, HashSet};

use herald_domain::AccountId;

use crate::{
    model::{IdempotencyClaim, KeyedMessage, NewMessage},
    ports::{StoreError, StoreResult},
    store::rows::{self as from_row, StoredRow},
};

/// An idempotency key as the table identifies it.
pub(crate) type KeyId = (AccountId, String);

fn key_of(item: &KeyedMessage) -> Option<KeyId> {
    let response = item.message.idempotency.as_ref()?;
    item.claim.as_ref()?;
    Some((item.message.account_id, response.key.clone()))
}

/// Indices of the items that claim their key: the first use of each key in the batch
/// (a later use of the same key is answered from the first).
pub(crate) fn claimants(batch: &[KeyedMessage]) -> Vec<usize> {
    let mut seen = HashSet::new();
    (0..batch.len()).filter(|&i| key_of(&batch[i]).is_some_and(|key| seen.insert(key))).collect()
}

/// Per item: `None` to insert it, or the answer instead (the key's state). `acquired` are
/// the keys the claim statement took; `existing` the state of the other claimed keys.
pub(crate) fn resolve(
    batch: &[KeyedMessage],
    acquired: &HashSet<KeyId>,
    existing: &HashMap<KeyId, IdempotencyClaim>,
) -> StoreResult<Vec<Option<IdempotencyClaim>>> {
    let mut first_use: HashMap<KeyId, usize> = HashMap::new();
    let mut plan = Vec::with_capacity(batch.len());
    for (index, item) in batch.iter().enumerate() {
        let Some(key) = key_of(item) else {
            plan.push(None);
            continue;
        };
        let first = *first_use.entry(key.clone()).or_insert(index);
        let answer = if acquired.contains(&key) {
            if first == index {
                None
            } else {
                // The first use inserts and completes the key in this transaction.
                let first = &batch[first];
                let response = first.message.idempotency.as_ref();
                Some(IdempotencyClaim::Completed {
                    fingerprint: first.claim.as_ref().map(|c| c.fingerprint).unwrap_or_default(),
                    status: response.map_or(0, |r| r.status),
                    body: response.map(|r| r.body.clone()).unwrap_or_default(),
                })
            }
        } else {
            let state = existing.get(&key).ok_or_else(|| {
                StoreError::Corrupt(format!("idempotency key {:?} neither claimed nor found", key.1))
            })?;
            Some(state.clone())
        };
        plan.push(answer);
    }
    Ok(plan)
}

/// The key of a row with `account_id` and `idempotency_key` columns.
pub(crate) fn key_of_row(row: &impl StoredRow) -> StoreResult<KeyId> {
    Ok((row.account_id("account_id")?, row.get("idempotency_key")?))
}

/// The states of the claimed keys the claim statement did not acquire, from rows with
/// their key and state columns.
pub(crate) fn existing_states<R: StoredRow>(
    rows: &[R],
    acquired: &HashSet<KeyId>,
) -> StoreResult<HashMap<KeyId, IdempotencyClaim>> {
    let mut existing = HashMap::new();
    for row in rows {
        let key = key_of_row(row)?;
        if !acquired.contains(&key) {
            existing.insert(key, from_row::idempotency_claim(row)?);
        }
    }
    Ok(existing)
}

/// The messages the plan inserts, in batch order.
pub(crate) fn to_insert<'a>(
    batch: &'a [KeyedMessage],
    plan: &[Option<IdempotencyClaim>],
) -> Vec<&'a NewMessage> {
    batch.iter().zip(plan).filter(|(_, answer)| answer.is_none()).map(|(item, _)| &item.message).collect()
}

/// The final result per item: `Acquired` for the inserted ones.
pub(crate) fn outcomes(plan: Vec<Option<IdempotencyClaim>>) -> Vec<IdempotencyClaim> {
    plan.into_iter().map(|answer| answer.unwrap_or(IdempotencyClaim::Acquired)).collect()
}
