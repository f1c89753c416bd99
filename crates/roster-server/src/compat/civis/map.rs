//! Civis ↔ core: integer ids are the core's `num`s, group settings live in
//! group attributes, query strings carry `name[]` arrays and `True`/`False`.

use std::collections::HashMap;

use roster_core as core;
use roster_core::{Directory, GroupId, NumKind, OrgId, PageRequest, Principal, UserId};
use time::macros::format_description;

use super::error::CivisResult;
use super::wire;
use crate::http::error::BadRequest;

/// Group attribute keys for the settings Civis keeps on a group.
pub mod attr {
    pub const OTP: &str = "default_otp_required_for_login";
    pub const TIME_ZONE: &str = "default_time_zone";
    pub const JOBS_LABEL: &str = "default_jobs_label";
    pub const NOTEBOOKS_LABEL: &str = "default_notebooks_label";
    pub const SERVICES_LABEL: &str = "default_services_label";
}

/// `2026-04-17T18:28:41.000Z`, as Civis writes times.
pub fn time(t: time::OffsetDateTime) -> String {
    let f = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    t.to_offset(time::UtcOffset::UTC).format(&f).unwrap_or_default()
}

/// A parsed query string: repeated keys kept, `name[]` folded into `name`.
pub struct Query(Vec<(String, String)>);

impl Query {
    pub fn parse(raw: Option<&str>) -> Self {
        let pairs = form_urlencoded::parse(raw.unwrap_or("").as_bytes())
            .map(|(k, v)| (k.trim_end_matches("[]").to_owned(), v.into_owned()))
            .collect();
        Self(pairs)
    }

    pub fn str(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
    }

    pub fn int(&self, name: &str) -> Result<Option<i64>, BadRequest> {
        self.str(name).map(|v| v.parse().map_err(|_| BadRequest::invalid(name, "must be an integer"))).transpose()
    }

    pub fn ints(&self, name: &str) -> Result<Vec<i64>, BadRequest> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .flat_map(|(_, v)| v.split(',').map(str::to_owned).collect::<Vec<_>>())
            .filter(|v| !v.is_empty())
            .map(|v| v.trim().parse().map_err(|_| BadRequest::invalid(name, "must be a list of integers")))
            .collect()
    }

    /// Python sends `True`/`False`; any case of true/false is accepted.
    pub fn bool(&self, name: &str) -> Result<Option<bool>, BadRequest> {
        self.str(name)
            .map(|v| match v.to_ascii_lowercase().as_str() {
                "true" | "1" => Ok(true),
                "false" | "0" => Ok(false),
                _ => Err(BadRequest::invalid(name, "must be true or false")),
            })
            .transpose()
    }
}

/// `limit` (default 50, at most `max`) and `page_num` (from 1) as an offset page.
pub fn page(q: &Query, max: i64) -> Result<(PageRequest, i64, i64), BadRequest> {
    page_with_default(q, 50, max)
}

/// As [`page`], with another default page size.
pub fn page_with_default(q: &Query, default: i64, max: i64) -> Result<(PageRequest, i64, i64), BadRequest> {
    let limit = q.int("limit")?.unwrap_or(default);
    if !(1..=max).contains(&limit) {
        return Err(BadRequest::invalid("limit", format!("must be between 1 and {max}")));
    }
    let page_num = q.int("page_num")?.unwrap_or(1);
    if page_num < 1 {
        return Err(BadRequest::invalid("page_num", "must be 1 or more"));
    }
    let offset = (page_num as u64 - 1).saturating_mul(limit as u64);
    Ok((PageRequest::at_offset(offset, limit as u32), limit, page_num))
}

/// A path id: Civis ids are integers; anything else names nothing.
pub fn num(what: &'static str, value: &str) -> Result<i64, BadRequest> {
    value.parse::<i64>().map_err(|_| {
        BadRequest::new(axum::http::StatusCode::NOT_FOUND, format!("The requested {what} could not be found."))
    })
}

pub fn initials(u: &core::User) -> String {
    if let Some(s) = u.attributes.get("initials").and_then(|v| v.as_str()) {
        return s.to_owned();
    }
    display_name(u).split_whitespace().filter_map(|w| w.chars().next()).flat_map(char::to_uppercase).take(3).collect()
}

pub fn display_name(u: &core::User) -> String {
    u.display_name.clone().unwrap_or_else(|| match (&u.first_name, &u.last_name) {
        (Some(f), Some(l)) => format!("{f} {l}"),
        (Some(n), None) | (None, Some(n)) => n.clone(),
        (None, None) => u.username.clone(),
    })
}

fn attr_str(m: &serde_json::Map<String, serde_json::Value>, k: &str) -> Option<String> {
    m.get(k).and_then(|v| v.as_str()).map(str::to_owned)
}

