//! The index's rows kept in a file on this server's disk, so that a start
//! reads one file instead of every table through the store: at 10^6 users
//! and 10^7 memberships the store's rows take a minute and more to read and
//! decode, the file seconds.
//!
//! The file is a cache, never a record. It names the event the log held
//! when it was taken (its *mark*: `seq`, time, action, target), and is used
//! only where the store's log holds that same event at that `seq`; the log
//! after it is then applied as after any load, and a log too far ahead
//! makes the index load from the store instead. Every change reaches the
//! index through the log, so rows taken at an event plus the events after
//! it are the directory. Anything amiss (another database, another build,
//! a torn or damaged file) is said in the log and the index loads from the
//! store, writing a new file as it goes.
//!
//! A snapshot written while the server serves (`super::rewrite`) is taken
//! a few thousand rows at a time, so its rows are each as of some moment
//! after the mark; a *patch* after them, taken at a later event (the
//! patch's own mark), gives the current row, or says it is gone, for
//! everything the index changed meanwhile. Rows then patch are the index
//! at the patch's mark.
//!
//! Layout: a header (magic, [`FORMAT`], the build's version, the mark),
//! tagged rows (users, groups, memberships; then, optionally, the patch
//! tag with its mark and the rows and removals of the patch; then shares),
//! an end tag with the row count, then the SHA-256 of everything before
//! it. Rows are encoded field by field from destructured values, so a
//! field added to a model type fails to compile here until the codec (and
//! [`FORMAT`]) follow.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use time::{OffsetDateTime, UtcOffset};
use uuid::Uuid;

use crate::ids::{GroupId, MembershipId, OrgId, ShareId, UserId};
use crate::model::{
    Event, Grantee, Group, GroupCounts, Member, MemberRole, Membership, Permissions, Share, ShareLevel, SiteRole,
    SourceType, User,
};

/// Bumped whenever the encoding of a row changes.
pub(crate) const FORMAT: u32 = 2;
const MAGIC: [u8; 8] = *b"ROSTERIX";
/// A file from another build may encode rows differently.
const BUILD: &str = env!("CARGO_PKG_VERSION");

const END: u8 = 0;
const USER: u8 = 1;
const GROUP: u8 = 2;
const MEMBERSHIP: u8 = 3;
const SHARE: u8 = 4;
/// What follows is the patch (see above), taken at the mark it carries.
const PATCH: u8 = 5;
/// Removals, in a patch only: a user, a group, every membership of a pair.
const USER_GONE: u8 = 6;
const GROUP_GONE: u8 = 7;
const PAIR_GONE: u8 = 8;

