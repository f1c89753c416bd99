//! The anonymous public read. When the operator allows it
//! ([`Directory::with_anonymous_read`]), a caller without credentials may
//! read every user and group in their public shape ([`PublicUser`],
//! [`PublicGroup`]) and who is in which group, directly and at any depth:
//! what name-service lookups need to resolve accounts and groups. The
//! subset is the shape: these use-cases return nothing else, so a
//! front-end cannot show more than the core decided.

use std::sync::Arc;

use super::Directory;
use super::users::UserQuery;
use crate::authz::{self, Viewer};
use crate::cursor::{Page, PageRequest};
use crate::error::CoreError;
use crate::ids::{GroupId, UserId};
use crate::model::{MemberNames, PublicGroup, PublicUser};

/// The right to read the public subset, handed out by
/// [`Directory::public_reader`] only while the policy allows it.
#[derive(Clone, Copy)]
pub struct PublicReader<'a> {
    dir: &'a Directory,
}

impl Directory {
    /// The public read, for a caller without credentials. Errors:
    /// `Forbidden` when anonymous reads are off (the default).
    pub fn public_reader(&self) -> Result<PublicReader<'_>, CoreError> {
        authz::require(
            authz::can_read_anonymously(self.anonymous_read),
            "anonymous reads are off: authenticate first",
        )?;
        Ok(PublicReader { dir: self })
    }
}

impl PublicReader<'_> {
    /// A user by username, ignoring case. Errors: `NotFound`.
    pub async fn user_by_username(&self, username: &str) -> Result<PublicUser, CoreError> {
        let mut tx = self.dir.read().await?;
        super::found(tx.get_user_by_username(username).await?, "user").map(PublicUser::from)
    }

    /// Users by username; those directly in `group` when given.
    pub async fn list_users(&self, group: Option<GroupId>, page: &PageRequest) -> Result<Page<PublicUser>, CoreError> {
        let query = UserQuery { in_groups: group.into_iter().collect(), ..UserQuery::default() };
        Ok(self.dir.list_users_for(Viewer::Public, &query, page).await?.map(PublicUser::from))
    }

    /// The users in `group` at any depth. Errors: `NotFound`.
    pub async fn list_members_transitively(
        &self,
        group: GroupId,
        page: &PageRequest,
    ) -> Result<Page<PublicUser>, CoreError> {
        Ok(self.dir.list_members_transitively_for(Viewer::Public, group, page).await?.map(|u| PublicUser::from(&*u)))
    }

    /// The direct user members of `group`, in the order they joined. Errors: `NotFound`.
    pub async fn list_members(&self, group: GroupId, page: &PageRequest) -> Result<Page<PublicUser>, CoreError> {
        Ok(self.dir.list_members_for(Viewer::Public, group, page).await?.map(|(_, u)| PublicUser::from(&*u)))
    }

    /// A group by name, ignoring case. Errors: `NotFound`.
    pub async fn group_by_name(&self, name: &str) -> Result<PublicGroup, CoreError> {
        self.dir.get_group_by_name_for(Viewer::Public, name).await.map(PublicGroup::from)
    }

    /// Groups by name, narrowed by `filter`'s scopes (the groups some users
    /// are in, directly or at any depth; the groups some groups are nested
    /// in); its share and organization fields narrow nothing here.
    pub async fn list_groups(
        &self,
        filter: &super::GroupFilter,
        page: &PageRequest,
    ) -> Result<Page<PublicGroup>, CoreError> {
        let filter = super::GroupFilter {
            members_any: filter.members_any.clone(),
            members_at_any_depth: filter.members_at_any_depth.clone(),
            children_any: filter.children_any.clone(),
            ..super::GroupFilter::default()
        };
        Ok(self.dir.list_groups_for(Viewer::Public, &filter, page).await?.map(PublicGroup::from))
    }

    /// Every group `user` is directly in.
    pub async fn groups_of(&self, user: UserId) -> Result<Vec<PublicGroup>, CoreError> {
        Ok(self.dir.visible_groups_of_for(Viewer::Public, user).await?.into_iter().map(PublicGroup::from).collect())
    }

    /// The direct members of `group` by name (usernames, child group
    /// names). Errors: `NotFound`.
    pub async fn member_names(&self, group: GroupId) -> Result<Arc<MemberNames>, CoreError> {
        self.dir.member_names_for(Viewer::Public, group).await
    }

    /// The groups nested directly in `group`. Errors: `NotFound`.
    pub async fn list_children(&self, group: GroupId, page: &PageRequest) -> Result<Page<PublicGroup>, CoreError> {
        Ok(self.dir.list_children_for(Viewer::Public, group, page).await?.map(|(_, g)| PublicGroup::from(g)))
    }

    /// The groups `user` is in at any depth. Errors: `NotFound`.
    pub async fn list_user_groups_transitively(
        &self,
        user: UserId,
        page: &PageRequest,
    ) -> Result<Page<PublicGroup>, CoreError> {
        let page = self.dir.list_user_groups_transitively_for(Viewer::Public, user, page).await?;
        Ok(page.map(|g| PublicGroup::from(&*g)))
    }
}
