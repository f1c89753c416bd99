//! Users: created and changed by site admins; a user may edit their own
//! names and email; anyone authenticated may look users up.

use super::jobs::{JobSpec, insert_job};
use super::steps::{MemberChange, can_see_group, check_version, insert_membership, keep_an_admin, save_user};
use super::{Directory, audit, event, found, now};
use crate::authz::{self, Principal, Viewer};
use crate::cursor::{Keyset, Page, PageRequest, list};
use crate::error::CoreError;
use crate::ids::{GroupId, OrgId, UserId};
use crate::model::{DEFAULT_ORG_ID, Job, Member, SiteRole, User};
use crate::store::{Counter, ListSpec, RoleMatch, Tx, UserFilter};
use crate::validate;

#[derive(Clone, Debug, Default)]
pub struct NewUser {
    pub username: String,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub display_name: Option<String>,
    pub active: Option<bool>,
    pub site_role: Option<SiteRole>,
    pub external_id: Option<String>,
    pub role_label: Option<String>,
    /// A password for platforms that log users in with one; stored only as
    /// an argon2 hash and never returned.
    pub password: Option<String>,
    /// The user's primary group; they become a member of it.
    pub primary_group: Option<GroupId>,
    /// Further groups the user joins as a member, in the same transaction.
    pub groups: Vec<GroupId>,
    /// Vendor profile fields (see [`User::attributes`]).
    pub attributes: serde_json::Map<String, serde_json::Value>,
}

/// How to narrow a list of users; text is matched ignoring case.
#[derive(Clone, Debug, Default)]
pub struct UserQuery {
    /// A prefix of the username, the first, last or display name.
    pub prefix: Option<String>,
    /// A piece of the username, the first, last or display name.
    pub contains: Option<String>,
    pub active: Option<bool>,
    /// Users matching any of these (no entries: any user).
    pub roles: Vec<RoleMatch>,
    /// Users directly in any of these groups (no entries: anywhere).
    pub in_groups: Vec<GroupId>,
    /// Username order, last first (for offset pages).
    pub descending: bool,
    /// Only the user with this external id (exact).
    pub external_id: Option<String>,
    /// Users inside or outside an organization.
    pub org: Option<OrgScope>,
}

/// Users by organization. Users are not kept per organization: every user
/// belongs to the default organization and to no other, so a list of
/// another organization's users, or of users outside the default one
/// (Box's external users), is empty.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrgScope {
    In(OrgId),
    Outside(OrgId),
}

impl OrgScope {
    /// Whether any user can be in this scope.
    fn is_empty(self) -> bool {
        match self {
            Self::In(org) => org != DEFAULT_ORG_ID,
            Self::Outside(org) => org == DEFAULT_ORG_ID,
        }
    }
}

/// A partial update: `None` leaves a field alone; `Some(None)` clears it.
#[derive(Clone, Debug, Default)]
pub struct UserPatch {
    pub username: Option<String>,
    pub email: Option<Option<String>>,
    pub first_name: Option<Option<String>>,
    pub last_name: Option<Option<String>>,
    pub display_name: Option<Option<String>>,
    pub active: Option<bool>,
    pub site_role: Option<SiteRole>,
    pub external_id: Option<Option<String>>,
    pub role_label: Option<Option<String>>,
    /// Changes to the vendor profile fields, as a merge patch
    /// ([`crate::attributes::merge`]): only the keys named change.
    pub attributes: Option<serde_json::Map<String, serde_json::Value>>,
    pub primary_group: Option<Option<GroupId>>,
    /// A new password, stored only as an argon2 hash (needs a site admin).
    pub password: Option<String>,
    /// When set, the update applies only if the user is still at this version.
    pub if_version: Option<i64>,
}

impl UserPatch {
    /// Whether the patch touches only what a user may change about themselves.
    pub(crate) fn is_self_service(&self) -> bool {
        self.username.is_none()
            && self.active.is_none()
            && self.site_role.is_none()
            && self.external_id.is_none()
            && self.role_label.is_none()
            && self.attributes.is_none()
            && self.primary_group.is_none()
            && self.password.is_none()
    }
}