/// No string the store holds comes near this; a larger length is damage.
const MAX_STRING: usize = 64 << 20;

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("{0}")]
    Io(#[from] io::Error),
    /// Written by another build or format: readable, but not by this one.
    #[error("written by another build ({0})")]
    OtherBuild(String),
    /// Not what this module writes, or not all of it.
    #[error("damaged: {0}")]
    Damaged(&'static str),
    /// The store's log holds another event at the snapshot's mark: the
    /// file belongs to another database, or to an older copy of this one.
    #[error("taken at event {0}, which this database's log does not hold")]
    NotThisLog(i64),
    /// Taken from a store at another schema version: a migration since
    /// may have changed rows without an event.
    #[error("taken at schema version {taken}, the database is at {now}")]
    OtherSchema { taken: i64, now: i64 },
    /// Replaying the log after it would cost more than a load.
    #[error("the event log is {0} events ahead of it")]
    FarBehind(i64),
    /// The log after it holds a bulk load, whose rows have no events.
    #[error("the directory was bulk loaded after it (event {0})")]
    BulkLoaded(i64),
    /// The index was loaded afresh while a snapshot of it was written.
    #[error("the index was loaded afresh while it was written")]
    Reloaded,
    #[error("reading the store: {0}")]
    Store(#[from] crate::error::StoreError),
}

fn damaged(what: &'static str) -> SnapshotError {
    SnapshotError::Damaged(what)
}

/// The event the log held when a snapshot was taken.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Mark {
    /// The schema version of the store the rows were read from: a
    /// migration may change rows without an event.
    pub(crate) schema: i64,
    pub(crate) revision: i64,
    at: i128,
    action: String,
    target_id: String,
}

impl Mark {
    pub(crate) fn of(schema: i64, event: &Event) -> Self {
        Self {
            schema,
            revision: event.seq,
            at: event.at.unix_timestamp_nanos(),
            action: event.action.clone(),
            target_id: event.target_id.clone(),
        }
    }

    /// A mark at `revision` of no particular log.
    #[cfg(test)]
    pub(crate) fn at_revision(revision: i64) -> Self {
        Self { schema: 1, revision, at: 0, action: "test".into(), target_id: String::new() }
    }
}

/// A row read back.
pub(crate) enum Row {
    User(User),
    Group(Group),
    Membership(Membership),
    Share(Share),
    /// The rows after it are the patch, taken at this mark.
    Patch(Mark),
    UserGone(UserId),
    GroupGone(GroupId),
    /// Every membership between this group and member is gone.
    PairGone(GroupId, Member),
}

// ---- encoding ---------------------------------------------------------------

fn put_u8(b: &mut Vec<u8>, v: u8) {
    b.push(v);
}

fn put_bool(b: &mut Vec<u8>, v: bool) {
    b.push(u8::from(v));
}

fn put_i64(b: &mut Vec<u8>, v: i64) {
    b.extend_from_slice(&v.to_le_bytes());
}

fn put_uuid(b: &mut Vec<u8>, v: Uuid) {
    b.extend_from_slice(v.as_bytes());
}

fn put_str(b: &mut Vec<u8>, v: &str) {
    b.extend_from_slice(&(v.len() as u32).to_le_bytes());
    b.extend_from_slice(v.as_bytes());
}

fn put_opt_str(b: &mut Vec<u8>, v: Option<&str>) {
    match v {
        None => put_u8(b, 0),
        Some(s) => {
            put_u8(b, 1);
            put_str(b, s);
        }
    }
}

fn put_opt_uuid(b: &mut Vec<u8>, v: Option<Uuid>) {
    match v {
        None => put_u8(b, 0),
        Some(u) => {
            put_u8(b, 1);
            put_uuid(b, u);
        }
    }
}

fn put_mark(b: &mut Vec<u8>, mark: &Mark) {
    put_i64(b, mark.schema);
    put_i64(b, mark.revision);
    b.extend_from_slice(&mark.at.to_le_bytes());
    put_str(b, &mark.action);
    put_str(b, &mark.target_id);
}

/// An instant: UTC nanoseconds in an `i64` when they fit (nearly always),
/// else the full `i128` and the offset, so it comes back exactly.
fn put_time(b: &mut Vec<u8>, t: OffsetDateTime) {
    let nanos = t.unix_timestamp_nanos();
    match i64::try_from(nanos) {
        Ok(n) if t.offset().is_utc() => {
            put_u8(b, 0);
            put_i64(b, n);
        }
        _ => {
            put_u8(b, 1);
            b.extend_from_slice(&nanos.to_le_bytes());
            b.extend_from_slice(&t.offset().whole_seconds().to_le_bytes());
        }
    }
}

fn put_attributes(b: &mut Vec<u8>, v: &serde_json::Map<String, serde_json::Value>) {
    if v.is_empty() {
        put_str(b, "");
    } else {
        // A map of JSON values serializes without fail.
        put_str(b, &serde_json::Value::Object(v.clone()).to_string());
    }
}

/// A membership's member and a share's grantee: a user or a group, by id.
const USER_PARTY: u8 = 0;
const GROUP_PARTY: u8 = 1;

fn put_party(b: &mut Vec<u8>, kind: u8, id: Uuid) {
    put_u8(b, kind);
    put_uuid(b, id);
}

fn encode_user(b: &mut Vec<u8>, u: &User) {
    let User {
        id,
        num,
        username,
        email,
        first_name,
        last_name,
        display_name,
        active,
        site_role,
        primary_group,
        external_id,
        role_label,
        attributes,
        created_at,
        updated_at,
        version,
        groups_changed_at,
        profile_changed_at,
    } = u;
    put_uuid(b, id.0);
    put_i64(b, *num);
    put_str(b, username);
    put_opt_str(b, email.as_deref());
    put_opt_str(b, first_name.as_deref());
    put_opt_str(b, last_name.as_deref());
    put_opt_str(b, display_name.as_deref());
    put_bool(b, *active);
    put_str(b, site_role.as_str());
    put_opt_uuid(b, primary_group.map(|g| g.0));
    put_opt_str(b, external_id.as_deref());
    put_opt_str(b, role_label.as_deref());
    put_attributes(b, attributes);
    put_time(b, *created_at);
    put_time(b, *updated_at);
    put_i64(b, *version);
    put_time(b, *groups_changed_at);
    put_time(b, *profile_changed_at);
}

fn encode_group(b: &mut Vec<u8>, g: &Group) {
    let Group {
        id,
        num,
        name,
        unique_id,
        slug,
        description,
        org,
        source_type,
        attributes,
        created_by,
        updated_by,
        created_at,
        updated_at,
        version,
        counts,
    } = g;
    let GroupCounts { members, admins, children } = counts;
    put_uuid(b, id.0);
    put_i64(b, *num);
    put_str(b, name);
    put_opt_str(b, unique_id.as_deref());
    put_opt_str(b, slug.as_deref());
    put_opt_str(b, description.as_deref());
    put_uuid(b, org.0);
    put_str(b, source_type.as_str());
    put_attributes(b, attributes);
    put_opt_uuid(b, created_by.map(|u| u.0));
    put_opt_uuid(b, updated_by.map(|u| u.0));
    put_time(b, *created_at);
    put_time(b, *updated_at);
    put_i64(b, *version);
    put_i64(b, *members);
    put_i64(b, *admins);
    put_i64(b, *children);
}

fn encode_membership(b: &mut Vec<u8>, m: &Membership) {
    let Membership { id, num, group, member, role, permissions, created_at, updated_at } = m;
    put_uuid(b, id.0);
    put_i64(b, *num);
    put_uuid(b, group.0);
    put_member(b, *member);
    put_u8(
        b,
        match role {
            MemberRole::Member => 0,
            MemberRole::Admin => 1,
        },
    );
    match permissions {
        Permissions::Map(m) if m.is_empty() => put_u8(b, 0),
        Permissions::Disabled => put_u8(b, 1),
        Permissions::Map(m) => {
            put_u8(b, 2);
            b.extend_from_slice(&(m.len() as u32).to_le_bytes());
            for (k, v) in m {
                put_str(b, k);
                put_bool(b, *v);
            }
        }
    }
    put_time(b, *created_at);
    if updated_at == created_at {
        put_u8(b, 0);
    } else {
        put_u8(b, 1);
        put_time(b, *updated_at);
    }
}

fn encode_share(b: &mut Vec<u8>, s: &Share) {
    let Share { id, num, group, grantee, level, created_at } = s;
    put_uuid(b, id.0);
    put_i64(b, *num);
    put_uuid(b, group.0);
    match grantee {
        Grantee::User(u) => put_party(b, USER_PARTY, u.0),
        Grantee::Group(g) => put_party(b, GROUP_PARTY, g.0),
    }
    put_str(b, level.as_str());
    put_time(b, *created_at);
}

fn put_member(b: &mut Vec<u8>, member: Member) {
    match member {
        Member::User(u) => put_party(b, USER_PARTY, u.0),
        Member::Group(g) => put_party(b, GROUP_PARTY, g.0),
    }
}

/// Rows encoded ahead of the file, then handed to [`Writer::append`]: a
/// snapshot taken while serving encodes under the index's read lock and
/// hashes and writes after letting go of it.
#[derive(Default)]
pub(crate) struct Batch {
    bytes: Vec<u8>,
    rows: u64,
}

impl Batch {
    fn row(&mut self, tag: u8, encode: impl FnOnce(&mut Vec<u8>)) {
        self.bytes.push(tag);
        encode(&mut self.bytes);
        self.rows += 1;
    }

    pub(crate) fn user(&mut self, u: &User) {
        self.row(USER, |b| encode_user(b, u))
    }

    pub(crate) fn group(&mut self, g: &Group) {
        self.row(GROUP, |b| encode_group(b, g))
    }

    pub(crate) fn membership(&mut self, m: &Membership) {
        self.row(MEMBERSHIP, |b| encode_membership(b, m))
    }

    pub(crate) fn share(&mut self, s: &Share) {
        self.row(SHARE, |b| encode_share(b, s))
    }

    pub(crate) fn patch(&mut self, mark: &Mark) {
        self.row(PATCH, |b| put_mark(b, mark))
    }

    pub(crate) fn user_gone(&mut self, id: UserId) {
        self.row(USER_GONE, |b| put_uuid(b, id.0))
    }

    pub(crate) fn group_gone(&mut self, id: GroupId) {
        self.row(GROUP_GONE, |b| put_uuid(b, id.0))
    }

    pub(crate) fn pair_gone(&mut self, group: GroupId, member: Member) {
        self.row(PAIR_GONE, |b| {
            put_uuid(b, group.0);
            put_member(b, member);
        })
    }

    /// Bytes held: a caller hands the batch over past some size.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes.len()
    }

    pub(crate) fn rows(&self) -> u64 {
        self.rows
    }
}

