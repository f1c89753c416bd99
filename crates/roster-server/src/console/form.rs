//! Forms as browsers send them (`application/x-www-form-urlencoded`), read
//! leniently: unknown fields are ignored and a missing one reads as empty,
//! so a hand-made request can never make a page fail to parse; the core
//! says what is wrong with the values.

use roster_core::CoreError;

/// The fields of one submitted form, in order.
#[derive(Clone, Debug, Default)]
pub(crate) struct FormData(Vec<(String, String)>);

impl FormData {
    pub(crate) fn parse(body: &[u8]) -> Self {
        Self(form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
    }

    /// The field's value, trimmed; empty when absent.
    pub(crate) fn text(&self, name: &str) -> &str {
        self.0.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.trim())
    }

    /// The field's value as it was sent (a password, a key), untrimmed.
    pub(crate) fn raw(&self, name: &str) -> &str {
        self.0.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.as_str())
    }

    /// The value, or `None` when blank.
    pub(crate) fn optional(&self, name: &str) -> Option<String> {
        Some(self.text(name)).filter(|v| !v.is_empty()).map(str::to_owned)
    }

    /// A value that must be given: a blank one is the core's `Invalid`.
    pub(crate) fn required(&self, name: &str) -> Result<&str, CoreError> {
        match self.text(name) {
            "" => Err(CoreError::invalid(name, "is required")),
            v => Ok(v),
        }
    }
}

/// What a form says when no user has the username it names.
pub(crate) const NO_USER: &str = "no user has this username";
/// What a form says when no group the person may see has the name it names.
pub(crate) const NO_GROUP: &str = "no group you can see has this name";

/// A lookup by name's `NotFound` as the error of the form's `field` (the
/// name typed there matches nothing); any other error as it is.
pub(crate) fn named(e: CoreError, field: &'static str, reason: &'static str) -> CoreError {
    match e {
        CoreError::NotFound { .. } => CoreError::invalid(field, reason),
        other => other,
    }
}

/// A failed form: which form, the field the server named (when the form
/// has it) and the message, shown next to that field or atop the form.
#[derive(Clone, Debug, Default)]
pub(crate) struct Failure {
    pub form: &'static str,
    /// The status the API would answer this error with.
    pub status: u16,
    pub field: String,
    pub message: String,
    pub values: FormData,
}

impl Failure {
    /// The core's error for `form`, whose fields are `fields`: a named field
    /// the form does not have is shown atop the form. Only errors about the
    /// request (`Invalid`, `Conflict`, `Stale`, `Forbidden`, `NotFound` of a
    /// referenced record) become a failure; the rest stay errors.
    pub(crate) fn of(form: &'static str, fields: &[&str], values: FormData, e: CoreError) -> Result<Self, CoreError> {
        match &e {
            CoreError::Invalid { .. }
            | CoreError::Conflict { .. }
            | CoreError::Stale { .. }
            | CoreError::Forbidden { .. }
            | CoreError::NotFound { .. } => {
                let field = e.field().filter(|f| fields.contains(f)).unwrap_or("").to_owned();
                let message = match &e {
                    CoreError::Invalid { reason, .. } => reason.clone(),
                    other => other.to_string(),
                };
                let status = match &e {
                    CoreError::Forbidden { .. } => 403,
                    CoreError::NotFound { .. } => 404,
                    CoreError::Conflict { .. } | CoreError::Stale { .. } => 409,
                    _ => 400,
                };
                Ok(Self { form, status, field, message, values })
            }
            CoreError::Busy | CoreError::Unauthenticated | CoreError::RateLimited { .. } | CoreError::Internal(_) => {
                Err(e)
            }
        }
    }
}

/// The failure a page shows, if any, looked up by form and field.
#[derive(Clone, Debug, Default)]
pub(crate) struct Failed(pub Option<Failure>);

impl Failed {
    /// The message for `field` of `form` (`""`: the form's own, atop it).
    pub(crate) fn at(&self, form: &str, field: &str) -> Option<&str> {
        self.0.as_ref().filter(|f| f.form == form && f.field == field).map(|f| f.message.as_str())
    }

    /// Whether `field` of `form` failed (for `aria-invalid`).
    pub(crate) fn bad(&self, form: &str, field: &str) -> bool {
        self.at(form, field).is_some()
    }

    /// What was typed into `field` of `form`, to show it again.
    pub(crate) fn value(&self, form: &str, field: &str) -> &str {
        self.0.as_ref().filter(|f| f.form == form).map_or("", |f| f.values.text(field))
    }

    /// What was typed into `field` of `form` when that form failed, else
    /// `current` (an edit form shows the record's value).
    pub(crate) fn value_or<'a>(&'a self, form: &str, field: &str, current: &'a str) -> &'a str {
        match &self.0 {
            Some(f) if f.form == form => f.values.text(field),
            _ => current,
        }
    }

    /// The status of a page showing this failure: the failure's, else `ok`.
    pub(crate) fn status_or(&self, ok: axum::http::StatusCode) -> axum::http::StatusCode {
        self.0.as_ref().and_then(|f| axum::http::StatusCode::from_u16(f.status).ok()).unwrap_or(ok)
    }

    pub(crate) fn any(&self) -> bool {
        self.0.is_some()
    }
}
