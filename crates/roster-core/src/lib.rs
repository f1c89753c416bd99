//! Roster's domain: the types, the rules and the use-cases of a group directory.
//!
//! Front-ends translate wire formats into calls on [`Directory`]; the
//! directory validates, authorizes and runs each use-case as one store
//! transaction that also appends its [`Event`]. This crate knows nothing of
//! HTTP, JSON wire shapes of vendors, or SQL: it must never depend on axum,
//! sqlx or a vendor crate.

pub mod attributes;
pub mod authz;
pub mod cursor;
mod directory;
pub mod error;
pub mod ids;
pub mod index;
pub mod keys;
pub mod model;
pub mod revision;
pub mod store;
pub mod validate;
pub mod webhooks;

pub use authz::{AnonymousRead, Principal};
pub use cursor::{Page, PageRequest, collect_all, collect_at_most, collect_window, list};
pub use directory::*;
pub use error::{CoreError, StoreError};
pub use ids::*;
pub use model::*;
pub use store::{GroupOrder, NumKind, RoleMatch, Store, Tx};
