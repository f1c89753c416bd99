//! Groups: created by site admins, visible to their members and to those
//! they are shared with, renamed by writers, deleted by managers.

use super::{Directory, audit, event, found, now};
use crate::authz::{self, GroupAccess, Principal};
use crate::cursor::{Keyset, Page, PageRequest, list};
use crate::error::CoreError;
use crate::ids::{GroupId, OrgId, RoleId};
use crate::model::{DEFAULT_ORG_ID, Group, GroupCounts, SourceType};
use crate::store::{Counter, ListSpec, Tx};
use crate::validate;

pub type Attributes = serde_json::Map<String, serde_json::Value>;

#[derive(Clone, Debug)]
pub struct NewGroup {
    pub name: String,
    pub unique_id: Option<String>,
    pub slug: Option<String>,
    pub description: Option<String>,
    pub org: Option<OrgId>,
    pub source_type: SourceType,
    pub attributes: Attributes,
}

impl NewGroup {
    pub fn named(name: impl Into<String>, source_type: SourceType) -> Self {
        Self {
            name: name.into(),
            unique_id: None,
            slug: None,
            description: None,
            org: None,
            source_type,
            attributes: Attributes::new(),
        }
    }
}

/// A partial update: `None` leaves a field alone; `Some(None)` clears it.
/// `attributes` entries are merged; a `null` value removes the entry.
#[derive(Clone, Debug, Default)]
pub struct GroupPatch {
    pub name: Option<String>,
    pub unique_id: Option<Option<String>>,
    pub slug: Option<Option<String>>,
    pub description: Option<Option<String>>,
    pub org: Option<OrgId>,
    pub attributes: Option<Attributes>,
    pub if_version: Option<i64>,
}

#[derive(Clone, Debug, Default)]
pub struct GroupFilter {
    pub prefix: Option<String>,
    pub contains: Option<String>,
}

pub(crate) fn group_keyset(g: &Group) -> Keyset {
    Keyset { key: validate::fold(&g.name), num: g.num }
}

/// Loads a group the caller may see; a group they may not see is "not
/// found", so existence does not leak.
pub(crate) async fn visible_group(
    tx: &mut Box<dyn Tx>,
    p: &Principal,
    id: GroupId,
) -> Result<(Group, GroupAccess), CoreError> {
    let group = found(tx.get_group(id).await?, "group")?;
    let access = tx.group_access(id, p.user).await?;
    if !authz::can_read_group(p, &access) {
        return Err(CoreError::NotFound { what: "group" });
    }
    Ok((group, access))
}

fn attributes(field: &str, value: Attributes) -> Result<Attributes, CoreError> {
    let size = serde_json::to_vec(&value).map(|v| v.len()).unwrap_or(usize::MAX);
    if size > 64 * 1024 {
        return Err(CoreError::invalid(field, "must be at most 64 KiB of JSON"));
    }
    Ok(value)
}

impl Directory {
    /// Creates a group. Site admins only. Errors: `Invalid`, `Conflict`
    /// (unique id taken), `NotFound` (organization), `Forbidden`.
    pub async fn create_group(&self, p: &Principal, new: NewGroup) -> Result<Group, CoreError> {
        authz::require_admin(p)?;
        let name = validate::name("name", &new.name)?;
        let slug = match new.slug.as_deref() {
            Some(s) => validate::slug("slug", s)?,
            None => validate::slugify(&name),
        };
        let t = now();
        let mut group = Group {
            id: GroupId::new(),
            num: 0,
            unique_id: validate::optional_name("unique_id", new.unique_id.as_deref())?,
            slug: Some(slug),
            description: validate::optional_text("description", new.description.as_deref())?,
            org: new.org.unwrap_or(DEFAULT_ORG_ID),
            source_type: new.source_type,
            attributes: attributes("attributes", new.attributes)?,
            created_by: Some(p.user),
            updated_by: Some(p.user),
            created_at: t,
            updated_at: t,
            version: 1,
            counts: GroupCounts::default(),
            name,
        };
        let mut tx = self.write().await?;
        found(tx.get_org(group.org).await?, "organization")?;
        group.num = tx.insert_group(&group).await?;
        tx.append_event(&event(Some(p.user), "group.created", "group", group.id, None, Some(audit::group(&group))))
            .await?;
        tx.commit().await?;
        Ok(group)
    }

    /// Reads a group the caller may see. Errors: `NotFound`.
    pub async fn get_group(&self, p: &Principal, id: GroupId) -> Result<Group, CoreError> {
        let mut tx = self.read().await?;
        Ok(visible_group(&mut tx, p, id).await?.0)
    }

    /// Role ids granted to a group the caller may see.
    pub async fn group_roles(&self, p: &Principal, id: GroupId) -> Result<Vec<RoleId>, CoreError> {
        let mut tx = self.read().await?;
        visible_group(&mut tx, p, id).await?;
        Ok(tx.group_roles(id).await?)
    }

