//! Roster's integration tests: each starts a real server on a free
//! loopback port and talks HTTP to it.

mod api;
mod authz;
mod bad_input;
mod durability;
mod harness;
mod pagination;