fn attr_bool(m: &serde_json::Map<String, serde_json::Value>, k: &str) -> bool {
    m.get(k).and_then(|v| v.as_bool()).unwrap_or(false)
}

/// Renders core entities with the integer ids and names Civis shows,
/// looking each id up once per request.
pub struct Render<'a> {
    pub dir: &'a Directory,
    pub p: &'a Principal,
    orgs: HashMap<OrgId, core::Organization>,
}

impl<'a> Render<'a> {
    pub fn new(dir: &'a Directory, p: &'a Principal) -> Self {
        Self { dir, p, orgs: HashMap::new() }
    }

    async fn org(&mut self, id: OrgId) -> CivisResult<core::Organization> {
        if let Some(o) = self.orgs.get(&id) {
            return Ok(o.clone());
        }
        let o = self.dir.get_org(self.p, id).await?;
        self.orgs.insert(id, o.clone());
        Ok(o)
    }

    async fn user_nums(&self, ids: impl Iterator<Item = UserId>) -> CivisResult<HashMap<uuid::Uuid, i64>> {
        let ids: Vec<uuid::Uuid> = ids.map(|u| u.0).collect();
        Ok(self.dir.nums_of(NumKind::User, &ids).await?)
    }

    async fn group_nums(&self, ids: impl Iterator<Item = GroupId>) -> CivisResult<HashMap<uuid::Uuid, i64>> {
        let ids: Vec<uuid::Uuid> = ids.map(|g| g.0).collect();
        Ok(self.dir.nums_of(NumKind::Group, &ids).await?)
    }

    /// Every direct user member of a group (all pages).
    async fn members(&self, group: GroupId) -> CivisResult<Vec<std::sync::Arc<core::User>>> {
        let (dir, p) = (self.dir, self.p);
        let rows = roster_core::collect_all(roster_core::list::MEMBERS, |req| async move {
            dir.list_members(p, group, &req).await
        })
        .await?;
        Ok(rows.into_iter().map(|(_, u)| u).collect())
    }

    pub async fn group(&mut self, g: core::Group) -> CivisResult<wire::Group> {
        let org = self.org(g.org).await?;
        let members = self.members(g.id).await?;
        let people = self.user_nums(members.iter().map(|u| u.id).chain(g.created_by).chain(g.updated_by)).await?;
        let primaries = self.group_nums(members.iter().filter_map(|u| u.primary_group)).await?;
        let roles = self.dir.group_roles(self.p, g.id).await?;
        let active = members.iter().filter(|u| u.active).count() as i64;
        let members = members
            .iter()
            .map(|u| wire::MemberDetail {
                id: u.num,
                name: display_name(u),
                username: u.username.clone(),
                initials: initials(u),
                online: false,
                email: u.email.clone(),
                primary_group_id: u.primary_group.and_then(|pg| primaries.get(&pg.0).copied()),
                active: u.active,
            })
            .collect();
        let a = &g.attributes;
        Ok(wire::Group {
            id: g.num,
            created_at: time(g.created_at),
            updated_at: time(g.updated_at),
            description: g.description.clone(),
            slug: g.slug.clone(),
            organization_id: org.num,
            organization_name: org.name,
            member_count: active,
            total_member_count: g.counts.members,
            default_otp_required_for_login: attr_bool(a, attr::OTP),
            role_ids: roles.iter().map(|r| r.num).collect(),
            default_time_zone: attr_str(a, attr::TIME_ZONE),
            default_jobs_label: attr_str(a, attr::JOBS_LABEL),
            default_notebooks_label: attr_str(a, attr::NOTEBOOKS_LABEL),
            default_services_label: attr_str(a, attr::SERVICES_LABEL),
            last_updated_by_id: g.updated_by.and_then(|u| people.get(&u.0).copied()),
            created_by_id: g.created_by.and_then(|u| people.get(&u.0).copied()),
            members,
            name: g.name,
        })
    }

    pub async fn summaries(
        &mut self,
        groups: Vec<core::Group>,
        with_members: bool,
    ) -> CivisResult<Vec<wire::GroupSummary>> {
        let ids: Vec<GroupId> = groups.iter().map(|g| g.id).collect();
        let active: HashMap<GroupId, i64> = self.dir.active_member_counts(self.p, &ids).await?.into_iter().collect();
        let people = self.user_nums(groups.iter().flat_map(|g| g.created_by.into_iter().chain(g.updated_by))).await?;
        let mut out = Vec::with_capacity(groups.len());
        for g in groups {
            let org = self.org(g.org).await?;
            let members = if with_members {
                self.members(g.id)
                    .await?
                    .iter()
                    .map(|u| wire::SimpleUser {
                        id: u.num,
                        name: display_name(u),
                        username: u.username.clone(),
                        initials: initials(u),
                        online: false,
                    })
                    .collect()
            } else {
                Vec::new()
            };
            out.push(wire::GroupSummary {
                id: g.num,
                created_at: time(g.created_at),
                updated_at: time(g.updated_at),
                description: g.description.clone(),
                slug: g.slug.clone(),
                organization_id: org.num,
                organization_name: org.name,
                member_count: active.get(&g.id).copied().unwrap_or(0),
                total_member_count: g.counts.members,
                last_updated_by_id: g.updated_by.and_then(|u| people.get(&u.0).copied()),
                created_by_id: g.created_by.and_then(|u| people.get(&u.0).copied()),
                members,
                name: g.name,
            });
        }
        Ok(out)
    }