    /// Lists the groups the caller may see, ordered by name, optionally by
    /// case-insensitive name prefix or substring.
    pub async fn list_groups(
        &self,
        p: &Principal,
        filter: &GroupFilter,
        page: &PageRequest,
    ) -> Result<Page<Group>, CoreError> {
        let spec = ListSpec {
            after: page.after.clone(),
            limit: page.limit + 1,
            offset: page.offset,
            prefix: validate::search("prefix", filter.prefix.as_deref())?,
            contains: validate::search("q", filter.contains.as_deref())?,
        };
        let visible_to = if authz::sees_everything(p) { None } else { Some(p.user) };
        let mut tx = self.read().await?;
        let rows = tx.list_groups(&spec, visible_to).await?;
        let total = if spec.is_filtered() || visible_to.is_some() {
            tx.count_groups_matching(&spec, visible_to).await?
        } else {
            tx.count(Counter::Groups).await?
        };
        Ok(Page::from_rows(list::GROUPS, rows, page, total, group_keyset))
    }

    /// Changes a group. Site admins and holders of a write share. Errors:
    /// `Invalid`, `NotFound`, `Conflict`, `Stale`, `Forbidden`.
    pub async fn update_group(&self, p: &Principal, id: GroupId, patch: GroupPatch) -> Result<Group, CoreError> {
        let mut tx = self.write().await?;
        let (before, access) = visible_group(&mut tx, p, id).await?;
        authz::require(authz::can_write_group(p, &access), "requires write access to the group")?;
        if let Some(v) = patch.if_version
            && v != before.version
        {
            return Err(CoreError::Stale { reason: format!("group is at version {}, not {v}", before.version) });
        }
        let mut group = before.clone();
        if let Some(name) = &patch.name {
            group.name = validate::name("name", name)?;
        }
        if let Some(v) = &patch.unique_id {
            group.unique_id = validate::optional_name("unique_id", v.as_deref())?;
        }
        if let Some(v) = &patch.slug {
            group.slug = match v {
                Some(s) => Some(validate::slug("slug", s)?),
                None => Some(validate::slugify(&group.name)),
            };
        }
        if let Some(v) = &patch.description {
            group.description = validate::optional_text("description", v.as_deref())?;
        }
        if let Some(org) = patch.org {
            found(tx.get_org(org).await?, "organization")?;
            group.org = org;
        }
        if let Some(attrs) = patch.attributes {
            for (k, v) in attrs {
                if v.is_null() {
                    group.attributes.remove(&k);
                } else {
                    group.attributes.insert(k, v);
                }
            }
            group.attributes = attributes("attributes", group.attributes)?;
        }
        if group == before {
            return Ok(group);
        }
        group.updated_at = now();
        group.updated_by = Some(p.user);
        group.version += 1;
        tx.update_group(&group).await?;
        tx.append_event(&event(
            Some(p.user),
            "group.updated",
            "group",
            id,
            Some(audit::group(&before)),
            Some(audit::group(&group)),
        ))
        .await?;
        tx.commit().await?;
        Ok(group)
    }

    /// Deletes a group with its memberships, nesting edges, shares, role
    /// grants and project bindings. Site admins and holders of a manage share.
    pub async fn delete_group(&self, p: &Principal, id: GroupId) -> Result<(), CoreError> {
        let mut tx = self.write().await?;
        let (group, access) = visible_group(&mut tx, p, id).await?;
        authz::require(authz::can_manage_group(p, &access), "requires manage access to the group")?;
        tx.delete_group(id).await?;
        tx.append_event(&event(Some(p.user), "group.deleted", "group", id, Some(audit::group(&group)), None)).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Grants a role to a group (idempotent). Site admins only.
    pub async fn grant_group_role(&self, p: &Principal, group: GroupId, role: RoleId) -> Result<(), CoreError> {
        authz::require_admin(p)?;
        let mut tx = self.write().await?;
        found(tx.get_group(group).await?, "group")?;
        found(tx.get_role(role).await?, "role")?;
        if tx.grant_group_role(group, role).await? {
            let after = serde_json::json!({ "group_id": group.to_string(), "role_id": role.to_string() });
            tx.append_event(&event(Some(p.user), "group.role_granted", "group", group, None, Some(after))).await?;
            tx.commit().await?;
        }
        Ok(())
    }

    /// Takes a role from a group. Site admins only. Errors: `NotFound` when
    /// the group does not hold the role.
    pub async fn revoke_group_role(&self, p: &Principal, group: GroupId, role: RoleId) -> Result<(), CoreError> {
        authz::require_admin(p)?;
        let mut tx = self.write().await?;
        found(tx.get_group(group).await?, "group")?;
        if !tx.revoke_group_role(group, role).await? {
            return Err(CoreError::NotFound { what: "role grant" });
        }
        let before = serde_json::json!({ "group_id": group.to_string(), "role_id": role.to_string() });
        tx.append_event(&event(Some(p.user), "group.role_revoked", "group", group, Some(before), None)).await?;
        tx.commit().await?;
        Ok(())
    }
}
