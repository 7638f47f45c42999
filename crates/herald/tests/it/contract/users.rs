//! `UserStore`: last writer wins, deletes leave a tombstone, on both backends.

use chrono::{Duration, Utc};
use herald::model::{UserProfile, UserWrite, UserWritten};
use herald_domain::{EmailAddress, UserId};

use super::store;
use crate::helpers::{on_both_backends, Backend};

on_both_backends!(
    user_writes_apply_only_when_later_and_a_delete_is_not_undone_by_an_older_update,
    users_are_only_visible_to_their_account,
);

fn profile(email: &str) -> UserProfile {
    UserProfile { email: Some(EmailAddress::parse(email).unwrap()), ..UserProfile::default() }
}

async fn user_writes_apply_only_when_later_and_a_delete_is_not_undone_by_an_older_update(backend: Backend) {
    let Some((store, _db)) = store(backend).await else {
        return;
    };
    let account = store.ensure_default_account().await.unwrap();
    let id = UserId::parse("12345").unwrap();
    let t0 = Utc::now();
    let at = |seconds: i64| t0 + Duration::seconds(seconds);
    fn write<'a>(
        id: &'a UserId,
        profile: Option<&'a UserProfile>,
        version: chrono::DateTime<Utc>,
    ) -> UserWrite<'a> {
        UserWrite { user_id: id, profile, version }
    }
    let (v1, v2, v3) = (profile("a@example.com"), profile("b@example.com"), profile("c@example.com"));

    assert!(matches!(
        store.write_user(account, &write(&id, Some(&v2), at(2))).await.unwrap(),
        UserWritten::Created(_)
    ));
    // An older change arriving late changes nothing.
    assert_eq!(store.write_user(account, &write(&id, Some(&v1), at(1))).await.unwrap(), UserWritten::Stale);
    let stored = store.get_user(account, &id).await.unwrap().unwrap();
    assert_eq!(stored.profile, v2);
    let UserWritten::Replaced(replaced) =
        store.write_user(account, &write(&id, Some(&v3), at(3))).await.unwrap()
    else {
        panic!("a later change replaces")
    };
    assert_eq!(replaced.profile, v3);
    assert_eq!(
        replaced.created_at.timestamp_millis(),
        at(2).timestamp_millis(),
        "created when first written"
    );

    assert_eq!(store.write_user(account, &write(&id, None, at(5))).await.unwrap(), UserWritten::Deleted);
    assert!(store.get_user(account, &id).await.unwrap().is_none());
    // An update from before the delete does not bring the user back...
    assert_eq!(store.write_user(account, &write(&id, Some(&v1), at(4))).await.unwrap(), UserWritten::Stale);
    assert!(store.get_user(account, &id).await.unwrap().is_none());
    // ...nor does a second delete find anyone; a later create does.
    assert_eq!(
        store.write_user(account, &write(&id, None, at(6))).await.unwrap(),
        UserWritten::NothingToDelete
    );
    assert!(matches!(
        store.write_user(account, &write(&id, Some(&v1), at(7))).await.unwrap(),
        UserWritten::Created(_)
    ));

    // A delete of a user never seen leaves a tombstone that an older create respects.
    let ghost = UserId::parse("ghost").unwrap();
    assert_eq!(
        store.write_user(account, &write(&ghost, None, at(10))).await.unwrap(),
        UserWritten::NothingToDelete
    );
    assert_eq!(
        store.write_user(account, &write(&ghost, Some(&v1), at(9))).await.unwrap(),
        UserWritten::Stale
    );
    assert!(store.get_user(account, &ghost).await.unwrap().is_none());
}

async fn users_are_only_visible_to_their_account(backend: Backend) {
    let Some((store, _db)) = store(backend).await else {
        return;
    };
    let account = store.ensure_default_account().await.unwrap();
    let id = UserId::parse("shared-id").unwrap();
    let write = UserWrite { user_id: &id, profile: Some(&profile("a@example.com")), version: Utc::now() };
    store.write_user(account, &write).await.unwrap();
    assert!(store.get_user(herald_domain::AccountId::new(), &id).await.unwrap().is_none());
}