pub(crate) fn user_keyset(u: &User) -> Keyset {
    Keyset { key: validate::fold(&u.username), num: u.num }
}

impl Directory {
    /// Creates a user. Site admins only. Errors: `Invalid`, `Conflict` (username
    /// or external id taken), `Forbidden`.
    pub async fn create_user(&self, p: &Principal, new: NewUser) -> Result<User, CoreError> {
        self.retrying(|| self.create_user_once(p, new.clone())).await
    }

    /// One run of [`Self::create_user`], in one transaction.
    async fn create_user_once(&self, p: &Principal, new: NewUser) -> Result<User, CoreError> {
        authz::require_admin(p)?;
        let mut user = User {
            email: validate::email(new.email.as_deref())?,
            first_name: validate::optional_name("first_name", new.first_name.as_deref())?,
            last_name: validate::optional_name("last_name", new.last_name.as_deref())?,
            display_name: validate::optional_name("display_name", new.display_name.as_deref())?,
            active: new.active.unwrap_or(true),
            site_role: new.site_role.unwrap_or(SiteRole::User),
            external_id: validate::optional_name("external_id", new.external_id.as_deref())?,
            role_label: validate::optional_name("role_label", new.role_label.as_deref())?,
            attributes: validate::attributes("attributes", new.attributes)?,
            ..User::new(validate::username(&new.username)?, now())
        };
        let password_hash = new.password.as_deref().map(validate::password).transpose()?;
        let mut tx = self.write().await?;
        if tx.get_user_by_username(&user.username).await?.is_some() {
            return Err(CoreError::conflict("username", "username is already taken"));
        }
        let mut joins: Vec<GroupId> = new.primary_group.into_iter().chain(new.groups.iter().copied()).collect();
        joins.dedup();
        for (i, g) in joins.iter().enumerate() {
            if joins[..i].contains(g) {
                continue;
            }
            found(tx.get_group(*g).await?, "group")?;
        }
        user.primary_group = new.primary_group;
        user.num = tx.insert_user(&user).await?;
        if let Some(hash) = password_hash {
            tx.set_password_hash(user.id, &hash).await?;
        }
        tx.append_event(&event(p.actor(), "user.created", "user", user.id, None, Some(audit::user(&user)))).await?;
        for (i, g) in joins.iter().enumerate() {
            if joins[..i].contains(g) {
                continue;
            }
            insert_membership(&mut tx, p, *g, Member::User(user.id), MemberChange::default()).await?;
        }
        tx.commit().await?;
        Ok(user)
    }

    /// Any authenticated caller may read a user. Errors: `NotFound`.
    pub async fn get_user(&self, _p: &Principal, id: UserId) -> Result<User, CoreError> {
        let mut tx = self.read().await?;
        found(tx.get_user(id).await?, "user")
    }

    /// Looks a user up by username, ignoring case.
    pub async fn get_user_by_username(&self, _p: &Principal, username: &str) -> Result<User, CoreError> {
        let mut tx = self.read().await?;
        found(tx.get_user_by_username(username).await?, "user")
    }

    /// The users with this email, ignoring case, in the order they were
    /// created (emails are not unique). Readable as users are, by anyone
    /// authenticated; for front-ends that look users up by email (an LDAP
    /// `(mail=…)`, a login by email).
    pub async fn get_users_by_email(&self, _p: &Principal, email: &str) -> Result<Vec<User>, CoreError> {
        let mut tx = self.read().await?;
        Ok(tx.get_users_by_email(email.trim()).await?)
    }

    /// Lists users by username, optionally by case-insensitive prefix or substring.
    /// A group filter matches only members of groups the caller may see.
    pub async fn list_users(
        &self,
        p: &Principal,
        query: &UserQuery,
        page: &PageRequest,
    ) -> Result<Page<User>, CoreError> {
        self.list_users_for(Viewer::Principal(p), query, page).await
    }

