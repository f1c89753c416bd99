//! Search (RFC 4511 §4.5): where the base falls in the tree, which core
//! lists can answer the filter, and the walk through them, a page of the
//! core's list at a time, with the Simple Paged Results control (RFC 2696)
//! carried in keyset cookies.
//!
//! Every read is a `Directory` use-case called with the bound principal,
//! so a search shows exactly what `/v1` shows that caller, or (anonymous,
//! when the core allows it) a `PublicReader` use-case, whose users and
//! groups carry only the public subset. The root DSE and the subschema
//! entry need neither (`search_dse`). A filter is
//! first narrowed by one of its conjuncts that a core list answers
//! directly: `(uid=x)` is a lookup by name, `(memberOf=G)` the users
//! directly in G, the in-chain `memberOf` the users in G at any depth,
//! `(cn=x)` a group by name, `(member=U)` or `(memberUid=x)` the groups U
//! is directly in (an `Or` of them: the groups any is in), `(member=G)`
//! the groups G is nested in, the in-chain `member` the groups U is in at
//! any depth;
//! an `objectClass` no entry of a kind has skips that kind. Whatever is
//! left of the filter is evaluated over each entry (`filter::matches`);
//! without a narrowing conjunct, the kind's whole list is walked in pages.

use std::collections::{BTreeMap, HashSet, hash_map::DefaultHasher};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Instant;

use ldap3_proto::proto::{LdapFilter, LdapSearchScope};
use roster_core::{
    CoreError, Directory, Group, GroupFilter, GroupId, NumKind, Page, PageRequest, Principal, PublicGroup,
    PublicReader, PublicUser, User, UserId, UserQuery, collect_all, list,
};

use super::dn::{Dn, Place, Tree};
use super::entries::{self, Entry, MemberAttrs, Members, Need, Rendered, Selection, Subject};
use super::error::LdapError;
use super::filter::{self, InChain, Resolved};
use super::schema;

/// Where the entries of a search go (the session writes them to the client).
pub(crate) trait Emit {
    async fn entry(&mut self, entry: Rendered) -> Result<(), LdapError>;
}

/// A search as the session read it.
pub(crate) struct Query<'a> {
    pub base: &'a str,
    pub scope: LdapSearchScope,
    pub filter: &'a LdapFilter,
    pub attrs: &'a [String],
    pub types_only: bool,
    /// 0: no limit.
    pub size_limit: usize,
    /// The paged results control: page size and cookie.
    pub paging: Option<(usize, &'a [u8])>,
    /// When the search must end (`timeLimitExceeded`), checked before each
    /// entry: a search that never waits on the network still stops.
    pub deadline: Option<Instant>,
}

/// How a search ended.
pub(crate) enum Done {
    /// Every entry (of this page) was sent; `cookie` for a paged search:
    /// empty when nothing is left.
    Complete { cookie: Option<Vec<u8>> },
    /// More entries matched than the client's size limit.
    SizeLimitExceeded,
}

/// The two kinds of entries below the base.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Users,
    Groups,
}

impl Kind {
    fn tag(self) -> char {
        match self {
            Self::Users => 'u',
            Self::Groups => 'g',
        }
    }

    fn classes(self) -> &'static [&'static str] {
        match self {
            Self::Users => &["top", "person", "organizationalperson", "inetorgperson", "posixaccount"],
            Self::Groups => &["top", "groupofnames", "groupofuniquenames", "posixgroup"],
        }
    }
}

/// Which core list a kind's entries come from.
enum Plan {
    Nothing,
    /// The users with these usernames, emails or `num`s (a lookup each).
    UsersKeyed {
        names: Vec<String>,
        emails: Vec<String>,
        nums: Vec<i64>,
    },
    AllUsers,
    UsersIn(GroupId),
    UsersInChain(GroupId),
    GroupNamed(String),
    /// The group with this `num` (a `gidNumber`).
    GroupNum(i64),
    AllGroups,
    /// Groups any of these users is directly in.
    GroupsOf(Vec<UserId>),
    /// Groups any of these groups is directly nested in.
    GroupsAbove(Vec<GroupId>),
    GroupsOfInChain(UserId),
}

impl Plan {
    /// The core list whose cursors the plan's cookie holds.
    fn list(&self) -> &'static str {
        match self {
            Self::UsersInChain(_) => list::MEMBERS_TRANSITIVE,
            Self::GroupNamed(_)
            | Self::GroupNum(_)
            | Self::AllGroups
            | Self::GroupsOf(_)
            | Self::GroupsAbove(_)
            | Self::GroupsOfInChain(_) => list::GROUPS,
            Self::Nothing | Self::UsersKeyed { .. } | Self::AllUsers | Self::UsersIn(_) => list::USERS,
        }
    }
}