/// Writes a snapshot to a file beside its final path, and puts it in
/// place only once it is whole and on disk: a start never finds half of
/// one under the real name.
pub(crate) struct Writer {
    out: BufWriter<File>,
    path: PathBuf,
    temporary: PathBuf,
    hash: Sha256,
    /// The header, a row or the end, encoded before it is appended.
    record: Batch,
    rows: u64,
    bytes: u64,
    /// Bytes written since the file was last made durable.
    unsynced: u64,
}

/// A snapshot written while serving is made durable this many bytes at a
/// time, so that its end is not one burst of hundreds of megabytes that
/// the database's own commits queue behind.
const SYNC_EVERY: u64 = 32 << 20;

impl Writer {
    pub(crate) fn create(path: &Path, mark: &Mark) -> io::Result<Self> {
        let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
        name.push(".partial");
        let temporary = path.with_file_name(name);
        // A leftover from a write that died is removed, not reused: the
        // file made afresh gets the mode below.
        match std::fs::remove_file(&temporary) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            // It holds what the database holds: readable by its owner only.
            options.mode(0o600);
        }
        let file = options.open(&temporary)?;
        let mut w = Self {
            out: BufWriter::with_capacity(1 << 20, file),
            path: path.to_path_buf(),
            temporary,
            hash: Sha256::new(),
            record: Batch::default(),
            rows: 0,
            bytes: 0,
            unsynced: 0,
        };
        let b = &mut w.record.bytes;
        b.extend_from_slice(&MAGIC);
        b.extend_from_slice(&FORMAT.to_le_bytes());
        put_str(b, BUILD);
        put_mark(b, mark);
        w.flush_record()?;
        Ok(w)
    }

    fn flush_record(&mut self) -> io::Result<()> {
        let mut record = std::mem::take(&mut self.record);
        let appended = self.append(&mut record);
        self.record = record;
        appended
    }

    pub(crate) fn user(&mut self, u: &User) -> io::Result<()> {
        self.record.user(u);
        self.flush_record()
    }

    pub(crate) fn group(&mut self, g: &Group) -> io::Result<()> {
        self.record.group(g);
        self.flush_record()
    }

    pub(crate) fn membership(&mut self, m: &Membership) -> io::Result<()> {
        self.record.membership(m);
        self.flush_record()
    }

    pub(crate) fn share(&mut self, s: &Share) -> io::Result<()> {
        self.record.share(s);
        self.flush_record()
    }

    /// Writes the rows of `batch` and empties it.
    pub(crate) fn append(&mut self, batch: &mut Batch) -> io::Result<()> {
        self.hash.update(&batch.bytes);
        self.out.write_all(&batch.bytes)?;
        self.bytes += batch.bytes.len() as u64;
        self.unsynced += batch.bytes.len() as u64;
        self.rows += batch.rows;
        batch.bytes.clear();
        batch.rows = 0;
        if self.unsynced >= SYNC_EVERY {
            self.out.flush()?;
            self.out.get_ref().sync_data()?;
            self.unsynced = 0;
        }
        Ok(())
    }

    /// Ends the file, makes it durable and puts it in place. Returns its size.
    pub(crate) fn finish(mut self) -> io::Result<u64> {
        self.record.bytes.push(END);
        let rows = self.rows;
        put_i64(&mut self.record.bytes, rows as i64);
        self.flush_record()?;
        let digest = self.hash.clone().finalize();
        self.out.write_all(&digest)?;
        let file = self.out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&self.temporary, &self.path)?;
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            // The rename itself must survive a crash.
            File::open(dir)?.sync_all()?;
        }
        Ok(self.bytes + digest.len() as u64)
    }

    /// Gives up: removes the partial file.
    pub(crate) fn abandon(self) {
        let _ = std::fs::remove_file(&self.temporary);
    }
}

