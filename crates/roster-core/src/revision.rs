//! Consistency tokens, carried beside a request rather than through every
//! use-case's signature. A front-end runs each request inside [`scope`],
//! giving the minimum revision the client asked for (or the reason its
//! header was unreadable); the directory waits for that revision before
//! the request's first use-case reads, and records the revision each write
//! committed at, which the front-end answers as a header. Zanzibar calls
//! these zookies, SpiceDB ZedTokens.

use std::cell::Cell;
use std::future::Future;

/// What the client asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Wanted {
    /// No token: read at this server's revision (its own writes included).
    Any,
    /// Answer only from a revision at least this.
    AtLeast(i64),
    /// The header was there but not a revision.
    Unreadable(String),
}

struct Slots {
    wanted: Cell<Option<Wanted>>,
    written: Cell<Option<i64>>,
}

tokio::task_local! {
    static SLOTS: Slots;
}

/// Runs `request` with `wanted` as its minimum revision; returns its output
/// and the highest revision a write of it committed at (none if it wrote
/// nothing).
pub async fn scope<F: Future>(wanted: Wanted, request: F) -> (F::Output, Option<i64>) {
    let slots = Slots { wanted: Cell::new(Some(wanted)), written: Cell::new(None) };
    SLOTS
        .scope(slots, async move {
            let out = request.await;
            let written = SLOTS.with(|s| s.written.get());
            (out, written)
        })
        .await
}

/// The minimum revision still to wait for: taken once per request (the
/// first use-case waits; later ones of the same request need not).
pub(crate) fn take_wanted() -> Wanted {
    SLOTS.try_with(|s| s.wanted.take()).ok().flatten().unwrap_or(Wanted::Any)
}

/// Records that a write of this request committed at `revision`.
pub(crate) fn record_written(revision: i64) {
    let _ = SLOTS.try_with(|s| s.written.set(Some(s.written.get().map_or(revision, |r| r.max(revision)))));
}
