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

/// Why a token list was refused. Entries are named by their place (1-based), never by a value: in an
/// entry with its fields swapped, the name or role may be the secret.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// A token shorter than the minimum.
    #[error("entry {entry}: the token is shorter than {MIN_TOKEN_LEN} characters; use a long random one")]
    TooShort {
        /// The entry's place.
        entry: usize,
    },
    /// An entry without a name.
    #[error("entry {entry}: the name is empty")]
    EmptyName {
        /// The entry's place.
        entry: usize,
    },
    /// Two entries with one token.
    #[error("entry {entry} repeats the token of entry {first}")]
    RepeatedToken {
        /// The entry's place.
        entry: usize,
        /// The earlier entry's place.
        first: usize,
    },
    /// Two entries with one name.
    #[error("entries {first} and {entry} have the same name; each token needs its own")]
    RepeatedName {
        /// The entry's place.
        entry: usize,
        /// The earlier entry's place.
        first: usize,
    },
    /// A `LEADMAP_TOKENS` entry that is not `name:role:token`.
    #[error("LEADMAP_TOKENS entry {entry}: entries are name:role:token, separated by commas")]
    EnvShape {
        /// The entry's place.
        entry: usize,
    },
    /// A `LEADMAP_TOKENS` entry whose second field is not a role.
    #[error(
        "LEADMAP_TOKENS entry {entry}: the second field is not a role (ingest, field, planner, analyst or admin); entries are name:role:token"
    )]
    EnvRole {
        /// The entry's place.
        entry: usize,
    },
    /// `LEADMAP_TOKENS` holds entries that are refused.
    #[error("LEADMAP_TOKENS: {0}")]
    Env(Box<TokenError>),
    /// A tokens file that is not a JSON array of entries (where, and what kind of fault).
    #[error("{origin}: line {line}, column {column}: {what} (values are not shown: they may be tokens)")]
    FileSyntax {
        /// The file.
        origin: String,
        /// Line of the fault.
        line: usize,
        /// Column of the fault.
        column: usize,
        /// What kind of fault.
        what: &'static str,
    },
    /// A tokens file whose entries are refused.
    #[error("{origin}: {source}")]
    File {
        /// The file.
        origin: String,
        /// Why.
        source: Box<TokenError>,
    },
}

/// The configured tokens; empty means open access.
#[derive(Clone, Debug, Default)]
pub struct Tokens(Vec<TokenEntry>);

/// The smallest token leadmap accepts, in bytes.
const MIN_TOKEN_LEN: usize = 16;

impl Tokens {
    /// Checks and keeps the entries: tokens of at least 16 characters, each used once, names unique (an
    /// ingest's idempotency keys are kept per name). Errors name entries by their place (1-based), never
    /// by a value: in an entry with its fields swapped, the name or role may be the secret.
    ///
    /// # Errors
    /// The first entry refused, and why.
    pub fn new(entries: Vec<TokenEntry>) -> Result<Self, TokenError> {
        for (i, e) in entries.iter().enumerate() {
            let entry = i + 1;
            if e.token.len() < MIN_TOKEN_LEN {
                return Err(TokenError::TooShort { entry });
            }
            if e.name.trim().is_empty() {
                return Err(TokenError::EmptyName { entry });
            }
            if let Some(j) = entries[..i].iter().position(|o| bool::from(o.token.as_bytes().ct_eq(e.token.as_bytes())))
            {
                return Err(TokenError::RepeatedToken { entry, first: j + 1 });
            }
            if let Some(j) = entries[..i].iter().position(|o| o.name == e.name) {
                return Err(TokenError::RepeatedName { entry, first: j + 1 });
            }
        }
        Ok(Self(entries))
    }

    /// Parses `LEADMAP_TOKENS`-style text: `name:role:token` entries separated by commas or newlines.
    ///
    /// # Errors
    /// An entry is not `name:role:token`, or is refused as [`Tokens::new`] refuses it.
    pub fn parse_env(text: &str) -> Result<Self, TokenError> {
        let mut entries = Vec::new();
        for (i, item) in text.split([',', '\n']).map(str::trim).filter(|s| !s.is_empty()).enumerate() {
            let mut parts = item.splitn(3, ':');
            let (Some(name), Some(role), Some(token)) = (parts.next(), parts.next(), parts.next()) else {
                return Err(TokenError::EnvShape { entry: i + 1 });
            };
            let role = role.parse().map_err(|_| TokenError::EnvRole { entry: i + 1 })?;
            entries.push(TokenEntry { name: name.to_owned(), role, token: token.to_owned() });
        }
        Self::new(entries).map_err(|e| TokenError::Env(Box::new(e)))
    }