// ---- decoding ---------------------------------------------------------------

/// Reads a snapshot in pieces (never the whole file in memory at once),
/// hashing what it takes.
pub(crate) struct Reader {
    file: File,
    buf: Vec<u8>,
    pos: usize,
    end: usize,
    /// `buf[..hashed]` is in `hash` already.
    hashed: usize,
    hash: Sha256,
    pub(crate) mark: Mark,
}

const CHUNK: usize = 1 << 20;

impl Reader {
    /// Opens the file at `path` and reads its header. `Ok(None)`: there is
    /// no file.
    pub(crate) fn open(path: &Path) -> Result<Option<Self>, SnapshotError> {
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let mut r = Self {
            file,
            buf: vec![0; CHUNK],
            pos: 0,
            end: 0,
            hashed: 0,
            hash: Sha256::new(),
            mark: Mark { schema: 0, revision: 0, at: 0, action: String::new(), target_id: String::new() },
        };
        if r.take(MAGIC.len())? != MAGIC {
            return Err(damaged("not a Roster index snapshot"));
        }
        let format = u32::from_le_bytes(r.array()?);
        let build = r.string()?;
        if format != FORMAT || build != BUILD {
            return Err(SnapshotError::OtherBuild(format!("format {format}, version {build}")));
        }
        r.mark = r.mark()?;
        Ok(Some(r))
    }

