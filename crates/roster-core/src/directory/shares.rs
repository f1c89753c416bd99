//! Shares: a group made readable, writable or manageable by a user or by the
//! members of another group. Site admins and managers of the group decide.

use super::steps::visible_group;
use super::{Directory, audit, event, found, now};
use crate::authz::{self, Principal};
use crate::cursor::{Keyset, Page, PageRequest, list};
use crate::error::CoreError;
use crate::ids::{GroupId, ShareId};
use crate::model::{Grantee, Share, ShareLevel};

impl Directory {
    /// Shares `group` with `grantee` at `level`, replacing an earlier level
    /// (idempotent). Returns the share and whether it changed.
    pub async fn put_share(
        &self,
        p: &Principal,
        group: GroupId,
        grantee: Grantee,
        level: ShareLevel,
    ) -> Result<(Share, bool), CoreError> {
        let mut changed = self.put_shares(p, group, &[grantee], level).await?;
        changed.pop().ok_or_else(|| CoreError::Internal("no share written".into()))
    }

    /// Shares `group` with every grantee at `level`, all or none: an unknown
    /// grantee fails the whole call. Returns each share and whether it changed.
    pub async fn put_shares(
        &self,
        p: &Principal,
        group: GroupId,
        grantees: &[Grantee],
        level: ShareLevel,
    ) -> Result<Vec<(Share, bool)>, CoreError> {
        self.retrying(|| self.put_shares_once(p, group, grantees, level)).await
    }

    /// One run of [`Self::put_shares`], in one transaction.
    async fn put_shares_once(
        &self,
        p: &Principal,
        group: GroupId,
        grantees: &[Grantee],
        level: ShareLevel,
    ) -> Result<Vec<(Share, bool)>, CoreError> {
        let mut tx = self.write().await?;
        let (_, access) = visible_group(&mut tx, p, group).await?;
        authz::require(authz::can_manage_group(p, &access), "requires manage access to the group")?;
        let mut out = Vec::with_capacity(grantees.len());
        let mut wrote = false;
        for grantee in grantees {
            match *grantee {
                Grantee::User(u) => drop(found(tx.get_user(u).await?, "user")?),
                Grantee::Group(g) => drop(found(tx.get_group(g).await?, "group")?),
            }
            let share = Share { id: ShareId::new(), num: 0, group, grantee: *grantee, level, created_at: now() };
            let before = tx.find_share(group, *grantee).await?;
            if let Some(b) = before.as_ref().filter(|b| b.level == level) {
                out.push((b.clone(), false));
                continue;
            }
            let stored = tx.put_share(&share).await?;
            tx.append_event(&event(
                p.actor(),
                "share.put",
                "group",
                group,
                before.as_ref().map(audit::share),
                Some(audit::share(&stored)),
            ))
            .await?;
            out.push((stored, true));
            wrote = true;
        }
        if wrote {
            tx.commit().await?;
        }
        Ok(out)
    }

    /// Takes a share away. Errors: `NotFound` when there is none.
    pub async fn delete_share(&self, p: &Principal, group: GroupId, grantee: Grantee) -> Result<(), CoreError> {
        self.retrying(|| self.delete_share_once(p, group, grantee)).await
    }

    /// One run of [`Self::delete_share`], in one transaction.
    async fn delete_share_once(&self, p: &Principal, group: GroupId, grantee: Grantee) -> Result<(), CoreError> {
        let mut tx = self.write().await?;
        let (_, access) = visible_group(&mut tx, p, group).await?;
        authz::require(authz::can_manage_group(p, &access), "requires manage access to the group")?;
        let share = found(tx.find_share(group, grantee).await?, "share")?;
        tx.delete_share(group, grantee).await?;
        tx.append_event(&event(p.actor(), "share.deleted", "group", group, Some(audit::share(&share)), None)).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Who a group is shared with. Site admins and managers of the group.
    pub async fn list_shares(
        &self,
        p: &Principal,
        group: GroupId,
        page: &PageRequest,
    ) -> Result<Page<Share>, CoreError> {
        let mut tx = self.read().await?;
        let (_, access) = visible_group(&mut tx, p, group).await?;
        authz::require(authz::can_manage_group(p, &access), "requires manage access to the group")?;
        let after = page.after.as_ref().map_or(0, |k| k.num);
        let rows = tx.list_shares(group, after, page.limit + 1).await?;
        let total = tx.count_shares(group).await?;
        Ok(Page::from_rows(list::SHARES, rows, page, total, |s| Keyset { key: String::new(), num: s.num }))
    }
}