    /// Parses a tokens file: a JSON array of `{"name", "role", "token"}`.
    ///
    /// # Errors
    /// The file is not such an array (where, never what), or an entry is refused.
    pub fn parse_file(text: &str, origin: &str) -> Result<Self, TokenError> {
        // serde's messages quote the value at fault, which may be a token: only the place and the kind.
        let entries: Vec<TokenEntry> = serde_json::from_str(text).map_err(|e| {
            let what = match e.classify() {
                serde_json::error::Category::Data => {
                    "an entry is not {\"name\", \"role\", \"token\"} strings with a known role (ingest, field, planner, analyst, admin)"
                }
                serde_json::error::Category::Eof => "the file ends too early",
                serde_json::error::Category::Io | serde_json::error::Category::Syntax => "this is not valid JSON",
            };
            TokenError::FileSyntax { origin: origin.to_owned(), line: e.line(), column: e.column(), what }
        })?;
        Self::new(entries).map_err(|e| TokenError::File { origin: origin.to_owned(), source: Box::new(e) })
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

/// How each resource module guards its routes (its `routes()` says which [`Access`] each needs): with
/// tokens configured, a route layer checks the caller's token; an open service (loopback only) has no
/// auth layer at all.
#[derive(Clone, Debug)]
pub struct Guard {
    /// `None` when the service is open.
    tokens: Option<std::sync::Arc<Tokens>>,
}

impl Guard {
    /// The guard of a service with these tokens (fixed for the life of the server).
    #[must_use]
    pub fn new(tokens: std::sync::Arc<Tokens>) -> Self {
        Self { tokens: (!tokens.is_open()).then_some(tokens) }
    }

    /// `routes`, answered only to callers `access` allows.
    pub fn allow<S: Clone + Send + Sync + 'static>(&self, access: Access, routes: axum::Router<S>) -> axum::Router<S> {
        match &self.tokens {
            None => routes,
            Some(tokens) => routes
                .route_layer(axum::middleware::from_fn_with_state((std::sync::Arc::clone(tokens), access), require)),
        }
    }
}

/// Middleware: the caller's token must be allowed by `access` (nothing is checked when the service is
/// open).
pub async fn require(
    State((tokens, access)): State<(std::sync::Arc<Tokens>, Access)>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    if tokens.is_open() {
        return Ok(next.run(req).await);
    }
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim_start().split_once(' '))
        // The scheme is case-insensitive (RFC 7235 section 2.1).
        .and_then(|(scheme, token)| scheme.eq_ignore_ascii_case("bearer").then_some(token))
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
            let mut res = next.run(req).await;
            // For the request's log line (the front): who asked, by the token's name.
            res.extensions_mut().insert(Caller(e.name.clone()));
            Ok(res)
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
        assert_eq!(
            Tokens::parse_env("app:field:short").unwrap_err(),
            TokenError::Env(Box::new(TokenError::TooShort { entry: 1 }))
        );
        assert!(Tokens::parse_env("app:boss:0123456789abcdef0123").unwrap_err().to_string().contains("not a role"));
        assert!(!format!("{t:?}").contains("0123456789"), "tokens never show in Debug output");
    }

    #[test]
    fn errors_never_show_a_token_and_names_are_unique() {
        let secret = "s3cr3t-0123456789abcdef";
        // Fields swapped, in the variable and in a file: the secret lands in the name or role.
        for text in [format!("{secret}:field:app"), format!("app:{secret}:field"), format!("field:app:{secret}")] {
            let e = Tokens::parse_env(&text).unwrap_err().to_string();
            assert!(!e.contains("s3cr3t") && e.starts_with("LEADMAP_TOKENS"), "{e}");
        }
        for file in [
            format!(r#"[{{"name": "app", "role": "{secret}", "token": "field"}}]"#),
            format!(r#"[{{"name": "{secret}", "role": "field", "token": "short"}}]"#),
            format!(r#"[{{"name": "app", "role": "field", "token": {secret}}}]"#),
            format!(r#"[{{"name": "app", "role": "field", "tokn": "{secret}"}}]"#),
        ] {
            let e = Tokens::parse_file(&file, "tokens.json").unwrap_err().to_string();
            assert!(!e.contains("s3cr3t") && e.starts_with("tokens.json: "), "{e}");
        }
        let e = Tokens::parse_env("app:field:0123456789abcdef0123,app:admin:fedcba9876543210fedc").unwrap_err();
        assert_eq!(e.to_string(), "LEADMAP_TOKENS: entries 1 and 2 have the same name; each token needs its own");
    }
}