    /// [`Self::list_users`] for a principal or the public view.
    pub(crate) async fn list_users_for(
        &self,
        viewer: Viewer<'_>,
        query: &UserQuery,
        page: &PageRequest,
    ) -> Result<Page<User>, CoreError> {
        let mut tx = self.read().await?;
        // Members of a group are only for those who may see it: filtering
        // by a group the caller cannot see matches nobody.
        let mut in_groups = query.in_groups.clone();
        if !authz::viewer_sees_every_group(viewer) {
            let mut visible = Vec::with_capacity(in_groups.len());
            for g in in_groups {
                if can_see_group(&mut tx, viewer, g).await? {
                    visible.push(g);
                }
            }
            if visible.is_empty() && !query.in_groups.is_empty() {
                return Ok(Page::from_rows(list::USERS, Vec::new(), page, 0, user_keyset));
            }
            in_groups = visible;
        }
        let mut spec = ListSpec {
            after: page.after.clone(),
            limit: page.limit + 1,
            offset: page.offset,
            prefix: None,
            contains: None,
        };
        let filter = UserFilter {
            name_prefix: validate::search("prefix", query.prefix.as_deref())?,
            name_contains: validate::search("q", query.contains.as_deref())?,
            active: query.active,
            roles: query.roles.clone(),
            in_groups,
            descending: query.descending,
            external_id: query.external_id.clone(),
        };
        // Offset walks resume from the keyset position of the last page.
        let keyed = !filter.descending;
        let offsets_scope = format!("users|{filter:?}");
        let req = if keyed { self.offsets.resolve(&offsets_scope, page) } else { page.clone() };
        spec.after = req.after.clone();
        spec.offset = req.offset;
        if let Some(scope) = query.org {
            let (OrgScope::In(org) | OrgScope::Outside(org)) = scope;
            found(tx.get_org(org).await?, "organization")?;
            if scope.is_empty() {
                return Ok(Page { items: Vec::new(), next_cursor: None, total: 0 });
            }
        }
        let rows = tx.list_users(&spec, &filter).await?;
        let total = if !req.total {
            -1
        } else if spec.is_filtered() || filter.is_filtered() {
            tx.count_users_matching(&spec, &filter).await?
        } else {
            tx.count(Counter::Users).await?
        };
        let out = Page::from_rows(list::USERS, rows, &req, total, user_keyset);
        if keyed {
            self.offsets.remember(&offsets_scope, page, out.items.len(), out.items.last().map(user_keyset));
        }
        Ok(out)
    }

    /// Changes a user. Site admins may change anything; a user may change
    /// their own names and email. Errors: `Invalid`, `NotFound`, `Conflict`,
    /// `Stale`, `Forbidden`.
    pub async fn update_user(&self, p: &Principal, id: UserId, patch: UserPatch) -> Result<User, CoreError> {
        self.retrying(|| self.update_user_once(p, id, patch.clone())).await
    }

    /// One run of [`Self::update_user`], in one transaction.
    async fn update_user_once(&self, p: &Principal, id: UserId, patch: UserPatch) -> Result<User, CoreError> {
        authz::require(authz::can_update_user(p, id, patch.is_self_service()), "requires a site admin")?;
        let mut tx = self.write().await?;
        let before = found(tx.get_user(id).await?, "user")?;
        check_version("user", before.version, patch.if_version)?;
        let user = patched_user(&mut tx, &before, &patch).await?;
        let password_hash = patch.password.as_deref().map(validate::password).transpose()?;
        if user == before && password_hash.is_none() {
            return Ok(user);
        }
        let user = save_user(&mut tx, p, &before, user).await?;
        if let Some(hash) = password_hash {
            tx.set_password_hash(id, &hash).await?;
        }
        tx.commit().await?;
        Ok(user)
    }

    /// Deletes a user with their memberships, shares and keys, if they are
    /// still at `if_version` when given (checked in the same transaction).
    /// Site admins only; the last active site admin cannot be deleted.
    /// Errors: `NotFound`, `Stale`, `Conflict`, `Forbidden`.
    pub async fn delete_user(&self, p: &Principal, id: UserId, if_version: Option<i64>) -> Result<(), CoreError> {
        self.retrying(|| self.delete_user_once(p, id, if_version)).await
    }