/// One user or group of a core page, in the shape the reader may see.
enum Row {
    User(User),
    Group(Group),
    PublicUser(PublicUser),
    PublicGroup(PublicGroup),
}

impl Row {
    fn user_id(&self) -> Option<UserId> {
        match self {
            Self::User(u) => Some(u.id),
            Self::PublicUser(u) => Some(u.id),
            Self::Group(_) | Self::PublicGroup(_) => None,
        }
    }

    fn group_id(&self) -> Option<GroupId> {
        match self {
            Self::Group(g) => Some(g.id),
            Self::PublicGroup(g) => Some(g.id),
            Self::User(_) | Self::PublicUser(_) => None,
        }
    }
}

/// A core page as rows, and the cursor after it.
fn rows<T>(page: Page<T>, row: fn(T) -> Row) -> (Vec<Row>, Option<String>) {
    (page.items.into_iter().map(row).collect(), page.next_cursor)
}

/// Whom a search reads for.
#[derive(Clone, Copy)]
pub(crate) enum Reader<'a> {
    /// A bound principal: what `/v1` shows it.
    Bound(&'a Principal),
    /// An anonymous caller, when the core hands out its public read.
    Public(PublicReader<'a>),
}

/// The largest core page one fetch asks for.
const FETCH: usize = 500;

pub(crate) struct Searcher<'a> {
    pub dir: &'a Directory,
    pub reader: Reader<'a>,
    pub tree: &'a Tree,
    /// Whether the root DSE announces StartTLS.
    pub starttls: bool,
}

/// The entries sent so far and the rules for the next.
struct Run<'a, E> {
    emit: &'a mut E,
    selection: Selection,
    types_only: bool,
    size_limit: usize,
    sent: usize,
    deadline: Option<Instant>,
}

impl<'a, E: Emit> Run<'a, E> {
    /// A search's run, before its first entry.
    fn new(emit: &'a mut E, q: &Query<'_>) -> Self {
        Self {
            emit,
            selection: Selection::parse(q.attrs),
            types_only: q.types_only,
            size_limit: q.size_limit,
            sent: 0,
            deadline: q.deadline,
        }
    }

    /// Sends `entry` if it matches; `false` when it would pass the size limit.
    async fn offer(&mut self, entry: Entry, filter: &LdapFilter, resolved: &Resolved) -> Result<bool, LdapError> {
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(LdapError::TimeLimit);
        }
        if filter::matches(filter, &entry, resolved) != Some(true) {
            return Ok(true);
        }
        if self.size_limit > 0 && self.sent >= self.size_limit {
            return Ok(false);
        }
        self.emit.entry(entry.render(&self.selection, self.types_only)).await?;
        self.sent += 1;
        Ok(true)
    }
}

