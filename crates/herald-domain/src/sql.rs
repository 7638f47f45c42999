//! The domain's enums as SQL text, so the store adapters bind and decode them as they are
//! (`.bind(status)`, `row.try_get::<MessageStatus, _>("status")`) instead of passing their
//! names around as strings. Only trait impls live here; the columns stay TEXT on both
//! backends (docs/adr/0015-domain-types-bound-to-sql.md says why).

/// Implements `Type`/`Encode`/`Decode` for an enum with `as_str()` and `FromStr`, for every
/// database whose text type `&str` is. A stored name the enum does not know is a decode
/// error naming the column's value, never a silent default.
#[macro_export]
macro_rules! sql_text_enum {
    ($name:ty) => {
        impl<DB: ::sqlx::Database> ::sqlx::Type<DB> for $name
        where
            str: ::sqlx::Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <str as ::sqlx::Type<DB>>::type_info()
            }

            fn compatible(ty: &DB::TypeInfo) -> bool {
                <str as ::sqlx::Type<DB>>::compatible(ty)
            }
        }

        impl<'q, DB: ::sqlx::Database> ::sqlx::Encode<'q, DB> for $name
        where
            &'q str: ::sqlx::Encode<'q, DB>,
        {
            fn encode_by_ref(
                &self,
                buf: &mut <DB as ::sqlx::Database>::ArgumentBuffer<'q>,
            ) -> Result<::sqlx::encode::IsNull, ::sqlx::error::BoxDynError> {
                <&'q str as ::sqlx::Encode<'q, DB>>::encode(self.as_str(), buf)
            }
        }

        impl<'r, DB: ::sqlx::Database> ::sqlx::Decode<'r, DB> for $name
        where
            &'r str: ::sqlx::Decode<'r, DB>,
        {
            fn decode(
                value: <DB as ::sqlx::Database>::ValueRef<'r>,
            ) -> Result<Self, ::sqlx::error::BoxDynError> {
                let text = <&'r str as ::sqlx::Decode<'r, DB>>::decode(value)?;
                Ok(text.parse::<$name>()?)
            }
        }
    };
}

sql_text_enum!(crate::MessageStatus);
sql_text_enum!(crate::CampaignStatus);
sql_text_enum!(crate::Channel);