    /// One run of [`Self::delete_user`], in one transaction.
    async fn delete_user_once(&self, p: &Principal, id: UserId, if_version: Option<i64>) -> Result<(), CoreError> {
        let mut tx = self.write().await?;
        delete_user_in(&mut tx, p, id, if_version).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes a user as [`Directory::delete_user`] and records the deletion
    /// as a finished job, in one transaction.
    pub async fn delete_user_as_job(&self, p: &Principal, id: UserId, job: JobSpec) -> Result<Job, CoreError> {
        self.retrying(|| self.delete_user_as_job_once(p, id, job.clone())).await
    }

    /// One run of [`Self::delete_user_as_job`], in one transaction.
    async fn delete_user_as_job_once(&self, p: &Principal, id: UserId, job: JobSpec) -> Result<Job, CoreError> {
        let mut tx = self.write().await?;
        delete_user_in(&mut tx, p, id, None).await?;
        let job = insert_job(&mut tx, p, job).await?;
        tx.commit().await?;
        Ok(job)
    }
}

async fn delete_user_in(
    tx: &mut Box<dyn Tx>,
    p: &Principal,
    id: UserId,
    if_version: Option<i64>,
) -> Result<(), CoreError> {
    authz::require_admin(p)?;
    let user = found(tx.get_user(id).await?, "user")?;
    check_version("user", user.version, if_version)?;
    if user.is_active_admin() && tx.count_site_admins().await? <= 1 {
        return Err(CoreError::conflict("id", "the last active site admin cannot be deleted"));
    }
    let watch = super::watched::before_user_deleted(tx, id).await?;
    tx.delete_user(id).await?;
    tx.append_event(&event(p.actor(), "user.deleted", "user", id, Some(audit::user(&user)), None)).await?;
    super::watched::after(tx, p, watch, serde_json::json!({ "deleted_user_id": id.to_string() })).await?;
    Ok(())
}

/// The user as `patch` would leave it, validated (names, uniqueness, the
/// last site admin), without writing anything.
pub(crate) async fn patched_user(tx: &mut Box<dyn Tx>, before: &User, patch: &UserPatch) -> Result<User, CoreError> {
    let mut user = before.clone();
    if let Some(username) = &patch.username {
        user.username = validate::username(username)?;
        if validate::fold(&user.username) != validate::fold(&before.username)
            && tx.get_user_by_username(&user.username).await?.is_some()
        {
            return Err(CoreError::conflict("username", "username is already taken"));
        }
    }
    if let Some(v) = &patch.email {
        user.email = validate::email(v.as_deref())?;
    }
    if let Some(v) = &patch.first_name {
        user.first_name = validate::optional_name("first_name", v.as_deref())?;
    }
    if let Some(v) = &patch.last_name {
        user.last_name = validate::optional_name("last_name", v.as_deref())?;
    }
    if let Some(v) = &patch.display_name {
        user.display_name = validate::optional_name("display_name", v.as_deref())?;
    }
    if let Some(v) = &patch.external_id {
        user.external_id = validate::optional_name("external_id", v.as_deref())?;
    }
    if let Some(v) = &patch.role_label {
        user.role_label = validate::optional_name("role_label", v.as_deref())?;
    }
    if let Some(changes) = &patch.attributes {
        crate::attributes::merge(&mut user.attributes, changes.clone());
        user.attributes = validate::attributes("attributes", user.attributes)?;
    }
    if let Some(v) = patch.active {
        user.active = v;
    }
    if let Some(v) = patch.site_role {
        user.site_role = v;
    }
    if let Some(v) = patch.primary_group {
        if let Some(g) = v {
            // Kept from going away, not locked against its other writers
            // (a user's change may hold it shared already).
            found(tx.get_group_shared(g).await?, "group")?;
        }
        user.primary_group = v;
    }
    keep_an_admin(tx, before, &user).await?;
    Ok(user)
}