impl Searcher<'_> {
    pub async fn search<E: Emit>(&self, q: &Query<'_>, emit: &mut E) -> Result<Done, LdapError> {
        let base = Dn::parse(q.base)?;
        let place = self.tree.place(&base);
        let mut run = Run::new(emit, q);
        let none = Resolved::new();
        let scope = q.scope.clone();
        // The entries a scope reaches: fixed ones, one named, or whole kinds.
        let (fixed, kinds): (Vec<Entry>, Vec<Kind>) = match (&place, scope) {
            (Place::RootDse | Place::Subschema, _) => {
                return search_dse(self.tree, self.starttls, &place, q, run.emit).await;
            }
            (Place::Outside { matched }, _) => return Err(LdapError::NoSuchObject { matched: matched.clone() }),
            (Place::Base, LdapSearchScope::Base) => (vec![entries::base_entry(self.tree)], vec![]),
            (Place::Base, LdapSearchScope::OneLevel) => (self.units(), vec![]),
            (Place::Base, LdapSearchScope::Children) => (self.units(), vec![Kind::Users, Kind::Groups]),
            (Place::Base, _) => {
                let mut all = vec![entries::base_entry(self.tree)];
                all.extend(self.units());
                (all, vec![Kind::Users, Kind::Groups])
            }
            (Place::People, LdapSearchScope::Base) => (vec![self.units().swap_remove(0)], vec![]),
            (Place::People, LdapSearchScope::OneLevel | LdapSearchScope::Children) => (vec![], vec![Kind::Users]),
            (Place::People, LdapSearchScope::Subtree) => (vec![self.units().swap_remove(0)], vec![Kind::Users]),
            (Place::Groups, LdapSearchScope::Base) => (vec![self.units().swap_remove(1)], vec![]),
            (Place::Groups, LdapSearchScope::OneLevel | LdapSearchScope::Children) => (vec![], vec![Kind::Groups]),
            (Place::Groups, LdapSearchScope::Subtree) => (vec![self.units().swap_remove(1)], vec![Kind::Groups]),
            (Place::User(_) | Place::Group(_), scope) => {
                let entry = self.entry_at(&place, &Need::of(&run.selection, q.filter)).await?;
                if matches!(scope, LdapSearchScope::OneLevel | LdapSearchScope::Children) {
                    return Ok(Done::Complete { cookie: q.paging.map(|_| Vec::new()) });
                }
                let resolved = self.resolve_for(q.filter, Some(&entry.subject)).await?;
                if !run.offer(entry, q.filter, &resolved).await? {
                    return Ok(Done::SizeLimitExceeded);
                }
                return Ok(Done::Complete { cookie: q.paging.map(|_| Vec::new()) });
            }
        };

        // Where a paged search resumes: the kind, and the core cursor in it.
        let fingerprint = match q.paging {
            Some(_) => self.fingerprint(q, &base),
            None => 0,
        };
        let (page_size, mut resume) = match q.paging {
            None => (usize::MAX, None),
            Some((0, _)) => return Ok(Done::Complete { cookie: Some(Vec::new()) }),
            Some((size, [])) => (size, None),
            Some((size, cookie)) => (size, Some(parse_cookie(cookie, fingerprint)?)),
        };
        if resume.is_none() {
            for entry in fixed {
                if !run.offer(entry, q.filter, &none).await? {
                    return Ok(Done::SizeLimitExceeded);
                }
            }
        }
        let mut started = resume.is_none();
        for kind in kinds {
            let mut cursor = match &resume {
                Some((k, c)) if *k == kind => {
                    started = true;
                    c.clone()
                }
                _ if started => None,
                // Kinds the cookie has already passed.
                _ => continue,
            };
            resume = None;
            let (plan, rest) = self.plan(kind, q.filter).await?;
            let resolved = self.resolve(&rest).await?;
            // What is left of the filter, not the conjunct the plan answers:
            // `(member=U)` needs no group's members once the list is U's groups.
            let need = Need::of(&run.selection, &rest);
            loop {
                let left = page_size.saturating_sub(run.sent);
                if left == 0 {
                    let cookie = make_cookie(fingerprint, kind, cursor.as_deref());
                    return Ok(Done::Complete { cookie: Some(cookie) });
                }
                // LDAP has no place for a total: none is counted.
                let req =
                    PageRequest::parse(plan.list(), Some(left.min(FETCH) as i64), cursor.as_deref())?.without_total();
                let (rows, next) = self.fetch(&plan, &req).await?;
                for row in &rows {
                    let entry = self.entry(row, &need).await?;
                    if !run.offer(entry, &rest, &resolved).await? {
                        return Ok(Done::SizeLimitExceeded);
                    }
                }
                match next {
                    Some(c) => cursor = Some(c),
                    None => break,
                }
            }
        }
        if !started {
            return Err(LdapError::Protocol("the paged results cookie does not belong to this search".into()));
        }
        Ok(Done::Complete { cookie: q.paging.map(|_| Vec::new()) })
    }

    /// The entry at `place`, with the attributes `need` names.
    /// Errors: `NoSuchObject` (with the nearest entry above) when there is
    /// none the caller may see.
    pub async fn entry_at(&self, place: &Place, need: &Need) -> Result<Entry, LdapError> {
        let missing = |matched: &Dn| LdapError::NoSuchObject { matched: matched.to_string() };
        Ok(match place {
            Place::RootDse | Place::Subschema => match dse_entry(self.tree, self.starttls, place) {
                Some(e) => e,
                None => return Err(LdapError::NoSuchObject { matched: String::new() }),
            },
            Place::Base => entries::base_entry(self.tree),
            Place::People => self.units().swap_remove(0),
            Place::Groups => self.units().swap_remove(1),
            Place::User(name) => match self.user_named(name).await? {
                Some(u) => self.entry(&u, need).await?,
                None => return Err(missing(self.tree.people())),
            },
            Place::Group(name) => match self.group_named(name).await? {
                Some(g) => self.entry(&g, need).await?,
                None => return Err(missing(self.tree.groups())),
            },
            Place::Outside { matched } => return Err(LdapError::NoSuchObject { matched: matched.clone() }),
        })
    }

    fn units(&self) -> Vec<Entry> {
        vec![
            entries::unit_entry(self.tree.people().to_string(), "people"),
            entries::unit_entry(self.tree.groups().to_string(), "groups"),
        ]
    }

    /// The list that answers `kind` under `filter`, and what of the
    /// filter is left to evaluate over its entries.
    async fn plan(&self, kind: Kind, f: &LdapFilter) -> Result<(Plan, LdapFilter), LdapError> {
        let parts: Vec<&LdapFilter> = match f {
            LdapFilter::And(fs) => fs.iter().collect(),
            f => vec![f],
        };
        for p in &parts {
            if let LdapFilter::Equality(a, v) = p
                && a.eq_ignore_ascii_case("objectclass")
                && !kind.classes().contains(&v.trim().to_ascii_lowercase().as_str())
            {
                return Ok((Plan::Nothing, f.clone()));
            }
        }
        for (i, p) in parts.iter().enumerate() {
            let plan = match (kind, p) {
                // `(uid=x)`, `(mail=x)`, and an `|` of them (Gitea's and
                // Nextcloud's login filters): a lookup each.
                (Kind::Users, LdapFilter::Equality(a, _)) if !a.eq_ignore_ascii_case("memberof") => {
                    self.user_keys(p).map(|(names, emails, nums)| Plan::UsersKeyed { names, emails, nums })
                }
                (Kind::Users, LdapFilter::Or(_)) => {
                    self.user_keys(p).map(|(names, emails, nums)| Plan::UsersKeyed { names, emails, nums })
                }
                (Kind::Users, LdapFilter::Equality(a, v)) if a.eq_ignore_ascii_case("memberof") => {
                    Some(self.group_id_by_dn(v).await?.map_or(Plan::Nothing, Plan::UsersIn))
                }
                (Kind::Groups, LdapFilter::Equality(a, v)) if a.eq_ignore_ascii_case("cn") => {
                    Some(Plan::GroupNamed(v.clone()))
                }
                // SSSD's getgrgid; the public read has no lookup by number.
                (Kind::Groups, LdapFilter::Equality(a, v))
                    if a.eq_ignore_ascii_case("gidnumber") && matches!(self.reader, Reader::Bound(_)) =>
                {
                    let num = v.trim().parse::<i64>().ok().and_then(entries::group_num_of);
                    Some(num.map_or(Plan::Nothing, Plan::GroupNum))
                }
                (Kind::Groups, LdapFilter::Equality(..)) => self.member_plan(p).await?,
                // `(|(member=U)(uniqueMember=U))` and the like: the union,
                // when every branch names members of one kind.
                (Kind::Groups, LdapFilter::Or(branches)) => self.members_any_plan(branches).await?,
                (_, LdapFilter::Extensible(m)) => match (kind, filter::in_chain(m)) {
                    (Kind::Users, Some((attr, dn))) if attr == "memberof" => {
                        Some(self.group_id_by_dn(dn).await?.map_or(Plan::Nothing, Plan::UsersInChain))
                    }
                    (Kind::Groups, Some((attr, dn))) if attr != "memberof" => {
                        Some(self.user_id_by_dn(dn).await?.map_or(Plan::Nothing, Plan::GroupsOfInChain))
                    }
                    _ => None,
                },
                _ => None,
            };
            if let Some(plan) = plan {
                // Lookups by key are checked against the whole filter again:
                // cheap for a few entries, and no case or space rule of a
                // lookup can let one through that the filter would not.
                if matches!(plan, Plan::UsersKeyed { .. }) {
                    return Ok((plan, f.clone()));
                }
                let rest = match f {
                    LdapFilter::And(fs) => LdapFilter::And(
                        fs.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, f)| f.clone()).collect(),
                    ),
                    _ => LdapFilter::And(Vec::new()),
                };
                return Ok((plan, rest));
            }
        }
        let all = match kind {
            Kind::Users => Plan::AllUsers,
            Kind::Groups => Plan::AllGroups,
        };
        Ok((all, f.clone()))
    }

    /// The usernames, emails and `num`s a filter of `uid`, `mail` and
    /// `uidNumber`/`gidNumber` equalities (or an `|` of them, nested too)
    /// names. An equality on an attribute no entry carries names nobody, as
    /// does a number no user has; `mail` names nobody for the public read,
    /// which does not show it, and numbers are left to the scan there.
    /// `None`: anything else.
    fn user_keys(&self, f: &LdapFilter) -> Option<(Vec<String>, Vec<String>, Vec<i64>)> {
        let bound = matches!(self.reader, Reader::Bound(_));
        let (mut names, mut emails, mut nums) = (Vec::new(), Vec::new(), Vec::new());
        let mut stack = vec![f];
        while let Some(f) = stack.pop() {
            match f {
                LdapFilter::Or(branches) => stack.extend(branches),
                LdapFilter::Equality(a, v) if a.eq_ignore_ascii_case("uid") => names.push(v.clone()),
                LdapFilter::Equality(a, v) if a.eq_ignore_ascii_case("mail") => {
                    if bound {
                        emails.push(v.clone());
                    }
                }
                LdapFilter::Equality(a, v)
                    if bound && (a.eq_ignore_ascii_case("uidnumber") || a.eq_ignore_ascii_case("gidnumber")) =>
                {
                    nums.extend(v.trim().parse::<i64>().ok().and_then(entries::user_num_of));
                }
                LdapFilter::Equality(a, _) if !schema::is_known_attribute(a) => {}
                _ => return None,
            }
        }
        Some((names, emails, nums))
    }

    /// The groups an equality on a member attribute names: those a user
    /// (`member`, `uniqueMember` with a user DN; `memberUid`) or a group
    /// (a group DN: its parents) is directly in. `None`: not such an
    /// equality, or a group the caller cannot look up by name, which may
    /// still show in a member list it can read, so the scan decides.
    async fn member_plan(&self, f: &LdapFilter) -> Result<Option<Plan>, LdapError> {
        let LdapFilter::Equality(a, v) = f else { return Ok(None) };
        if a.eq_ignore_ascii_case("memberuid") {
            return Ok(Some(self.user_id_named(v).await?.map_or(Plan::Nothing, |u| Plan::GroupsOf(vec![u]))));
        }
        if !a.eq_ignore_ascii_case("member") && !a.eq_ignore_ascii_case("uniquemember") {
            return Ok(None);
        }
        Ok(match Dn::parse(v).map(|d| self.tree.place(&d)) {
            Ok(Place::User(name)) => {
                Some(self.user_id_named(&name).await?.map_or(Plan::Nothing, |u| Plan::GroupsOf(vec![u])))
            }
            Ok(Place::Group(name)) => {
                self.group_named(&name).await?.and_then(|r| r.group_id()).map(|g| Plan::GroupsAbove(vec![g]))
            }
            _ => Some(Plan::Nothing),
        })
    }

    /// An `Or` of member equalities as one list: the groups any of the
    /// named users are in, or any of the named groups are nested in.
    /// `None` when a branch is anything else, or users and groups mix.
    async fn members_any_plan(&self, branches: &[LdapFilter]) -> Result<Option<Plan>, LdapError> {
        let (mut users, mut groups) = (Vec::new(), Vec::new());
        for b in branches {
            match self.member_plan(b).await? {
                Some(Plan::Nothing) => {}
                Some(Plan::GroupsOf(us)) => users.extend(us),
                Some(Plan::GroupsAbove(gs)) => groups.extend(gs),
                _ => return Ok(None),
            }
        }
        Ok(match (users.is_empty(), groups.is_empty()) {
            (true, true) => Some(Plan::Nothing),
            (false, true) => Some(Plan::GroupsOf(users)),
            (true, false) => Some(Plan::GroupsAbove(groups)),
            (false, false) => None,
        })
    }

    /// One page of a plan's list, and the cursor after it.
    async fn fetch(&self, plan: &Plan, req: &PageRequest) -> Result<(Vec<Row>, Option<String>), LdapError> {
        let d = self.dir;
        let first = req.after.is_none();
        let named = |row: Option<Row>| (if first { row.into_iter().collect() } else { Vec::new() }, None);
        Ok(match (self.reader, plan) {
            (_, Plan::Nothing) => (Vec::new(), None),
            (_, Plan::UsersKeyed { names, emails, nums }) => {
                if !first {
                    return Ok((Vec::new(), None));
                }
                // Each user once, in username order (as a list would give them).
                let mut found: BTreeMap<(String, i64), Row> = BTreeMap::new();
                for name in names {
                    if let Some(row) = self.user_named(name).await? {
                        found.insert(row_key(&row), row);
                    }
                }
                if let Reader::Bound(p) = self.reader {
                    for email in emails {
                        for u in d.get_users_by_email(p, email).await? {
                            let row = Row::User(u);
                            found.insert(row_key(&row), row);
                        }
                    }
                    for num in nums {
                        if let Some(id) = absent_as_none(d.id_by_num(NumKind::User, *num).await)? {
                            let row = Row::User(d.get_user(p, UserId(id)).await?);
                            found.insert(row_key(&row), row);
                        }
                    }
                }
                (found.into_values().collect(), None)
            }
            (_, Plan::GroupNamed(name)) => named(self.group_named(name).await?),
            (Reader::Bound(p), Plan::GroupNum(num)) => {
                let id = match first {
                    true => absent_as_none(d.id_by_num(NumKind::Group, *num).await)?,
                    false => None,
                };
                let group = match id {
                    Some(id) => absent_as_none(d.get_group(p, GroupId(id)).await)?,
                    None => None,
                };
                (group.map(Row::Group).into_iter().collect(), None)
            }
            (Reader::Public(_), Plan::GroupNum(_)) => (Vec::new(), None),
            (Reader::Bound(p), Plan::AllUsers) => rows(d.list_users(p, &UserQuery::default(), req).await?, Row::User),
            (Reader::Bound(p), Plan::UsersIn(g)) => {
                let query = UserQuery { in_groups: vec![*g], ..UserQuery::default() };
                rows(d.list_users(p, &query, req).await?, Row::User)
            }
            (Reader::Bound(p), Plan::UsersInChain(g)) => {
                rows(d.list_members_transitively(p, *g, req).await?, |u| Row::User(Arc::unwrap_or_clone(u)))
            }
            (Reader::Bound(p), Plan::AllGroups) => {
                rows(d.list_groups(p, &GroupFilter::default(), req).await?, Row::Group)
            }
            (Reader::Bound(p), Plan::GroupsOf(_) | Plan::GroupsAbove(_) | Plan::GroupsOfInChain(_)) => {
                rows(d.list_groups(p, &groups_filter(plan), req).await?, Row::Group)
            }
            (Reader::Public(r), Plan::AllUsers) => rows(r.list_users(None, req).await?, Row::PublicUser),
            (Reader::Public(r), Plan::UsersIn(g)) => rows(r.list_users(Some(*g), req).await?, Row::PublicUser),
            (Reader::Public(r), Plan::UsersInChain(g)) => {
                rows(r.list_members_transitively(*g, req).await?, Row::PublicUser)
            }
            (Reader::Public(r), Plan::AllGroups) => {
                rows(r.list_groups(&GroupFilter::default(), req).await?, Row::PublicGroup)
            }
            (Reader::Public(r), Plan::GroupsOf(_) | Plan::GroupsAbove(_) | Plan::GroupsOfInChain(_)) => {
                rows(r.list_groups(&groups_filter(plan), req).await?, Row::PublicGroup)
            }
        })
    }

    /// The answers of the filter's in-chain assertions, from the core.
    async fn resolve(&self, f: &LdapFilter) -> Result<Resolved, LdapError> {
        self.resolve_for(f, None).await
    }

    /// As [`Self::resolve`]; with `only` (a search of one entry, by a bound
    /// caller), each assertion is answered for that entry alone by one
    /// membership check, not by listing every member of the group or every
    /// group of the user.
    async fn resolve_for(&self, f: &LdapFilter, only: Option<&Subject>) -> Result<Resolved, LdapError> {
        let mut out = Resolved::new();
        for (attr, dn) in filter::in_chain_assertions(f) {
            let key = (attr.clone(), filter::normalize(entries::Syntax::Dn, dn));
            if out.contains_key(&key) {
                continue;
            }
            if let (Reader::Bound(p), Some(subject)) = (self.reader, only) {
                let d = self.dir;
                let answer = match (attr == "memberof", subject) {
                    (true, Subject::User(u)) => {
                        let member = match self.group_id_by_dn(dn).await? {
                            Some(g) => absent_as_none(d.check_membership(p, *u, g).await)?.is_some_and(|c| c.member),
                            None => false,
                        };
                        Some(InChain::Users(if member { HashSet::from([*u]) } else { HashSet::new() }))
                    }
                    (false, Subject::Group(g)) => {
                        let member = match self.user_id_by_dn(dn).await? {
                            Some(u) => absent_as_none(d.check_membership(p, u, *g).await)?.is_some_and(|c| c.member),
                            None => false,
                        };
                        Some(InChain::Groups(if member { HashSet::from([*g]) } else { HashSet::new() }))
                    }
                    _ => None,
                };
                if let Some(answer) = answer {
                    out.insert(key, answer);
                    continue;
                }
            }
            let answer = if attr == "memberof" {
                let users = match self.group_id_by_dn(dn).await? {
                    Some(g) => self.members_in_chain(g).await?,
                    None => Vec::new(),
                };
                InChain::Users(users.into_iter().collect())
            } else {
                let groups = match self.user_id_by_dn(dn).await? {
                    Some(u) => self.groups_in_chain(u).await?,
                    None => Vec::new(),
                };
                InChain::Groups(groups.into_iter().collect())
            };
            out.insert(key, answer);
        }
        Ok(out)
    }

    /// Every user in `g` at any depth.
    async fn members_in_chain(&self, g: GroupId) -> Result<Vec<UserId>, CoreError> {
        let list = list::MEMBERS_TRANSITIVE;
        Ok(match self.reader {
            Reader::Bound(p) => {
                let d = self.dir;
                let all = collect_all(list, |req| async move { d.list_members_transitively(p, g, &req).await });
                all.await?.into_iter().map(|u| u.id).collect()
            }
            Reader::Public(r) => {
                let all = collect_all(list, |req| async move { r.list_members_transitively(g, &req).await });
                all.await?.into_iter().map(|u| u.id).collect()
            }
        })
    }

    /// Every group `u` is in at any depth.
    /// (Those the reader may see, as `(member=U)` is of U's direct groups.)
    async fn groups_in_chain(&self, u: UserId) -> Result<Vec<GroupId>, CoreError> {
        Ok(self.every_group(&in_chain_of(u)).await?.into_iter().map(|(id, _)| id).collect())
    }

    /// Every group `filter` lists for the reader, by id and name, a page
    /// at a time underneath.
    async fn every_group(&self, filter: &GroupFilter) -> Result<Vec<(GroupId, String)>, CoreError> {
        Ok(match self.reader {
            Reader::Bound(p) => {
                let d = self.dir;
                let all = collect_all(list::GROUPS, |req| async move { d.list_groups(p, filter, &req).await });
                all.await?.into_iter().map(|g| (g.id, g.name)).collect()
            }
            Reader::Public(r) => {
                let all = collect_all(list::GROUPS, |req| async move { r.list_groups(filter, &req).await });
                all.await?.into_iter().map(|g| (g.id, g.name)).collect()
            }
        })
    }

    /// A row as an entry, with the attributes `need` names (a user's
    /// groups, a group's members fetched only when named).
    async fn entry(&self, row: &Row, need: &Need) -> Result<Entry, LdapError> {
        let wants = |a: &str| need.wants(a, false);
        Ok(match row {
            Row::User(u) => {
                let member_of = match wants("memberof") {
                    true => Some(self.groups_of(u.id).await?),
                    false => None,
                };
                entries::user_entry(self.tree, u, member_of, need)
            }
            Row::PublicUser(u) => {
                let member_of = match wants("memberof") {
                    true => Some(self.groups_of(u.id).await?),
                    false => None,
                };
                entries::public_user_entry(self.tree, u, member_of, need)
            }
            Row::Group(g) => {
                let attrs = MemberAttrs::wanted(wants);
                let members = match attrs.any() {
                    true => self.members(g.id, attrs).await?,
                    false => None,
                };
                // The groups it is directly nested in, those the caller may see.
                let member_of = match wants("memberof") {
                    true => Some(self.parents_of(g.id).await?),
                    false => None,
                };
                entries::group_entry(self.tree, g, members, member_of, need)
            }
            Row::PublicGroup(g) => {
                let attrs = MemberAttrs::wanted(wants);
                let members = match attrs.any() {
                    true => self.members(g.id, attrs).await?,
                    false => None,
                };
                entries::public_group_entry(self.tree, g, members, need)
            }
        })
    }

    /// The DNs of the groups `group` is directly nested in that the reader may see.
    async fn parents_of(&self, group: GroupId) -> Result<Vec<String>, CoreError> {
        let filter = GroupFilter { children_any: vec![group], ..GroupFilter::default() };
        Ok(self.every_group(&filter).await?.iter().map(|(_, name)| self.tree.group_dn(name)).collect())
    }

    /// The DNs of the groups `user` is directly in that the reader may see.
    async fn groups_of(&self, user: UserId) -> Result<Vec<String>, CoreError> {
        Ok(match self.reader {
            Reader::Bound(p) => {
                self.dir.visible_groups_of(p, user).await?.iter().map(|g| self.tree.group_dn(&g.name)).collect()
            }
            Reader::Public(r) => r.groups_of(user).await?.iter().map(|g| self.tree.group_dn(&g.name)).collect(),
        })
    }

    /// The direct members of a group, by name (`Directory::member_names`:
    /// no user is loaded). A group deleted since the list that named it
    /// shows without its members (`None`).
    async fn members(&self, id: GroupId, attrs: MemberAttrs) -> Result<Option<Members>, LdapError> {
        let names = match self.reader {
            Reader::Bound(p) => self.dir.member_names(p, id).await,
            Reader::Public(r) => r.member_names(id).await,
        };
        Ok(absent_as_none(names)?.map(|names| Members { names, attrs }))
    }

    /// A lookup by name; absence is `None` (a filter naming nobody matches nothing).
    async fn user_named(&self, name: &str) -> Result<Option<Row>, LdapError> {
        let name = name.trim();
        match self.reader {
            Reader::Bound(p) => Ok(absent_as_none(self.dir.get_user_by_username(p, name).await)?.map(Row::User)),
            Reader::Public(r) => Ok(absent_as_none(r.user_by_username(name).await)?.map(Row::PublicUser)),
        }
    }

    async fn group_named(&self, name: &str) -> Result<Option<Row>, LdapError> {
        let name = name.trim();
        match self.reader {
            Reader::Bound(p) => Ok(absent_as_none(self.dir.get_group_by_name(p, name).await)?.map(Row::Group)),
            Reader::Public(r) => Ok(absent_as_none(r.group_by_name(name).await)?.map(Row::PublicGroup)),
        }
    }

    async fn user_id_named(&self, name: &str) -> Result<Option<UserId>, LdapError> {
        Ok(self.user_named(name).await?.and_then(|r| r.user_id()))
    }

    async fn user_id_by_dn(&self, dn: &str) -> Result<Option<UserId>, LdapError> {
        match Dn::parse(dn).map(|d| self.tree.place(&d)) {
            Ok(Place::User(name)) => self.user_id_named(&name).await,
            _ => Ok(None),
        }
    }

    async fn group_id_by_dn(&self, dn: &str) -> Result<Option<GroupId>, LdapError> {
        match Dn::parse(dn).map(|d| self.tree.place(&d)) {
            Ok(Place::Group(name)) => Ok(self.group_named(&name).await?.and_then(|r| r.group_id())),
            _ => Ok(None),
        }
    }

    /// What a cookie is bound to: the search (base, scope, filter) and the
    /// caller (a user, or the public read).
    fn fingerprint(&self, q: &Query<'_>, base: &Dn) -> u64 {
        let mut h = DefaultHasher::new();
        base.normalized().hash(&mut h);
        (q.scope.clone() as i32).hash(&mut h);
        format!("{:?}", q.filter).hash(&mut h);
        match self.reader {
            Reader::Bound(p) => p.user.0.hash(&mut h),
            Reader::Public(_) => "public".hash(&mut h),
        }
        h.finish()
    }
}

