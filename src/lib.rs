//! leadmap: tells police field apps whether a contact location qualifies for LEAD (Law Enforcement
//! Assisted Diversion), and (in later modules) shows planners and analysts where referrals and arrests
//! happen.
//!
//! # Code map
//! - [`coord`]: a validated (lon, lat) point; errors with swapped-axis hints.
//! - [`geodesy`]: metres per degree on WGS84 and point-to-edge distances.
//! - [`clock`]: the one source of "now", read at the edges and passed into the core as a value.
//! - [`digest`]: short SHA-256 digests in hex (set versions, entity tags, ids, audit lines).
//! - [`zones`]: the domain core for LEAD areas: [`zones::ZoneId`], [`zones::ZoneSet`] (versioned by
//!   content hash, effective-dated), validation, the [`zones::ZoneIndex`] (R-trees, exact
//!   point-in-polygon with a documented boundary rule, distances, a batch grid) and the
//!   [`zones::ZoneCatalog`] that picks the set in force on a date.
//! - [`eligibility`]: the answer for one point, as `leadmap check` prints it.
//! - [`classify`]: bulk classification (`leadmap classify`): the set per point (fixed, or by its date),
//!   zone and borderline answers, a run's counts.
//! - [`program`]: whether a LEAD program (a zone set and a rule set) is in force on a date, and when not,
//!   the nearest sets and why: no answer for such a date says "eligible".
//! - [`rules`]: eligibility screening beyond the location: versioned, effective-dated rule sets as data
//!   ([`rules::RuleSet`], [`rules::RuleCatalog`]) and [`rules::screen`] (decision, criteria, reasons).
//! - [`events`]: the event model (one contact; no personal fields), placing an event in its zone and
//!   resolution-15 H3 cell, and the live in-memory event store the service and impacts read
//!   ([`events::live`]).
//! - [`projection`]: State Plane and UTM coordinates to WGS84, as PROJ does it.
//! - [`cells`]: H3 cells at resolutions 5–12: the in-memory event columns, each event in its point's own
//!   cell; the same counts from a store's own grouping by ancestor and fix code; the zones' cover
//!   (inside/boundary/outside) and the study area.
//! - [`hotspots`]: Getis–Ord Gi* over H3 k-rings, Benjamini–Hochberg FDR, `Gi_Bin` classes, clusters.
//! - [`privacy`]: small-count suppression with secondary suppression over additive relations.
//! - [`figures`]: what planners and analysts are shown: cells, hotspots, candidates, coverage, equity,
//!   and the geography they are counted in (each event's date's set, or one fixed set).
//! - [`proposals`]: what a proposed zone set would have changed over the stored history (impact).
//! - [`store`]: the [`store::EventStore`] trait and its `GeoPackage` backend; the group-commit writer
//!   ([`store::writer`]) and the reader that keeps the live columns fresh from the store ([`store::live`]).
//! - [`builtin`]: the Portland zone sets and rule sets embedded from `geodata/`.
//! - [`formats`]: zone files (GeoJSON, FlatGeobuf), point files (CSV, GeoJSON) and event files (CSV,
//!   GeoJSON, FlatGeobuf) in and out.
//! - [`http`]: the service (axum): routes, problem+json errors, auth, metrics, `OpenAPI`, lifecycle.
//! - [`import`]: the import engine: a file read, placed (on every core) and stored as one load, in a
//!   pipeline of threads with short queues.
//! - [`cli`]: the `leadmap` commands; `main.rs` only parses and runs them.
//! - [`logging`]: where log lines go (batched to stderr by a background thread).
//!
//! The domain modules (`coord`, `digest`, `geodesy`, `zones`, `eligibility`, `classify`, `program`, `rules`, `events`, `cells`,
//! `hotspots`, `privacy`, `figures`, `proposals`) do no I/O and read no clock ("today" is an
//! argument); `formats`, `store`, `http` and `cli` sit around them. Coordinates are (lon, lat) everywhere: `x = lon`, `y = lat`.

pub mod builtin;
pub mod cells;
pub mod classify;
pub mod cli;
pub mod clock;
pub mod coord;
pub mod digest;
pub mod eligibility;
pub mod events;
pub mod figures;
pub mod formats;
pub mod geodesy;
pub mod hotspots;
pub mod http;
pub mod import;
pub mod logging;
pub mod privacy;
pub mod program;
pub mod projection;
pub mod proposals;
pub mod rules;
pub mod store;
pub mod zones;

/// Every error a leadmap command can end with; each names what went wrong and where.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A zone set is not valid or none is in force.
    #[error(transparent)]
    Zone(#[from] zones::ZoneError),
    /// A zone file could not be loaded.
    #[error(transparent)]
    ZoneFile(#[from] formats::zonefile::ZoneFileError),
    /// A point file could not be processed.
    #[error(transparent)]
    PointFile(#[from] formats::points::PointFileError),
    /// A rule file could not be loaded, or no rule set is in force.
    #[error(transparent)]
    Rule(#[from] rules::RuleError),
    /// The zone and rule sets for a date cannot be chosen (two in force start the same day).
    #[error(transparent)]
    Program(#[from] program::ProgramError),
    /// The service could not start.
    #[error(transparent)]
    Serve(#[from] http::ServeError),
    /// The event store failed.
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// The API tokens (`--tokens` file or `LEADMAP_TOKENS`) are refused.
    #[error(transparent)]
    Tokens(#[from] http::TokenError),
    /// An event filter's options contradict each other (`--from` after `--to`).
    #[error(transparent)]
    Filter(#[from] events::filter::FilterError),
    /// An event file could not be read.
    #[error(transparent)]
    Import(#[from] formats::events::ImportError),
    /// A stage of the import engine failed.
    #[error(transparent)]
    Pipeline(#[from] import::PipelineError),
    /// A coordinate system is not supported.
    #[error(transparent)]
    Crs(#[from] projection::CrsError),
    /// A coordinate given on the command line is not valid.
    #[error(transparent)]
    Coord(#[from] coord::CoordError),
    /// A figure would be too large to compute as asked.
    #[error(transparent)]
    Figure(#[from] figures::FigureError),
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The map page's base map URL or landmarks file is refused.
    #[error(transparent)]
    MapPage(#[from] http::MapPageError),
    /// The `--basemap` archive cannot be used.
    #[error("--basemap {0}")]
    Basemap(#[from] formats::pmtiles::PmtilesError),
    /// The `--context` file cannot be used.
    #[error("--context: {0}")]
    Context(#[source] formats::zonefile::ZoneFileError),
    /// The built-in perturbation table is damaged (a damaged build).
    #[error(transparent)]
    PerturbationTable(#[from] privacy::PerturbationTableError),
    /// leadmap's own data or a thread of its own failed: a bug or a damaged build, not the input.
    #[error("internal error (please report it): {0}")]
    Internal(String),
    /// The command was asked something it cannot do (e.g. an unknown zone id, options that contradict
    /// each other).
    #[error("{0}")]
    Usage(String),
}
