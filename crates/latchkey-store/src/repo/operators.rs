//! Platform operators (global).
use sea_orm::sea_query::ExprTrait;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};

use super::users::normalize_email;
use crate::entities::operator;
use crate::error::StoreError;
use crate::records::Operator;
use crate::{Store, new_id, now};

fn to_record(m: operator::Model) -> Operator {
    Operator { id: m.id, email: m.email, password_hash: m.password_hash, created_at: m.created_at }
}

impl Store {
    pub async fn create_operator(&self, email: &str, password_hash: &str) -> Result<Operator, StoreError> {
        let email = normalize_email(email);
        let m = operator::ActiveModel {
            id: Set(new_id()),
            email: Set(email.clone()),
            password_hash: Set(password_hash.to_owned()),
            created_at: Set(now()),
        }
        .insert(self.writer())
        .await
        .map_err(|e| match StoreError::from(e) {
            StoreError::Conflict(_) => StoreError::Conflict(format!("operator '{email}' already exists")),
            other => other,
        })?;
        Ok(to_record(m))
    }

    pub async fn operator(&self, id_or_email: &str) -> Result<Option<Operator>, StoreError> {
        Ok(operator::Entity::find()
            .filter(operator::Column::Id.eq(id_or_email).or(operator::Column::Email.eq(normalize_email(id_or_email))))
            .one(self.db())
            .await?
            .map(to_record))
    }

    pub async fn list_operators(&self) -> Result<Vec<Operator>, StoreError> {
        Ok(operator::Entity::find()
            .order_by_asc(operator::Column::Email)
            .all(self.db())
            .await?
            .into_iter()
            .map(to_record)
            .collect())
    }

    pub async fn delete_operator(&self, id: &str) -> Result<(), StoreError> {
        let r = operator::Entity::delete_by_id(id).exec(self.writer()).await?;
        if r.rows_affected == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }
}
