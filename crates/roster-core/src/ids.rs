//! Typed identifiers. Every entity is named by a UUID on the outside; a bare
//! `Uuid` never travels inside the system, so a group id cannot be passed
//! where a user id is expected.

use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A fresh, time-ordered id (UUID v7), so new rows land at the
            /// end of the id index.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

id_type!(/// A user.
    UserId);
id_type!(/// A group.
    GroupId);
id_type!(/// One edge of the directory graph: a user or a group inside a group.
    MembershipId);
id_type!(/// A role granted to groups.
    RoleId);
id_type!(/// An organization.
    OrgId);
id_type!(/// A project.
    ProjectId);
id_type!(/// A share of a group with a user or group.
    ShareId);
id_type!(/// An API key (the record, never the secret).
    KeyId);
id_type!(/// A job: the recorded outcome of an operation a client may poll.
    JobId);
id_type!(/// A webhook subscription: where to push the change feed.
    WebhookId);
