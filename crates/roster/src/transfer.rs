//! `roster import` and `roster export`: the whole directory as NDJSON (or
//! CSV for users, groups and memberships), streamed, through the server's
//! bulk endpoint in batches that apply all or nothing.
//!
//! Records are keyed by what people know (usernames, group names), so an
//! import can be run again and changes nothing the second time, and an
//! export of one server imports into another as the same directory.

use std::io::{BufRead, BufReader, IsTerminal, Write};
use std::path::{Path, PathBuf};

use futures_util::TryStreamExt;
use roster_client::{Client, Error, ImportResult, Role};
use roster_core::{CoreError, Directory, Load, LoadFailure, LoadSummary};
use serde_json::{Map, Value, json};

#[derive(clap::Args)]
pub struct ImportArgs {
    /// The file to read (`-` for standard input).
    file: PathBuf,
    /// `ndjson` (every record type) or `csv` (users, groups or memberships,
    /// told apart by the header); guessed from the file name.
    #[arg(long, value_parser = ["ndjson", "csv"])]
    format: Option<String>,
    /// Records per transaction.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=5000))]
    batch: u32,
}

#[derive(clap::Args)]
pub struct LoadArgs {
    /// The files to read, in order, as one load (`-` for standard input):
    /// what `import` reads, for example users, groups, memberships and
    /// nesting as four CSV files.
    #[arg(required = true, num_args = 1..)]
    files: Vec<PathBuf>,
    /// `ndjson` or `csv`; guessed from the file name.
    #[arg(long, value_parser = ["ndjson", "csv"])]
    format: Option<String>,
    /// Database URL: `sqlite://FILE` (created if missing) or `postgres://…`.
    #[arg(long, env = "ROSTER_DATABASE_URL", default_value = "sqlite://roster.db", hide_env_values = true)]
    pub database: String,
}

#[derive(clap::Args)]
pub struct ExportArgs {
    /// Write here instead of standard output.
    #[arg(long = "to", short = 'f')]
    file: Option<PathBuf>,
    /// `ndjson` (everything, one record per line) or `csv` (one kind, see `--kind`).
    #[arg(long, default_value = "ndjson", value_parser = ["ndjson", "csv"])]
    format: String,
    /// With `--format csv`: which records (`import` reads each file back).
    #[arg(long, value_parser = ["users", "groups", "memberships", "children"], required_if_eq("format", "csv"))]
    kind: Option<String>,
}

/// The CSV columns of each kind, in the order `import` reads them.
fn csv_columns(kind: &str) -> &'static [&'static str] {
    match kind {
        "users" => {
            &["username", "email", "first_name", "last_name", "display_name", "external_id", "active", "site_role"]
        }
        "groups" => &["name", "description", "unique_id"],
        "memberships" => &["group", "user", "role"],
        _ => &["parent", "child"],
    }
}

/// The record types each CSV kind holds.
fn csv_type(kind: &str) -> &'static str {
    match kind {
        "users" => "user",
        "groups" => "group",
        "memberships" => "member",
        _ => "child",
    }
}

/// Why a transfer stopped, with the line at fault when there is one.
pub struct Failure {
    pub line: Option<usize>,
    pub message: String,
    pub code: i32,
}

impl Failure {
    /// Says what went wrong on standard error; returns the exit code.
    pub fn report(self) -> i32 {
        match self.line {
            Some(line) => eprintln!("error: line {line}: {}", self.message),
            None => eprintln!("error: {}", self.message),
        }
        self.code
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        let code = match e.status() {
            Some(404) => 3,
            Some(401 | 403) => 4,
            Some(s) if (400..500).contains(&s) => 5,
            _ => 6,
        };
        let message = match e.field() {
            Some(f) => format!("{e} (field: {f})"),
            None => e.to_string(),
        };
        Failure { line: None, message, code }
    }
}

fn local(line: Option<usize>, message: impl Into<String>) -> Failure {
    Failure { line, message: message.into(), code: 5 }
}

