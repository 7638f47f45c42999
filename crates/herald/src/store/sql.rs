//! Values bound as each backend stores them, so one SQL text with one set of binds serves
//! both adapters (`$1`-style placeholders work on SQLite too): ids are TEXT on SQLite and
//! UUID on PostgreSQL, times Unix milliseconds and TIMESTAMPTZ, JSON TEXT and JSONB.

use chrono::{DateTime, Utc};
use sqlx::{encode::IsNull, error::BoxDynError, Database, Encode, Postgres, Sqlite, Type};
use uuid::Uuid;

/// A UUID id (message, account, event, API key).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Id(pub Uuid);

/// A point in time.
#[derive(Debug, Clone, Copy)]
pub(crate) struct At(pub DateTime<Utc>);

/// A JSON document.
#[derive(Debug, Clone)]
pub(crate) struct Json(pub serde_json::Value);

/// Binds `$wrapper` on `$db` as `$inner`, converted by `$to`.
macro_rules! stored_as {
    ($wrapper:ty, $db:ty, $inner:ty, |$value:ident| $to:expr) => {
        impl Type<$db> for $wrapper {
            fn type_info() -> <$db as Database>::TypeInfo {
                <$inner as Type<$db>>::type_info()
            }
        }

        impl<'q> Encode<'q, $db> for $wrapper {
            fn encode_by_ref(
                &self,
                buf: &mut <$db as Database>::ArgumentBuffer<'q>,
            ) -> Result<IsNull, BoxDynError> {
                let $value = self;
                <$inner as Encode<'q, $db>>::encode($to, buf)
            }
        }
    };
}

stored_as!(Id, Sqlite, String, |id| id.0.to_string());
stored_as!(Id, Postgres, Uuid, |id| id.0);
stored_as!(At, Sqlite, i64, |at| at.0.timestamp_millis());
stored_as!(At, Postgres, DateTime<Utc>, |at| at.0);
stored_as!(Json, Sqlite, String, |json| json.0.to_string());
stored_as!(Json, Postgres, serde_json::Value, |json| json.0.clone());
