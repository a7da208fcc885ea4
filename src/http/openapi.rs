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
    modifiers(&BearerAuth, &CommonAnswers, &RuleSetSchema),
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

/// The answers routes share, each defined once under `components.responses` and referenced by every
/// operation that can give it: (status, component name, description).
const COMMON_ANSWERS: &[(&str, &str, &str)] = &[
    ("400", "BadQuery", "A query value is missing or wrong (the problem names it)"),
    ("401", "Unauthorized", "No token, or not a valid one"),
    ("403", "Forbidden", "The token's role is below what the route, or one of the parameters given, needs"),
    ("413", "TooLarge", "The body is larger than the limit, or holds too many items"),
    ("414", "UriTooLong", "The URL is longer than 8 KiB"),
    ("415", "UnsupportedMediaType", "The body is not JSON (Content-Type: application/json)"),
    ("421", "MisdirectedRequest", "An open server (no tokens) answers Host localhost, 127.0.0.1 or [::1] only"),
    ("431", "HeadersTooLarge", "More than 64 header fields or 16 KiB of headers"),
    ("503", "Unavailable", "Timed out, or over the concurrency or connection limit"),
    ("404", "NoProposal", "No stored proposal of that id (`proposal`)"),
    (
        "422",
        "TooManyCells",
        "The answer would hold more cells than one answer may (1 000 000): the problem says how to narrow the query",
    ),
];

/// Adds [`COMMON_ANSWERS`] where they apply: `400` to routes that read a query (all but health,
/// readiness and this document), `401` and `403` to routes that need a token, `413` and `415` to routes
/// that take a body, `NoProposal` to routes that read a `proposal` parameter, `TooManyCells` to the
/// figure routes that read `res` (they answer cells), the rest (refused before routing, or by the
/// timeout and caps) to every route. A route's own annotation of one of these statuses (a 403 naming
/// the role it needs, a 503 for no store, a 422 of its own) is kept.
struct CommonAnswers;

impl Modify for CommonAnswers {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
        let components = openapi.components.get_or_insert_with(Default::default);
        for (_, name, what) in COMMON_ANSWERS {
            let problem = ResponseBuilder::new()
                .description(*what)
                .content(
                    "application/problem+json",
                    ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build(),
                )
                .build();
            components.responses.insert((*name).to_owned(), RefOr::T(problem));
        }
        for (path, item) in &mut openapi.paths.paths {
            let operational = matches!(path.as_str(), "/healthz" | "/readyz" | "/openapi.json");
            for (op, body) in [(&mut item.get, false), (&mut item.post, true), (&mut item.delete, false)] {
                let Some(op) = op else { continue };
                let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
                let reads =
                    |name: &str| op.parameters.iter().flatten().any(|p| matches!(p, RefOr::T(p) if p.name == name));
                let figure = op.tags.iter().flatten().any(|t| t == "figures");
                let (proposal, cells) = (reads("proposal"), figure && reads("res"));
                for (code, name, _) in COMMON_ANSWERS {
                    let applies = match *name {
                        "BadQuery" => !operational,
                        "Unauthorized" | "Forbidden" => secured,
                        "TooLarge" | "UnsupportedMediaType" => body,
                        "NoProposal" => proposal,
                        "TooManyCells" => cells,
                        _ => true,
                    };
                    if applies {
                        op.responses
                            .responses
                            .entry((*code).to_owned())
                            .or_insert_with(|| RefOr::Ref(Ref::new(format!("#/components/responses/{name}"))));
                    }
                }
            }
        }
    }
}

/// `RuleSet` (the answer of `GET /v1/rules`) is the rule file, `RuleSpec`, plus `version`. utoipa writes
/// it as `allOf` of the two, which no answer satisfies: `RuleSpec` refuses unknown fields, so its schema
/// allows no other property, `version` included. Here `RuleSet` becomes one object: `RuleSpec`'s
/// properties and `version`, no others.
struct RuleSetSchema;

impl Modify for RuleSetSchema {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{RefOr, schema::Schema};
        let Some(components) = openapi.components.as_mut() else { return };
        let (Some(RefOr::T(Schema::Object(spec))), Some(RefOr::T(Schema::AllOf(set)))) =
            (components.schemas.get("RuleSpec"), components.schemas.get("RuleSet"))
        else {
            return; // the unit test below fails if the shapes change
        };
        let mut merged = spec.clone();
        for part in &set.items {
            if let RefOr::T(Schema::Object(extra)) = part {
                merged.properties.extend(extra.properties.clone());
                merged.required.extend(extra.required.iter().cloned());
            }
        }
        merged.description.clone_from(&set.description);
        components.schemas.insert("RuleSet".to_owned(), RefOr::T(Schema::Object(merged)));
    }
}