/// Turns one CSV row into an import record, by the columns it has.
fn csv_record(headers: &csv::StringRecord, row: &csv::StringRecord) -> Result<Value, String> {
    let mut m = Map::new();
    for (h, v) in headers.iter().zip(row.iter()) {
        if !v.is_empty() {
            m.insert(h.trim().to_owned(), Value::String(v.to_owned()));
        }
    }
    let has = |k: &str| headers.iter().any(|h| h.trim() == k);
    let kind = if has("parent") && has("child") {
        "child"
    } else if has("group") && has("user") {
        "member"
    } else if has("username") {
        "user"
    } else if has("name") {
        "group"
    } else {
        return Err("the CSV header names no known columns (username, name, group+user, parent+child)".into());
    };
    if let Some(Value::String(a)) = m.get("active").cloned() {
        m.insert("active".into(), Value::Bool(a.eq_ignore_ascii_case("true") || a == "1"));
    }
    m.insert("type".into(), Value::String(kind.into()));
    Ok(Value::Object(m))
}

/// Shows progress: a bar on a terminal, plain lines otherwise.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    total: ImportResult,
    lines: usize,
}

impl Progress {
    fn new() -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new_spinner();
            bar.set_style(
                indicatif::ProgressStyle::with_template("{spinner} {pos} records {msg} ({per_sec})")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
            );
            bar
        });
        Self { bar, total: ImportResult::default(), lines: 0 }
    }

    fn add(&mut self, batch: ImportResult, records: usize, last_line: usize) {
        self.total.created += batch.created;
        self.total.updated += batch.updated;
        self.total.unchanged += batch.unchanged;
        self.lines = last_line;
        let msg = format!(
            "created {}, updated {}, unchanged {}",
            self.total.created, self.total.updated, self.total.unchanged
        );
        match &self.bar {
            Some(bar) => {
                bar.inc(records as u64);
                bar.set_message(msg);
            }
            None => eprintln!("imported through line {last_line}: {msg}"),
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish();
        }
    }
}

async fn send(client: &Client, batch: &mut Vec<(usize, Value)>, progress: &mut Progress) -> Result<(), Failure> {
    if batch.is_empty() {
        return Ok(());
    }
    let records: Vec<Value> = batch.iter().map(|(_, r)| r.clone()).collect();
    match client.import(&records).await {
        Ok(result) => {
            let last = batch.last().map_or(0, |(l, _)| *l);
            progress.add(result, batch.len(), last);
            batch.clear();
            Ok(())
        }
        Err(e) => {
            // The server names the record as `records[i]...`: find its line.
            let index = e
                .field()
                .and_then(|f| f.strip_prefix("records["))
                .and_then(|f| f.split(']').next())
                .and_then(|i| i.parse::<usize>().ok());
            let mut failure = Failure::from(e);
            failure.line = index.and_then(|i| batch.get(i)).map(|(l, _)| *l);
            Err(failure)
        }
    }
}

fn open(path: &Path) -> Result<Box<dyn BufRead>, Failure> {
    if path == Path::new("-") {
        return Ok(Box::new(BufReader::new(std::io::stdin())));
    }
    let f = std::fs::File::open(path).map_err(|e| Failure {
        line: None,
        message: format!("{}: {e}", path.display()),
        code: 2,
    })?;
    Ok(Box::new(BufReader::new(f)))
}

/// The records of an import file, each with its line, read as they are
/// asked for.
type Records = Box<dyn Iterator<Item = Result<(usize, Value), Failure>>>;

/// Opens `file` as NDJSON or CSV (`format`, else guessed from the name).
fn records(file: &Path, format: Option<&str>) -> Result<Records, Failure> {
    let csv = match format {
        Some(f) => f == "csv",
        None => file.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv")),
    };
    let reader = open(file)?;
    if csv {
        let mut rows = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(reader);
        let headers = rows.headers().map_err(|e| local(Some(1), e.to_string()))?.clone();
        return Ok(Box::new(rows.into_records().enumerate().map(move |(i, row)| {
            let line = i + 2;
            let row = row.map_err(|e| local(Some(line), e.to_string()))?;
            let record = csv_record(&headers, &row).map_err(|m| local(Some(line), m))?;
            Ok((line, record))
        })));
    }
    Ok(Box::new(reader.lines().enumerate().filter_map(|(i, text)| {
        let line = i + 1;
        let parsed = (|| {
            let text = text.map_err(|e| local(Some(line), e.to_string()))?;
            if text.trim().is_empty() {
                return Ok(None);
            }
            let record: Value = serde_json::from_str(&text).map_err(|e| local(Some(line), format!("not JSON: {e}")))?;
            if !record.is_object() {
                return Err(local(Some(line), "a record must be a JSON object"));
            }
            Ok(Some((line, record)))
        })();
        parsed.transpose()
    })))
}

