//! How Civis answers are written beyond `map::Render`: bare-array pages with
//! Civis's `x-pagination-*` headers, and a group or its share index loaded
//! and rendered. No request parsing, no write.

use axum::Json;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use roster_core::{GroupId, Principal};

use super::error::CivisResult;
use super::map::Render;
use super::wire;
use crate::http::AppState;

/// Bare-array pages carry Civis's pagination headers.
pub(super) fn paged<T: serde::Serialize>(items: Vec<T>, total: i64, limit: i64, page_num: i64) -> Response {
    let mut res = Json(items).into_response();
    let pages = if total == 0 { 0 } else { (total + limit - 1) / limit };
    let h = res.headers_mut();
    for (name, value) in [
        ("x-pagination-current-page", page_num),
        ("x-pagination-per-page", limit),
        ("x-pagination-total-entries", total),
        ("x-pagination-total-pages", pages),
    ] {
        h.insert(name, HeaderValue::from(value));
    }
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(
            "X-Pagination-Current-Page, X-Pagination-Per-Page, X-Pagination-Total-Entries, X-Pagination-Total-Pages",
        ),
    );
    res
}

pub(super) async fn render_group(s: &AppState, p: &Principal, id: GroupId) -> CivisResult<Json<wire::Group>> {
    let g = s.directory.get_group(p, id).await?;
    Ok(Json(Render::new(&s.directory, p).group(g).await?))
}

pub(super) async fn share_index(s: &AppState, p: &Principal, id: GroupId) -> CivisResult<wire::ShareIndex> {
    let dir = &s.directory;
    let shares =
        roster_core::collect_all(roster_core::list::SHARES, |req| async move { dir.list_shares(p, id, &req).await })
            .await?;
    Render::new(&s.directory, p).share_index(shares).await
}
