//! API tokens and roles. A request names its token in `Authorization: Bearer TOKEN`; the token's role
//! must reach the route's. Tokens are compared in constant time and never logged. With no tokens
//! configured the service is open (every caller counts as `admin`), which `serve` allows only on a
//! loopback address.

use std::fmt;
use std::str::FromStr;

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
use subtle::ConstantTimeEq;

use super::error::ApiError;
use super::state::AppState;

/// What a caller may see, lowest first: each role from `field` up includes the ones before it.
/// `ingest` is apart: it may only send events (`POST /v1/events`), and read nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Data feeds: may send events, nothing else.
    Ingest,
    /// Field apps: eligibility, screening, zones, rules.
    Field,
    /// Program planners: aggregates.
    Planner,
    /// Analysts: event-level data.
    Analyst,
    /// Administrators: everything, including ingest.
    Admin,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Ingest => "ingest",
            Self::Field => "field",
            Self::Planner => "planner",
            Self::Analyst => "analyst",
            Self::Admin => "admin",
        })
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "ingest" => Ok(Self::Ingest),
            "field" => Ok(Self::Field),
            "planner" => Ok(Self::Planner),
            "analyst" => Ok(Self::Analyst),
            "admin" => Ok(Self::Admin),
            other => Err(format!("unknown role {other:?}: use ingest, field, planner, analyst or admin")),
        }
    }
}

/// One configured token.
#[derive(Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenEntry {
    /// Who holds it (for logs and metrics; never the token itself).
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// The secret.
    pub token: String,
}

impl fmt::Debug for TokenEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenEntry").field("name", &self.name).field("role", &self.role).finish_non_exhaustive()
    }
}

/// The configured tokens; empty means open access.
#[derive(Clone, Debug, Default)]
pub struct Tokens(Vec<TokenEntry>);

/// The smallest token leadmap accepts, in bytes.
const MIN_TOKEN_LEN: usize = 16;

impl Tokens {
    /// Checks and keeps the entries: tokens of at least 16 characters, each used once.
    pub fn new(entries: Vec<TokenEntry>) -> Result<Self, String> {
        for (i, e) in entries.iter().enumerate() {
            if e.token.len() < MIN_TOKEN_LEN {
                return Err(format!(
                    "token {:?} is shorter than {MIN_TOKEN_LEN} characters; use a long random one",
                    e.name
                ));
            }
            if entries[..i].iter().any(|o| bool::from(o.token.as_bytes().ct_eq(e.token.as_bytes()))) {
                return Err(format!("token {:?} repeats another entry's token", e.name));
            }
        }
        Ok(Self(entries))
    }

    /// Parses `LEADMAP_TOKENS`-style text: `name:role:token` entries separated by commas or newlines.
    pub fn parse_env(text: &str) -> Result<Self, String> {
        let mut entries = Vec::new();
        for item in text.split([',', '\n']).map(str::trim).filter(|s| !s.is_empty()) {
            let mut parts = item.splitn(3, ':');
            let (Some(name), Some(role), Some(token)) = (parts.next(), parts.next(), parts.next()) else {
                return Err("LEADMAP_TOKENS entries are name:role:token, separated by commas".to_owned());
            };
            entries.push(TokenEntry { name: name.to_owned(), role: role.parse()?, token: token.to_owned() });
        }
        Self::new(entries)
    }

    /// Parses a tokens file: a JSON array of `{"name", "role", "token"}`.
    pub fn parse_file(text: &str, origin: &str) -> Result<Self, String> {
        let entries: Vec<TokenEntry> = serde_json::from_str(text)
            .map_err(|e| format!("{origin}: line {}, column {}: {e}", e.line(), e.column()))?;
        Self::new(entries).map_err(|e| format!("{origin}: {e}"))
    }

    /// No tokens: the service is open.
    #[must_use]
    pub fn is_open(&self) -> bool {
        self.0.is_empty()
    }

    /// How many tokens there are.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the list is empty (same as [`Tokens::is_open`]).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The role of a presented token. Every entry is compared, in constant time, whatever matches.
    #[must_use]
    pub fn role_of(&self, presented: &[u8]) -> Option<Role> {
        self.entry_of(presented).map(|e| e.role)
    }

    /// The entry of a presented token, compared like [`Tokens::role_of`].
    fn entry_of(&self, presented: &[u8]) -> Option<&TokenEntry> {
        let mut found = None;
        for e in &self.0 {
            if bool::from(e.token.as_bytes().ct_eq(presented)) {
                found = Some(e);
            }
        }
        found
    }
}

/// Who made a request: the name of its token (empty on an open service). Handlers keep per-client state,
/// such as idempotency keys, under it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Caller(pub String);

/// The role of the request's token (absent on an open service, where every caller counts as `admin`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallerRole(pub Role);

/// Who may call a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// This role or any above it (never `ingest`, the lowest).
    AtLeast(Role),
    /// Event ingest: an `ingest` token or `admin`.
    Ingest,
}

impl Access {
    fn allows(self, role: Role) -> bool {
        match self {
            Self::AtLeast(min) => role >= min,
            Self::Ingest => matches!(role, Role::Ingest | Role::Admin),
        }
    }

    fn needs(self) -> String {
        match self {
            Self::AtLeast(min) => format!("the {min} role or above"),
            Self::Ingest => "an ingest or admin token".to_owned(),
        }
    }
}

/// Middleware: the caller's token must be allowed by `access` (nothing is checked when the service is
/// open).
pub async fn require(
    State((state, access)): State<(AppState, Access)>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let tokens = state.tokens();
    if tokens.is_open() {
        return Ok(next.run(req).await);
    }
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim);
    let Some(presented) = presented else {
        return Err(ApiError::new(
            axum::http::StatusCode::UNAUTHORIZED,
            "this service needs an API token: send the header Authorization: Bearer YOUR_TOKEN",
        ));
    };
    match tokens.entry_of(presented.as_bytes()) {
        None => Err(ApiError::new(axum::http::StatusCode::UNAUTHORIZED, "the API token is not valid")),
        Some(e) if !access.allows(e.role) => Err(ApiError::new(
            axum::http::StatusCode::FORBIDDEN,
            format!("this needs {}; the token has the {} role", access.needs(), e.role),
        )),
        Some(e) => {
            req.extensions_mut().insert(Caller(e.name.clone()));
            req.extensions_mut().insert(CallerRole(e.role));
            Ok(next.run(req).await)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_and_tokens_parse() {
        assert!(Role::Field < Role::Planner && Role::Analyst < Role::Admin);
        let t = Tokens::parse_env("app:field:0123456789abcdef0123, ops:admin:fedcba9876543210fedc").unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t.role_of(b"0123456789abcdef0123"), Some(Role::Field));
        assert_eq!(t.role_of(b"0123456789abcdef012"), None);
        assert!(Tokens::parse_env("app:field:short").unwrap_err().contains("shorter"));
        assert!(Tokens::parse_env("app:boss:0123456789abcdef0123").unwrap_err().contains("unknown role"));
        assert!(!format!("{t:?}").contains("0123456789"), "tokens never show in Debug output");
    }
}