/// Reads the file record by record and applies it batch by batch. A bad
/// line stops the import; every earlier batch stays applied, nothing of
/// the batch it was in is.
pub async fn import(client: &Client, args: &ImportArgs) -> Result<ImportResult, Failure> {
    let mut progress = Progress::new();
    let mut batch: Vec<(usize, Value)> = Vec::with_capacity(args.batch as usize);
    for record in records(&args.file, args.format.as_deref())? {
        batch.push(record?);
        if batch.len() == args.batch as usize {
            send(client, &mut batch, &mut progress).await?;
        }
    }
    send(client, &mut batch, &mut progress).await?;
    progress.finish();
    Ok(progress.total)
}

/// A load's failure, by what it means to the operator: a record at fault
/// (5), the directory not fit for a load (5), the database (6).
impl From<LoadFailure> for Failure {
    fn from(f: LoadFailure) -> Self {
        let code = match &f.error {
            CoreError::Invalid { .. } | CoreError::Conflict { .. } | CoreError::NotFound { .. } => 5,
            _ => 6,
        };
        let message = match f.error.field() {
            Some(field) => format!("{} (field: {field})", f.error),
            None => f.error.to_string(),
        };
        Failure { line: f.line, message, code }
    }
}

/// Reads every file into a bulk load (every record checked as it is
/// read), then writes it in one transaction: all of it, or nothing.
pub async fn load(directory: &Directory, args: &LoadArgs) -> Result<LoadSummary, Failure> {
    let started = std::time::Instant::now();
    let mut load = directory.begin_load().await?;
    // Lines are numbered across the files, one after another (`bases[k]`:
    // the lines before file k), and told apart again for a failure.
    let mut bases = Vec::with_capacity(args.files.len());
    let locate = |f: Failure, bases: &[usize]| locate(f, bases, &args.files);
    let n = read_into(&mut load, args, &mut bases, started).map_err(|f| locate(f, &bases))?;
    eprintln!("read {n} records ({:.1} s); writing them in one transaction", started.elapsed().as_secs_f64());
    directory.finish_load(load).await.map_err(|f| locate(f.into(), &bases))
}

/// Pushes every record of every file into `load`, numbering lines across
/// the files (`bases`, as each file begins). Returns how many it read.
fn read_into(
    load: &mut Load,
    args: &LoadArgs,
    bases: &mut Vec<usize>,
    started: std::time::Instant,
) -> Result<u64, Failure> {
    let mut base = 0;
    let mut n = 0u64;
    for file in &args.files {
        bases.push(base);
        let across = |f: Failure| Failure { line: f.line.map(|l| base + l), ..f };
        let mut last = 0;
        for record in records(file, args.format.as_deref()).map_err(across)? {
            let (line, value) = record.map_err(across)?;
            last = line;
            let record = roster_server::native::parse_record(value).map_err(|m| across(local(Some(line), m)))?;
            load.push(base + line, record)?;
            n += 1;
            if n.is_multiple_of(1_000_000) {
                eprintln!("read {n} records ({:.1} s)", started.elapsed().as_secs_f64());
            }
        }
        base += last;
    }
    Ok(n)
}

/// A failure's line numbered across `files`, back to its file and line
/// there; the file is named when there are several.
fn locate(f: Failure, bases: &[usize], files: &[PathBuf]) -> Failure {
    let Some(at) = f.line else { return f };
    let Some(k) = bases.iter().rposition(|&b| b < at) else { return f };
    let message = if files.len() > 1 { format!("{}: {}", files[k].display(), f.message) } else { f.message };
    Failure { line: Some(at - bases[k]), message, ..f }
}

/// Where exported records go: NDJSON lines, or CSV rows of one kind.
enum Sink {
    Ndjson(Box<dyn Write>),
    Csv { writer: Box<csv::Writer<Box<dyn Write>>>, kind: String },
}