/// The root DSE or the subschema entry at `place` (`None` elsewhere).
pub(crate) fn dse_entry(tree: &Tree, starttls: bool, place: &Place) -> Option<Entry> {
    match place {
        Place::RootDse => Some(entries::root_dse(tree, starttls)),
        Place::Subschema => Some(schema::subschema_entry()),
        _ => None,
    }
}

/// A search based at the root DSE or the subschema entry: readable by
/// anyone, bound or not (RFC 4512 §5.1, §4.2; OpenLDAP's sample policy
/// grants both to `*`), so it needs no reader. The root DSE answers a
/// base search only; the subschema entry is a leaf.
pub(crate) async fn search_dse<E: Emit>(
    tree: &Tree,
    starttls: bool,
    place: &Place,
    q: &Query<'_>,
    emit: &mut E,
) -> Result<Done, LdapError> {
    let reached = match (place, &q.scope) {
        (Place::RootDse, LdapSearchScope::Base) => dse_entry(tree, starttls, place),
        (Place::RootDse, _) => return Err(LdapError::NoSuchObject { matched: String::new() }),
        (Place::Subschema, LdapSearchScope::Base | LdapSearchScope::Subtree) => dse_entry(tree, starttls, place),
        _ => None,
    };
    let mut run = Run::new(emit, q);
    if let Some(entry) = reached
        && !run.offer(entry, q.filter, &Resolved::new()).await?
    {
        return Ok(Done::SizeLimitExceeded);
    }
    Ok(Done::Complete { cookie: q.paging.map(|_| Vec::new()) })
}

