//! The OpenAPI 3.1 document, generated from the handlers' `#[utoipa::path]` annotations and the
//! response types' schemas, served at `GET /openapi.json`.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// The API description.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "leadmap",
        description = "LEAD (Law Enforcement Assisted Diversion) eligibility by location and by the program's rules. Coordinates are WGS84 lon/lat. Errors are RFC 9457 application/problem+json.",
        license(name = "MIT", identifier = "MIT"),
    ),
    paths(
        super::eligibility::get_eligibility,
        super::eligibility::post_eligibility,
        super::screenings::post_screening,
        super::zones::get_zones,
        super::zones::get_zone,
        super::rules::get_rules,
        super::events::post_events,
        super::events::get_events,
        super::events::delete_events,
        super::figures::get_cells,
        super::figures::get_hotspots,
        super::figures::get_candidates,
        super::figures::get_coverage,
        super::figures::get_equity,
        super::figures::get_me,
        super::proposals::post_proposal,
        super::proposals::get_proposals,
        super::proposals::get_proposal,
        super::proposals::delete_proposal,
        super::proposals::get_impact,
        super::proposals::get_compare,
        super::ops::get_healthz,
        super::ops::get_readyz,
        super::ops::get_metrics,
        super::ops::get_openapi,
    ),
    components(schemas(super::error::Problem, super::error::ItemError)),
    modifiers(&BearerAuth, &CommonAnswers),
    tags(
        (name = "proposals", description = "Proposed zone sets and what they would have changed over the stored history. Analysts: any zone set, exact impacts; planners: whole H3 cells, impacts made of the per-cell values /v1/cells publishes. Every evaluation is audited."),
        (name = "eligibility", description = "Is a contact location in a LEAD area? Needs the field role or above."),
        (name = "screening", description = "Location plus the program's offense and exclusion rules."),
        (name = "zones", description = "The LEAD areas in force, as GeoJSON."),
        (name = "rules", description = "The eligibility rules in force, as data."),
        (name = "events", description = "Contacts: ingest (ingest or admin token) and event-level reading (analyst or above)."),
        (name = "figures", description = "Aggregates for planners (counts 1 to k withheld, res <= 9) and analysts (exact): H3 cells, Gi* hotspots, expansion candidates, coverage and equity."),
        (name = "operations", description = "Health, readiness, metrics, this document. No token needed."),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API token: Authorization: Bearer TOKEN"))
                    .build(),
            ),
        );
    }
}

/// The answers any route may give whatever its own work: a bad query (`400`), a timeout, the
/// concurrency or connection cap (`503`), a `Host` other than loopback on an open server (`421`), and
/// for bodies a declared length over the limit (`413`) or another media type than JSON (`415`).
struct CommonAnswers;

impl Modify for CommonAnswers {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let problem = |what: &str| {
            ResponseBuilder::new()
                .description(what)
                .content(
                    "application/problem+json",
                    ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build(),
                )
                .build()
        };
        for (path, item) in &mut openapi.paths.paths {
            let operational =
                path.as_str() == "/healthz" || path.as_str() == "/readyz" || path.as_str() == "/openapi.json";
            let ops = [(&mut item.get, false), (&mut item.post, true), (&mut item.delete, false)];
            for (op, body) in ops {
                let Some(op) = op else { continue };
                let r = &mut op.responses.responses;
                let mut add = |code: &str, what: &str| {
                    r.entry(code.to_owned()).or_insert_with(|| problem(what).into());
                };
                if !operational {
                    add("400", "A query value is wrong");
                }
                add("414", "The URL is longer than 8 KiB");
                add("421", "An open server (no tokens) answers Host localhost, 127.0.0.1 or [::1] only");
                add("431", "More than 64 header fields or 16 KiB of headers");
                add("503", "Timed out, or over the concurrency or connection limit");
                if body {
                    add("413", "The body is larger than the limit, or holds too many items");
                    add("415", "The body is not JSON (Content-Type: application/json)");
                }
            }
        }
    }
}

/// The document as JSON text.
#[must_use]
pub fn document_json() -> String {
    ApiDoc::openapi().to_pretty_json().unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}