/// The document as JSON text.
#[must_use]
pub fn document_json() -> String {
    ApiDoc::openapi().to_pretty_json().unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_documents_the_shared_answers_it_can_give() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        let shared = doc["components"]["responses"].as_object().unwrap();
        assert_eq!(shared.len(), COMMON_ANSWERS.len());
        let mut checked = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let responses = op["responses"].as_object().unwrap();
                let has = |code: &str| responses.contains_key(code);
                let secured = op.get("security").and_then(|s| s.as_array()).is_some_and(|s| !s.is_empty());
                assert!(has("503") && has("414") && has("421") && has("431"), "{method} {path}");
                assert_eq!(
                    has("401") && has("403"),
                    secured,
                    "{method} {path}: 401 and 403 exactly when a token is needed"
                );
                if method == "post" {
                    assert!(has("413") && has("415"), "{method} {path}");
                }
                let reads =
                    |name: &str| op["parameters"].as_array().is_some_and(|ps| ps.iter().any(|p| p["name"] == name));
                if reads("proposal") {
                    assert_eq!(responses["404"]["$ref"], "#/components/responses/NoProposal", "{method} {path}");
                }
                for (code, r) in responses {
                    if let Some(to) = r.get("$ref").and_then(|t| t.as_str()) {
                        let name = to.strip_prefix("#/components/responses/").unwrap();
                        assert!(shared.contains_key(name), "{method} {path} {code}: {to} is defined");
                    }
                }
                checked += 1;
            }
        }
        assert!(checked >= 25, "{checked} operations");
        // The figure routes that answer cells may refuse too many; coverage and equity keep their own 422.
        for path in ["/v1/cells", "/v1/hotspots", "/v1/hotspots/candidates"] {
            assert_eq!(doc["paths"][path]["get"]["responses"]["422"]["$ref"], "#/components/responses/TooManyCells");
        }
        for path in ["/v1/coverage", "/v1/equity"] {
            let own = &doc["paths"][path]["get"]["responses"]["422"]["description"];
            assert_eq!(own, "No zone set was in force on `at`", "{path}");
        }
    }

    /// The rules answer, as the built-in rule set serializes it, has exactly the properties its schema
    /// allows, and every one it requires.
    #[test]
    fn the_rule_set_schema_describes_the_rules_answer() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        let schema = &doc["components"]["schemas"]["RuleSet"];
        assert_eq!(schema["type"], "object", "{schema}");
        assert_eq!(schema["additionalProperties"], false);
        let allowed = schema["properties"].as_object().unwrap();
        let rules = crate::rules::RuleSet::from_json(crate::builtin::PORTLAND_RULES, "portland.json").unwrap();
        let answer = serde_json::to_value(&rules).unwrap();
        let answer = answer.as_object().unwrap();
        for key in answer.keys() {
            assert!(allowed.contains_key(key), "the answer's {key} is not in the schema");
        }
        for key in schema["required"].as_array().unwrap() {
            assert!(answer.contains_key(key.as_str().unwrap()), "{key} is required but not answered");
        }
        assert!(allowed.contains_key("version") && answer.contains_key("version"));
    }

    /// Dates are `format: date` (YYYY-MM-DD), so that clients and generated tests (schemathesis) know
    /// what a valid one is.
    #[test]
    fn every_date_parameter_is_documented_as_a_date() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        let mut dates = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                for p in op["parameters"].as_array().into_iter().flatten() {
                    let name = p["name"].as_str().unwrap();
                    if matches!(name, "at" | "from" | "to" | "before") {
                        assert_eq!(p["schema"]["format"], "date", "{method} {path} {name}");
                        assert_eq!(p["schema"]["type"], "string", "{method} {path} {name}");
                        dates += 1;
                    }
                }
            }
        }
        assert!(dates >= 29, "{dates} date parameters");
    }

    #[test]
    fn each_route_documents_exactly_the_query_parameters_it_reads() {
        use super::super::query::{AtParams, NoParams, RouteQuery};
        use super::super::{eligibility, events, figures, proposals};
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        let routes = [
            ("get", "/v1/cells", figures::CellParams::names()),
            ("get", "/v1/hotspots", figures::HotspotParams::names()),
            ("get", "/v1/hotspots/candidates", figures::CandidateParams::names()),
            ("get", "/v1/coverage", figures::CoverageParams::names()),
            ("get", "/v1/equity", figures::EquityParams::names()),
            ("get", "/v1/events", events::ListParams::names()),
            ("delete", "/v1/events", events::DeleteParams::names()),
            ("post", "/v1/eligibility", eligibility::BatchParams::names()),
            ("post", "/v1/screenings", NoParams::names()),
            ("get", "/v1/zones", AtParams::names()),
            ("get", "/v1/zones/{id}", AtParams::names()),
            ("get", "/v1/rules", AtParams::names()),
            ("get", "/v1/proposals/{id}/impact", proposals::ImpactParams::names()),
            ("get", "/v1/proposals/compare", proposals::CompareParams::names()),
        ];
        for (method, path, reads) in routes {
            let op = &doc["paths"][path][method];
            assert!(op.is_object(), "{method} {path} is documented");
            let documented: Vec<&str> = op["parameters"]
                .as_array()
                .map(|ps| ps.iter().filter(|p| p["in"] == "query").map(|p| p["name"].as_str().unwrap()).collect())
                .unwrap_or_default();
            assert_eq!(documented, reads, "{method} {path}: the OpenAPI parameters are the ones the handler reads");
            assert!(reads.len() < 128, "{method} {path}: a name given twice is found by a 128-bit mask");
        }
        assert!(!figures::CandidateParams::names().contains(&"f".to_owned()), "candidates are GeoJSON only: no f");
    }
}
