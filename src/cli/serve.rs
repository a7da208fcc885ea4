//! `leadmap serve`: the service's configuration (zones, rules, tokens, limits, TLS, map page) and start.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::{PlausibleArgs, ZoneArgs, io_err, load_service, now};
use crate::Error;
use crate::zones::ZoneCatalog;

pub(super) const SERVE_HELP: &str = "\
Routes: GET/POST /v1/eligibility, POST /v1/screenings, GET /v1/zones, GET /v1/zones/{id}, GET /v1/rules,
POST /v1/events (ingest or admin), GET /v1/events (analyst or above; needs --data FILE),
GET /v1/cells, /v1/hotspots, /v1/hotspots/candidates, /v1/coverage, /v1/equity, /v1/me (planner or above),
GET /healthz, /readyz, /metrics, /openapi.json. Errors are application/problem+json.

The planners' map: open http://HOST:PORT/ in a browser (it asks for a token when the service has them).

Access: API tokens with roles field < planner < analyst < admin (and ingest, which may only POST events), from --tokens FILE (a JSON array of
{\"name\", \"role\", \"token\"}) or the environment variable LEADMAP_TOKENS (name:role:token,...).
Eligibility, screening, zones and rules need the field role or above. With no tokens the service is
open and refuses to listen anywhere but loopback.

Signals: SIGTERM or Ctrl-C stop after finishing requests in flight; SIGHUP reloads the zone and rule
files (a failed reload keeps serving the previous ones).

Examples:
  leadmap serve
  leadmap serve --demo                      # then open http://127.0.0.1:8080/ for the map
  leadmap serve --demo --basemap portland.pmtiles   # a PMTiles archive on this machine, offline
  leadmap serve --demo --basemap 'https://tiles.example.org/{z}/{x}/{y}.png' --basemap-attribution 'Tiles: Example County GIS'
  leadmap serve --demo --context ../shared/data/portland/neighborhoods-regions-2021.geojson --context-name MAPLABEL
  leadmap serve --addr 127.0.0.1:9000 --zones official.geojson --zone-field NAME --select 'A=downtown'
  LEADMAP_TOKENS='patrol:field:$(openssl rand -hex 16)' leadmap serve --addr 0.0.0.0:8080";

/// `leadmap serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// A TOML file of serve options (keys are the long option names, `max-batch = 5000`, `zones = [...]`);
    /// options on the command line and environment variables win over it.
    #[arg(long, value_name = "FILE", env = "LEADMAP_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:8080", env = "LEADMAP_ADDR")]
    pub addr: std::net::SocketAddr,
    /// Rule file (JSON); repeat for several dated rule sets. Default: the built-in Portland rules.
    #[arg(long = "rules", value_name = "FILE", env = "LEADMAP_RULES", value_delimiter = ',')]
    pub rules: Vec<PathBuf>,
    /// API tokens file (JSON array of {name, role, token}). Default: the `LEADMAP_TOKENS` variable, else none.
    #[arg(long, value_name = "FILE", env = "LEADMAP_TOKENS_FILE")]
    pub tokens: Option<PathBuf>,
    /// The event store (a GeoPackage file, created if missing): enables POST and GET /v1/events.
    #[arg(long, value_name = "FILE", env = "LEADMAP_DATA")]
    pub data: Option<PathBuf>,
    /// Serve a synthetic demo data set (12 000 made-up events, source `synthetic-demo`) from memory, so
    /// the maps and figures have something to show. Not real data.
    #[arg(long, conflicts_with = "data", env = "LEADMAP_DEMO")]
    pub demo: bool,
    /// A street map behind the map page at `/`: a PMTiles archive on this machine (`portland.pmtiles`,
    /// vector or raster; served by leadmap itself, works offline), or where the network allows a raster
    /// tile URL template (`https://tiles.example.org/{z}/{x}/{y}.png`) or a `MapLibre` style URL
    /// (`...style.json`). Without it the page draws zones and hexagons on a plain background with
    /// labelled landmarks.
    #[arg(long, value_name = "FILE|URL", env = "LEADMAP_BASEMAP")]
    pub basemap: Option<String>,
    /// The base map's credit shown on the map (plain text). Default: an archive's own attribution, or
    /// "© OpenStreetMap contributors" for one built from OpenStreetMap.
    #[arg(long, value_name = "TEXT", env = "LEADMAP_BASEMAP_ATTRIBUTION")]
    pub basemap_attribution: Option<String>,
    /// Landmarks the map page labels: GeoJSON points with a `name` (default: a few Portland landmarks).
    #[arg(long, value_name = "FILE", env = "LEADMAP_LANDMARKS")]
    pub landmarks: Option<PathBuf>,
    /// Named areas the map draws under the hexagons, outlined and labelled, and names candidates and
    /// hexagons by: GeoJSON or FlatGeobuf polygons (e.g. the City's neighbourhoods); may overlap.
    #[arg(long, value_name = "FILE", env = "LEADMAP_CONTEXT")]
    pub context: Option<PathBuf>,
    /// The property of --context features holding their name.
    #[arg(long, value_name = "FIELD", default_value = "name", requires = "context", env = "LEADMAP_CONTEXT_NAME")]
    pub context_name: String,
    /// Most points in one POST /v1/eligibility.
    #[arg(long, value_name = "N", default_value_t = crate::http::Limits::default().max_batch_points, env = "LEADMAP_MAX_BATCH")]
    pub max_batch: usize,
    /// Planners see counts perturbed by cell key (geodata/privacy/ptable.json): a count from 1 to K is
    /// shown as 0, a larger one within ±2. K is the table's (10); 0 turns it off (planners see exact
    /// counts).
    #[arg(long, value_name = "K", default_value_t = crate::privacy::DEFAULT_K, env = "LEADMAP_PLANNER_K")]
    pub planner_k: u64,
    /// Largest request body, bytes.
    #[arg(long, value_name = "BYTES", default_value_t = crate::http::Limits::default().max_body_bytes, env = "LEADMAP_MAX_BODY_BYTES")]
    pub max_body_bytes: usize,
    /// Longest a request may run, milliseconds; slower ones get 503.
    #[arg(long, value_name = "MS", default_value_t = crate::http::Limits::default().request_timeout_ms, env = "LEADMAP_REQUEST_TIMEOUT_MS")]
    pub request_timeout_ms: u64,
    /// Most requests in flight on one route; more get 503 at once.
    #[arg(long, value_name = "N", default_value_t = crate::http::Limits::default().max_concurrency, env = "LEADMAP_MAX_CONCURRENCY")]
    pub max_concurrency: usize,
    /// Most connections open at once; more are answered 503 and closed (lowered to fit the open-file
    /// limit).
    #[arg(long, value_name = "N", default_value_t = crate::http::DEFAULT_MAX_CONNECTIONS, env = "LEADMAP_MAX_CONNECTIONS")]
    pub max_connections: usize,
    /// Longest wait for a request's headers, milliseconds; also how long a keep-alive connection may sit
    /// idle between requests.
    #[arg(long, value_name = "MS", default_value_t = crate::http::DEFAULT_HEADER_TIMEOUT_MS, env = "LEADMAP_HEADER_TIMEOUT_MS")]
    pub header_timeout_ms: u64,
    /// Serve HTTPS with this PEM certificate chain (server certificate first); needs --tls-key. Read
    /// again on SIGHUP (a renewed certificate). Without it, serve plain HTTP behind a TLS proxy.
    #[arg(long, value_name = "FILE", requires = "tls_key", env = "LEADMAP_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key (PKCS#8, PKCS#1 or SEC1) of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert", env = "LEADMAP_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// Which ingested events are plausible.
    #[command(flatten)]
    pub plausible: PlausibleArgs,
    /// Zone options.
    #[command(flatten)]
    pub zones: ZoneArgs,
}

/// An in-memory store holding the synthetic demo events.
fn demo_store(zones: &ZoneCatalog) -> Result<crate::store::gpkg::GpkgStore, Error> {
    use crate::store::EventStore;
    let mut store = crate::store::gpkg::GpkgStore::open_in_memory()?;
    let opts = crate::formats::events::ImportOptions {
        source: Some(crate::builtin::DEMO_SOURCE.to_owned()),
        ..crate::formats::events::ImportOptions::new(crate::events::checks::EventChecks::dated(
            crate::events::checks::DEFAULT_FIRST_DATE,
            now(),
        ))
    };
    let mut stored = 0;
    crate::formats::events::read_events_csv(
        crate::builtin::DEMO_EVENTS_CSV.as_bytes(),
        "built-in demo events",
        &opts,
        20_000,
        |batch| -> Result<(), Error> {
            if let Some(r) = batch.rejects.first() {
                return Err(Error::Internal(format!(
                    "built-in demo events: line {}: {}: {}",
                    r.line, r.field, r.reason
                )));
            }
            let placed: Vec<_> = batch.events.into_iter().map(|e| crate::events::place(e, zones)).collect();
            stored += store.upsert(&placed)?.inserted;
            Ok(())
        },
    )?;
    tracing::warn!(
        events = stored,
        source = crate::builtin::DEMO_SOURCE,
        "DEMO MODE: serving synthetic, made-up events, not real data"
    );
    Ok(store)
}

fn load_tokens(args: &ServeArgs) -> Result<crate::http::Tokens, Error> {
    if let Some(path) = &args.tokens {
        let text = std::fs::read_to_string(path).map_err(io_err(path))?;
        return Ok(crate::http::Tokens::parse_file(&text, &path.display().to_string())?);
    }
    match std::env::var("LEADMAP_TOKENS") {
        Ok(text) => Ok(crate::http::Tokens::parse_env(&text)?),
        Err(_) => Ok(crate::http::Tokens::default()),
    }
}

/// The map page's settings from `--basemap` and `--landmarks`, checked before the server starts.
fn map_page(args: &ServeArgs) -> Result<crate::http::MapPage, Error> {
    // An archive on this machine (a `.pmtiles` name, or any file that exists) is checked now; anything
    // else is a URL the browser fetches, checked for its form (a URL without its scheme is refused).
    let local = |b: &&String| {
        !b.contains("://")
            && (b.to_ascii_lowercase().ends_with(".pmtiles") || std::path::Path::new(b.as_str()).is_file())
    };
    let remote = args.basemap.as_ref().filter(|b| !local(b));
    if let Some(url) = remote {
        crate::http::MapPage::check_basemap(url)?;
    }
    let archive = match args.basemap.as_ref().filter(local) {
        Some(file) => {
            let path = PathBuf::from(file);
            let info = crate::formats::pmtiles::read_info(&path)?;
            Some((path, info))
        }
        None => None,
    };
    let landmarks = match &args.landmarks {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(io_err(path))?;
            crate::http::MapPage::check_landmarks(&text, &path.display().to_string())?;
            Some(text)
        }
        None => None,
    };
    let mut page = crate::http::MapPage::new(remote.cloned(), landmarks, args.demo)
        .with_attribution(args.basemap_attribution.clone());
    if let Some((path, info)) = archive {
        page = page.with_archive(path, info);
    }
    Ok(match &args.context {
        Some(path) => page
            .with_context(&crate::formats::zonefile::read_context(path, &args.context_name).map_err(Error::Context)?),
        None => page,
    })
}