    /// Makes at least `n` bytes available at `pos`.
    fn fill(&mut self, n: usize) -> Result<(), SnapshotError> {
        if self.end - self.pos >= n {
            return Ok(());
        }
        self.hash.update(&self.buf[self.hashed..self.pos]);
        self.buf.copy_within(self.pos..self.end, 0);
        self.end -= self.pos;
        self.pos = 0;
        self.hashed = 0;
        if self.buf.len() < n {
            self.buf.resize(n.max(CHUNK), 0);
        }
        while self.end < n {
            let read = self.file.read(&mut self.buf[self.end..])?;
            if read == 0 {
                return Err(damaged("cut short"));
            }
            self.end += read;
        }
        Ok(())
    }

    fn take(&mut self, n: usize) -> Result<&[u8], SnapshotError> {
        self.fill(n)?;
        let at = self.pos;
        self.pos += n;
        Ok(&self.buf[at..at + n])
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], SnapshotError> {
        let mut a = [0; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    fn mark(&mut self) -> Result<Mark, SnapshotError> {
        let schema = self.i64()?;
        let revision = self.i64()?;
        let at = i128::from_le_bytes(self.array()?);
        let action = self.string()?;
        let target_id = self.string()?;
        Ok(Mark { schema, revision, at, action, target_id })
    }

    fn u8(&mut self) -> Result<u8, SnapshotError> {
        Ok(self.take(1)?[0])
    }

    fn bool(&mut self) -> Result<bool, SnapshotError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(damaged("a flag that is neither 0 nor 1")),
        }
    }

    fn i64(&mut self) -> Result<i64, SnapshotError> {
        Ok(i64::from_le_bytes(self.array()?))
    }

    fn uuid(&mut self) -> Result<Uuid, SnapshotError> {
        Ok(Uuid::from_bytes(self.array()?))
    }

    fn string(&mut self) -> Result<String, SnapshotError> {
        let len = u32::from_le_bytes(self.array()?) as usize;
        if len > MAX_STRING {
            return Err(damaged("a string longer than any the store holds"));
        }
        String::from_utf8(self.take(len)?.to_vec()).map_err(|_| damaged("a string that is not UTF-8"))
    }

    /// A kind and an id, as [`put_party`] writes them.
    fn party(&mut self) -> Result<(u8, Uuid), SnapshotError> {
        Ok((self.u8()?, self.uuid()?))
    }

    fn opt_string(&mut self) -> Result<Option<String>, SnapshotError> {
        Ok(if self.bool()? { Some(self.string()?) } else { None })
    }

    fn opt_uuid(&mut self) -> Result<Option<Uuid>, SnapshotError> {
        Ok(if self.bool()? { Some(self.uuid()?) } else { None })
    }