/// The groups the in-chain `member` rule names: those `user` is in at any
/// depth, of the ones the caller may see (as `(member=U)` is of the groups
/// U is directly in).
fn in_chain_of(user: UserId) -> GroupFilter {
    GroupFilter { members_at_any_depth: vec![user], ..GroupFilter::default() }
}

/// Where a user row sorts among users: by folded username, then `num`.
fn row_key(row: &Row) -> (String, i64) {
    match row {
        Row::User(u) => (roster_core::validate::fold(&u.username), u.num),
        Row::PublicUser(u) => (roster_core::validate::fold(&u.username), u.num),
        Row::Group(g) => (roster_core::validate::fold(&g.name), g.num),
        Row::PublicGroup(g) => (roster_core::validate::fold(&g.name), g.num),
    }
}

/// The group list a plan over groups walks.
fn groups_filter(plan: &Plan) -> GroupFilter {
    match plan {
        Plan::GroupsOf(users) => GroupFilter { members_any: users.clone(), ..GroupFilter::default() },
        Plan::GroupsAbove(groups) => GroupFilter { children_any: groups.clone(), ..GroupFilter::default() },
        Plan::GroupsOfInChain(user) => in_chain_of(*user),
        _ => GroupFilter::default(),
    }
}

/// `NotFound` (by that variant alone) is absence; every other error stays one.
fn absent_as_none<T>(r: Result<T, CoreError>) -> Result<Option<T>, LdapError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(CoreError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// `<fingerprint>.<kind>.<core cursor>`: the cursor is the core's keyset
/// position, so the next page starts where this one stopped.
fn make_cookie(fingerprint: u64, kind: Kind, cursor: Option<&str>) -> Vec<u8> {
    format!("{fingerprint:016x}.{}.{}", kind.tag(), cursor.unwrap_or("")).into_bytes()
}

fn parse_cookie(cookie: &[u8], fingerprint: u64) -> Result<(Kind, Option<String>), LdapError> {
    let bad = || LdapError::Protocol("the paged results cookie does not belong to this search".into());
    let text = std::str::from_utf8(cookie).map_err(|_| bad())?;
    let mut parts = text.splitn(3, '.');
    let (Some(fp), Some(kind), Some(cursor)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad());
    };
    if u64::from_str_radix(fp, 16).ok() != Some(fingerprint) {
        return Err(bad());
    }
    let kind = match kind {
        "u" => Kind::Users,
        "g" => Kind::Groups,
        _ => return Err(bad()),
    };
    Ok((kind, (!cursor.is_empty()).then(|| cursor.to_owned())))
}