    /// The groups a user is directly in that the caller may see (all of
    /// them, a page at a time: none is left out), as Civis lists them.
    async fn user_groups(&mut self, u: &core::User) -> CivisResult<Vec<wire::UserGroup>> {
        let groups = self.dir.visible_groups_of(self.p, u.id).await?;
        let mut out = Vec::new();
        for g in groups {
            let org = self.org(g.org).await?;
            out.push(wire::UserGroup {
                id: g.num,
                name: g.name,
                slug: g.slug,
                organization_id: org.num,
                organization_name: org.name,
            });
        }
        Ok(out)
    }

    pub async fn user_summary(&mut self, u: &core::User, with_groups: bool) -> CivisResult<wire::UserSummary> {
        let groups = if with_groups { self.user_groups(u).await? } else { Vec::new() };
        let primary = self.group_nums(u.primary_group.into_iter()).await?;
        Ok(wire::UserSummary {
            id: u.num,
            user: u.username.clone(),
            name: display_name(u),
            email: u.email.clone(),
            active: u.active,
            primary_group_id: u.primary_group.and_then(|g| primary.get(&g.0).copied()),
            groups,
            created_at: time(u.created_at),
            current_sign_in_at: None,
            updated_at: time(u.updated_at),
            last_seen_at: None,
            suspended: false,
            created_by_id: None,
            last_updated_by_id: None,
        })
    }

    pub async fn user_detail(&mut self, u: &core::User) -> CivisResult<wire::UserDetail> {
        let a = &u.attributes;
        Ok(wire::UserDetail {
            summary: self.user_summary(u, true).await?,
            city: attr_str(a, "city"),
            state: attr_str(a, "state"),
            time_zone: attr_str(a, "time_zone"),
            initials: initials(u),
            department: attr_str(a, "department"),
            title: attr_str(a, "title"),
            prefers_sms_otp: attr_bool(a, "prefers_sms_otp"),
            vpn_enabled: attr_bool(a, "vpn_enabled"),
            sso_disabled: attr_bool(a, "sso_disabled"),
            otp_required_for_login: attr_bool(a, "otp_required_for_login"),
            exempt_from_org_sms_otp_disabled: attr_bool(a, "exempt_from_org_sms_otp_disabled"),
            robot: attr_bool(a, "robot"),
            account_status: if u.active { "Active" } else { "Deactivated" },
        })
    }

    pub async fn me(&mut self, u: &core::User) -> CivisResult<wire::UserMe> {
        let summary = self.user_summary(u, true).await?;
        let org = self.org(roster_core::DEFAULT_ORG_ID).await?;
        Ok(wire::UserMe {
            id: u.num,
            name: display_name(u),
            email: u.email.clone(),
            username: u.username.clone(),
            initials: initials(u),
            feature_flags: Default::default(),
            roles: vec![if u.site_role == core::SiteRole::Admin { "admin".into() } else { "user".into() }],
            preferences: Default::default(),
            primary_group_id: summary.primary_group_id,
            groups: summary.groups,
            organization_name: org.name,
            organization_slug: org.slug,
            created_at: time(u.created_at),
        })
    }

    /// Who a group is shared with, by level.
    pub async fn share_index(&mut self, shares: Vec<core::Share>) -> CivisResult<wire::ShareIndex> {
        let mut index = wire::ShareIndex::default();
        for s in shares {
            let set = match s.level {
                core::ShareLevel::Read => &mut index.readers,
                core::ShareLevel::Write => &mut index.writers,
                core::ShareLevel::Manage => &mut index.owners,
            };
            match s.grantee {
                core::Grantee::User(u) => {
                    let u = self.dir.get_user(self.p, u).await?;
                    set.users.push(wire::IdName { id: u.num, name: display_name(&u) });
                    index.total_user_shares += 1;
                }
                core::Grantee::Group(g) => {
                    let g = self.dir.get_group(self.p, g).await;
                    // A group the caller may not see is counted but not named.
                    if let Ok(g) = g {
                        set.groups.push(wire::IdName { id: g.num, name: g.name });
                    }
                    index.total_group_shares += 1;
                }
            }
        }
        Ok(index)
    }
}