pub(super) fn serve(args: &ServeArgs) -> Result<ExitCode, Error> {
    let started = std::time::Instant::now();
    let loaded = load_service(&args.zones, &args.rules)?;
    args.plausible.checks(&loaded.zones)?;
    let table = crate::builtin::perturbation_table()?;
    if args.planner_k != 0 && args.planner_k != table.zero_up_to() {
        return Err(Error::Usage(format!(
            "--planner-k {}: the perturbation table ({}) shows counts from 1 to {} as 0; use --planner-k {} \
             (the default) or 0 (planners see exact counts)",
            args.planner_k,
            table.name(),
            table.zero_up_to(),
            table.zero_up_to()
        )));
    }
    let tokens = load_tokens(args)?;
    let limits = crate::http::Limits {
        max_body_bytes: args.max_body_bytes,
        max_batch_points: args.max_batch,
        request_timeout_ms: args.request_timeout_ms,
        max_concurrency: args.max_concurrency,
        planner_k: args.planner_k,
        plausible_m: (args.plausible.plausible_km * 1000.0).round() as u64,
        first_date: args.plausible.first_date,
    };
    let auth = if tokens.is_open() {
        "OPEN: no API tokens configured, so only loopback clients can reach it".to_owned()
    } else {
        format!("{} API token(s)", tokens.len())
    };
    let zones_text = loaded.zones.describe();
    let rules_text = loaded.rules.describe();
    let store: Option<Box<dyn crate::store::EventStore>> = match &args.data {
        Some(path) => Some(Box::new(crate::store::gpkg::GpkgStore::open(path)?)),
        None if args.demo => Some(Box::new(demo_store(&loaded.zones)?)),
        None => None,
    };
    let map = map_page(args)?;
    let (max_connections, lowered) = crate::http::fit_to_fd_limit(args.max_connections);
    if let Some(why) = lowered {
        tracing::warn!("--max-connections {}: {why}", args.max_connections);
    }
    let conn = crate::http::ConnLimits { max_connections, header_timeout_ms: args.header_timeout_ms };
    let tls = args.tls_cert.clone().zip(args.tls_key.clone()).map(|(cert, key)| crate::http::TlsFiles { cert, key });
    let scheme = if tls.is_some() { "https" } else { "http" };
    let config = crate::http::ServeConfig { addr: args.addr, tokens, limits, store, map, conn, tls };
    let (zone_args, rule_files) = (args.zones.clone(), args.rules.clone());
    let reload = move || load_service(&zone_args, &rule_files).map_err(crate::http::ReloadError::from);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|source| Error::Io { path: "tokio runtime".into(), source })?;
    runtime.block_on(crate::http::serve(config, loaded, reload, |addr| {
        tracing::info!(
            url = format!("{scheme}://{addr}"),
            zone_sets = zones_text,
            rule_sets = rules_text,
            auth,
            startup_ms = started.elapsed().as_millis() as u64,
            "leadmap serving"
        );
    }))?;
    Ok(ExitCode::SUCCESS)
}