impl Sink {
    fn open(args: &ExportArgs) -> Result<Self, Failure> {
        let out: Box<dyn Write> = match &args.file {
            Some(path) => Box::new(std::io::BufWriter::new(std::fs::File::create(path).map_err(|e| Failure {
                line: None,
                message: format!("{}: {e}", path.display()),
                code: 2,
            })?)),
            None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
        };
        match (args.format.as_str(), &args.kind) {
            ("csv", Some(kind)) => {
                let mut writer = csv::Writer::from_writer(out);
                writer.write_record(csv_columns(kind)).map_err(io_failure)?;
                Ok(Sink::Csv { writer: Box::new(writer), kind: kind.clone() })
            }
            ("csv", None) => Err(local(None, "--format csv needs --kind users|groups|memberships|children")),
            _ => Ok(Sink::Ndjson(out)),
        }
    }

    /// Whether records of this import `type` are written at all.
    fn wants(&self, kind: &str) -> bool {
        match self {
            Sink::Ndjson(_) => true,
            Sink::Csv { kind: k, .. } => csv_type(k) == kind,
        }
    }

    fn write(&mut self, record: &Value) -> Result<(), Failure> {
        match self {
            Sink::Ndjson(out) => writeln!(out, "{record}").map_err(io_failure),
            Sink::Csv { writer, kind } => {
                let row = csv_columns(kind).iter().map(|c| match &record[*c] {
                    Value::Null => String::new(),
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                });
                writer.write_record(row).map_err(io_failure)
            }
        }
    }

    fn finish(self) -> Result<(), Failure> {
        match self {
            Sink::Ndjson(mut out) => out.flush().map_err(io_failure),
            Sink::Csv { mut writer, .. } => writer.flush().map_err(io_failure),
        }
    }
}

fn io_failure(e: impl std::fmt::Display) -> Failure {
    Failure { line: None, message: e.to_string(), code: 6 }
}

/// Writes users, then groups, then nesting, then memberships, as records
/// that `import` reads back (NDJSON: all of them; CSV: one kind).
pub async fn export(client: &Client, args: &ExportArgs) -> Result<u64, Failure> {
    let mut sink = Sink::open(args)?;
    let mut n = 0u64;
    let mut write = |sink: &mut Sink, v: Value| -> Result<(), Failure> {
        n += 1;
        sink.write(&v)
    };
    if sink.wants("user") {
        let mut users = std::pin::pin!(client.users(None));
        while let Some(u) = users.try_next().await? {
            let mut record =
                json!({ "type": "user", "username": u.username, "active": u.active, "site_role": u.site_role });
            for (k, v) in [
                ("email", &u.email),
                ("first_name", &u.first_name),
                ("last_name", &u.last_name),
                ("display_name", &u.display_name),
                ("external_id", &u.external_id),
            ] {
                if let Some(v) = v {
                    record[k] = Value::String(v.clone());
                }
            }
            write(&mut sink, record)?;
        }
    }
    let needs_groups = sink.wants("group") || sink.wants("child") || sink.wants("member");
    let groups: Vec<_> = if needs_groups { client.groups(None).try_collect().await? } else { Vec::new() };
    if sink.wants("group") {
        for g in &groups {
            let mut record = json!({ "type": "group", "name": g.name });
            if let Some(d) = &g.description {
                record["description"] = Value::String(d.clone());
            }
            if let Some(u) = &g.unique_id {
                record["unique_id"] = Value::String(u.clone());
            }
            write(&mut sink, record)?;
        }
    }
    if sink.wants("child") {
        for g in &groups {
            let mut children = std::pin::pin!(client.children(g.id));
            while let Some(edge) = children.try_next().await? {
                write(&mut sink, json!({ "type": "child", "parent": g.name, "child": edge.group.name }))?;
            }
        }
    }
    if sink.wants("member") {
        for g in &groups {
            let mut members = std::pin::pin!(client.members(g.id));
            while let Some(m) = members.try_next().await? {
                let role = if m.membership.role == Role::Admin { "admin" } else { "member" };
                write(&mut sink, json!({ "type": "member", "group": g.name, "user": m.user.username, "role": role }))?;
            }
        }
    }
    sink.finish()?;
    Ok(n)
}