    fn time(&mut self) -> Result<OffsetDateTime, SnapshotError> {
        let bad = || damaged("an instant out of range");
        match self.u8()? {
            0 => OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.i64()?)).map_err(|_| bad()),
            1 => {
                let nanos = i128::from_le_bytes(self.array()?);
                let offset = i32::from_le_bytes(self.array()?);
                let offset = UtcOffset::from_whole_seconds(offset).map_err(|_| bad())?;
                Ok(OffsetDateTime::from_unix_timestamp_nanos(nanos).map_err(|_| bad())?.to_offset(offset))
            }
            _ => Err(damaged("an instant of unknown form")),
        }
    }

    fn attributes(&mut self) -> Result<serde_json::Map<String, serde_json::Value>, SnapshotError> {
        let text = self.string()?;
        if text.is_empty() {
            return Ok(serde_json::Map::new());
        }
        match serde_json::from_str(&text) {
            Ok(serde_json::Value::Object(m)) => Ok(m),
            _ => Err(damaged("attributes that are not a JSON object")),
        }
    }

    fn user(&mut self) -> Result<User, SnapshotError> {
        Ok(User {
            id: UserId(self.uuid()?),
            num: self.i64()?,
            username: self.string()?,
            email: self.opt_string()?,
            first_name: self.opt_string()?,
            last_name: self.opt_string()?,
            display_name: self.opt_string()?,
            active: self.bool()?,
            site_role: SiteRole::parse(&self.string()?).ok_or_else(|| damaged("an unknown site role"))?,
            primary_group: self.opt_uuid()?.map(GroupId),
            external_id: self.opt_string()?,
            role_label: self.opt_string()?,
            attributes: self.attributes()?,
            created_at: self.time()?,
            updated_at: self.time()?,
            version: self.i64()?,
            groups_changed_at: self.time()?,
            profile_changed_at: self.time()?,
        })
    }

    fn group(&mut self) -> Result<Group, SnapshotError> {
        Ok(Group {
            id: GroupId(self.uuid()?),
            num: self.i64()?,
            name: self.string()?,
            unique_id: self.opt_string()?,
            slug: self.opt_string()?,
            description: self.opt_string()?,
            org: OrgId(self.uuid()?),
            source_type: SourceType::parse(&self.string()?).ok_or_else(|| damaged("an unknown source type"))?,
            attributes: self.attributes()?,
            created_by: self.opt_uuid()?.map(UserId),
            updated_by: self.opt_uuid()?.map(UserId),
            created_at: self.time()?,
            updated_at: self.time()?,
            version: self.i64()?,
            counts: GroupCounts { members: self.i64()?, admins: self.i64()?, children: self.i64()? },
        })
    }

    fn membership(&mut self) -> Result<Membership, SnapshotError> {
        let id = MembershipId(self.uuid()?);
        let num = self.i64()?;
        let group = GroupId(self.uuid()?);
        let member = self.member()?;
        let role = match self.u8()? {
            0 => MemberRole::Member,
            1 => MemberRole::Admin,
            _ => return Err(damaged("an unknown member role")),
        };
        let permissions = match self.u8()? {
            0 => Permissions::default(),
            1 => Permissions::Disabled,
            2 => {
                let n = u32::from_le_bytes(self.array()?);
                let mut m = BTreeMap::new();
                for _ in 0..n {
                    let k = self.string()?;
                    m.insert(k, self.bool()?);
                }
                Permissions::Map(m)
            }
            _ => return Err(damaged("permissions of unknown form")),
        };
        let created_at = self.time()?;
        let updated_at = if self.bool()? { self.time()? } else { created_at };
        Ok(Membership { id, num, group, member, role, permissions, created_at, updated_at })
    }

    fn member(&mut self) -> Result<Member, SnapshotError> {
        match self.party()? {
            (USER_PARTY, id) => Ok(Member::User(UserId(id))),
            (GROUP_PARTY, id) => Ok(Member::Group(GroupId(id))),
            _ => Err(damaged("a member of unknown kind")),
        }
    }

    fn share(&mut self) -> Result<Share, SnapshotError> {
        Ok(Share {
            id: ShareId(self.uuid()?),
            num: self.i64()?,
            group: GroupId(self.uuid()?),
            grantee: match self.party()? {
                (USER_PARTY, id) => Grantee::User(UserId(id)),
                (GROUP_PARTY, id) => Grantee::Group(GroupId(id)),
                _ => return Err(damaged("a grantee of unknown kind")),
            },
            level: ShareLevel::parse(&self.string()?).ok_or_else(|| damaged("an unknown share level"))?,
            created_at: self.time()?,
        })
    }

    /// Hands every row to `put`, in the order written, then checks that the
    /// file ended where and as it should. A row already handed over before
    /// an error is the caller's to throw away.
    pub(crate) fn rows(mut self, mut put: impl FnMut(Row)) -> Result<u64, SnapshotError> {
        let mut rows = 0u64;
        loop {
            let row = match self.u8()? {
                END => break,
                USER => Row::User(self.user()?),
                GROUP => Row::Group(self.group()?),
                MEMBERSHIP => Row::Membership(self.membership()?),
                SHARE => Row::Share(self.share()?),
                PATCH => Row::Patch(self.mark()?),
                USER_GONE => Row::UserGone(UserId(self.uuid()?)),
                GROUP_GONE => Row::GroupGone(GroupId(self.uuid()?)),
                PAIR_GONE => Row::PairGone(GroupId(self.uuid()?), self.member()?),
                _ => return Err(damaged("a row of unknown kind")),
            };
            put(row);
            rows += 1;
        }
        if self.i64()? != rows as i64 {
            return Err(damaged("a row count that does not match its rows"));
        }
        self.fill(32)?;
        self.hash.update(&self.buf[self.hashed..self.pos]);
        let digest = self.hash.clone().finalize();
        let stored = self.take(32)?;
        if stored != digest.as_slice() {
            return Err(damaged("a checksum that does not match"));
        }
        // Nothing may follow.
        let mut rest = [0u8; 1];
        if self.pos != self.end || self.file.read(&mut rest)? != 0 {
            return Err(damaged("bytes after its end"));
        }
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(nanos: i128) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp_nanos(nanos).expect("instant")
    }

    /// Users, groups, memberships, shares, and what a patch says (its
    /// mark and its removals, spelled out).
    type Rows = (Vec<User>, Vec<Group>, Vec<Membership>, Vec<Share>, Vec<String>);

    fn mark() -> Mark {
        Mark {
            schema: 12,
            revision: 42,
            at: 1_700_000_000_123_456_789,
            action: "user.created".into(),
            target_id: "x".into(),
        }
    }

    /// Every odd value a row may hold: absent and present options, a
    /// non-UTC offset, an instant past `i64` nanoseconds, attributes,
    /// permissions of each form, an admin, a change time of its own.
    fn rows() -> Rows {
        let plain = User::new("plain".into(), at(1));
        let mut full = User::new("Full Name".into(), at(2));
        full.num = 7;
        full.email = Some("full@example.test".into());
        full.first_name = Some("Fülle".into());
        full.last_name = Some(String::new());
        full.display_name = Some("F".into());
        full.active = false;
        full.site_role = SiteRole::Admin;
        full.primary_group = Some(GroupId::new());
        full.external_id = Some("ext".into());
        full.role_label = Some("publisher".into());
        full.attributes.insert("posit".into(), serde_json::json!({ "locked": true, "n": [1, 2] }));
        full.created_at = at(3).to_offset(UtcOffset::from_hms(5, 30, 0).expect("offset"));
        full.updated_at = OffsetDateTime::new_utc(
            time::Date::from_calendar_date(9999, time::Month::December, 31).expect("date"),
            time::Time::MIDNIGHT,
        );
        full.version = 9;
        full.groups_changed_at = at(-5);
        full.profile_changed_at = at(i128::from(i64::MAX) + 1);
        let g = Group {
            id: GroupId::new(),
            num: 3,
            name: "G".into(),
            unique_id: Some("u".into()),
            slug: None,
            description: Some("d".into()),
            org: OrgId::new(),
            source_type: SourceType::Scim,
            attributes: serde_json::Map::new(),
            created_by: Some(full.id),
            updated_by: None,
            created_at: at(10),
            updated_at: at(11),
            version: 2,
            counts: GroupCounts { members: 5, admins: 1, children: 2 },
        };
        let mut h = g.clone();
        h.id = GroupId::new();
        h.attributes.insert("box".into(), serde_json::json!("x"));
        h.source_type = SourceType::Import;
        let m = |member: Member, role: MemberRole, permissions: Permissions, updated: i128| Membership {
            id: MembershipId::new(),
            num: 100,
            group: g.id,
            member,
            role,
            permissions,
            created_at: at(20),
            updated_at: at(updated),
        };
        let memberships = vec![
            m(Member::User(plain.id), MemberRole::Member, Permissions::default(), 20),
            m(Member::User(full.id), MemberRole::Admin, Permissions::Disabled, 21),
            m(
                Member::Group(h.id),
                MemberRole::Admin,
                Permissions::Map([("add_members".to_string(), false), ("x".to_string(), true)].into()),
                20,
            ),
        ];
        let shares = vec![
            Share {
                id: ShareId::new(),
                num: 1,
                group: g.id,
                grantee: Grantee::User(full.id),
                level: ShareLevel::Manage,
                created_at: at(30),
            },
            Share {
                id: ShareId::new(),
                num: 2,
                group: h.id,
                grantee: Grantee::Group(g.id),
                level: ShareLevel::Read,
                created_at: at(31),
            },
        ];
        (vec![plain, full], vec![g, h], memberships, shares, Vec::new())
    }

    /// The rows, then a patch (a later mark, removals of each kind, a user
    /// again), then the shares; the patch and the shares as one batch.
    fn write(path: &Path) -> Rows {
        let mut all = rows();
        let mut w = Writer::create(path, &mark()).expect("create");
        all.0.iter().try_for_each(|u| w.user(u)).expect("users");
        all.1.iter().try_for_each(|g| w.group(g)).expect("groups");
        all.2.iter().try_for_each(|m| w.membership(m)).expect("memberships");
        let mut batch = Batch::default();
        let later = Mark { revision: 50, action: "membership.created".into(), ..mark() };
        batch.patch(&later);
        let (gone_user, gone_group, full) = (all.0[0].id, all.1[1].id, all.0[1].clone());
        batch.user_gone(gone_user);
        batch.group_gone(gone_group);
        batch.pair_gone(all.1[0].id, Member::User(full.id));
        batch.pair_gone(all.1[0].id, Member::Group(gone_group));
        batch.user(&full);
        all.3.iter().for_each(|s| batch.share(s));
        w.append(&mut batch).expect("batch");
        assert_eq!(batch.bytes(), 0, "a batch appended is emptied");
        w.finish().expect("finish");
        all.0.push(full.clone());
        all.4 = vec![
            format!("{later:?}"),
            format!("{gone_user:?}"),
            format!("{gone_group:?}"),
            format!("{:?}", (all.1[0].id, Member::User(full.id))),
            format!("{:?}", (all.1[0].id, Member::Group(gone_group))),
        ];
        all
    }

    fn read(path: &Path) -> Result<Rows, SnapshotError> {
        let r = Reader::open(path)?.expect("a file");
        assert_eq!(r.mark, mark());
        let mut out = (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        r.rows(|row| match row {
            Row::User(u) => out.0.push(u),
            Row::Group(g) => out.1.push(g),
            Row::Membership(m) => out.2.push(m),
            Row::Share(s) => out.3.push(s),
            Row::Patch(mark) => out.4.push(format!("{mark:?}")),
            Row::UserGone(id) => out.4.push(format!("{id:?}")),
            Row::GroupGone(id) => out.4.push(format!("{id:?}")),
            Row::PairGone(group, member) => out.4.push(format!("{:?}", (group, member))),
        })?;
        Ok(out)
    }

    #[test]
    fn rows_come_back_exactly() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("index");
        let written = write(&path);
        let back = read(&path).expect("read");
        assert_eq!(back, written);
        // The offset and the instant past i64 nanoseconds, field by field.
        assert_eq!(back.0[1].created_at.offset(), written.0[1].created_at.offset());
        assert!(!dir.path().join("index.partial").exists(), "the partial file was put in place");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("metadata").permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "it holds what the database holds: its owner's only");
        }
        // A partial file left by a write that died is replaced.
        std::fs::write(dir.path().join("index.partial"), b"left over").expect("leftover");
        let again = write(&path);
        assert_eq!(read(&path).expect("read again"), again);
    }

    #[test]
    fn no_file_is_no_snapshot() {
        let dir = tempfile::tempdir().expect("dir");
        assert!(Reader::open(&dir.path().join("none")).expect("open").is_none());
    }

    #[test]
    fn damage_anywhere_is_found() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("index");
        write(&path);
        let whole = std::fs::read(&path).expect("bytes");
        // Every byte flipped in turn: refused, or (in the header) another
        // mark or build that the caller then refuses; never other rows.
        for i in 0..whole.len() {
            let mut bytes = whole.clone();
            bytes[i] ^= 0x20;
            std::fs::write(&path, &bytes).expect("write");
            match Reader::open(&path) {
                Err(_) => {}
                Ok(None) => panic!("a file"),
                Ok(Some(r)) => {
                    let header_changed = r.mark != mark();
                    let rows = r.rows(|_| {});
                    assert!(header_changed || rows.is_err(), "byte {i} flipped, not noticed");
                }
            }
        }
        // Cut short anywhere, or with something after its end.
        for len in [0, 5, whole.len() / 2, whole.len() - 1] {
            std::fs::write(&path, &whole[..len]).expect("write");
            let outcome = Reader::open(&path).and_then(|r| r.expect("a file").rows(|_| {}));
            assert!(outcome.is_err(), "cut at {len}");
        }
        let mut longer = whole.clone();
        longer.push(0);
        std::fs::write(&path, &longer).expect("write");
        assert!(matches!(read(&path), Err(SnapshotError::Damaged(_))));
    }

    #[test]
    fn another_build_is_refused() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("index");
        write(&path);
        let mut bytes = std::fs::read(&path).expect("bytes");
        bytes[8..12].copy_from_slice(&(FORMAT + 1).to_le_bytes());
        std::fs::write(&path, &bytes).expect("write");
        assert!(matches!(Reader::open(&path), Err(SnapshotError::OtherBuild(_))));
    }

    #[test]
    fn rows_larger_than_a_chunk_are_read() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("index");
        let mut u = User::new("big".into(), at(1));
        u.attributes.insert("blob".into(), serde_json::Value::String("x".repeat(3 * CHUNK)));
        let mut w = Writer::create(&path, &mark()).expect("create");
        for _ in 0..3 {
            w.user(&u).expect("user");
        }
        w.finish().expect("finish");
        let back = read(&path).expect("read");
        assert_eq!(back.0, vec![u.clone(), u.clone(), u]);
    }
}
