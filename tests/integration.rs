//! leadmap's one integration-test binary (one link, one place to look). Each module tests one concern
//! against real files: the project's fixtures, the City of Portland's boundary file and the Police
//! Bureau's data in `../shared/`, and reference answers computed with GEOS (shapely) and PROJ (pyproj)
//! by `tools/reference/make_reference.py`.

#![allow(clippy::unwrap_used, clippy::panic, reason = "test helpers panic on failure by design")]

#[path = "integration/cli.rs"]
mod cli;
#[path = "integration/differential.rs"]
mod differential;
#[path = "integration/field.rs"]
mod field;
#[path = "integration/figures.rs"]
mod figures;
#[path = "integration/fixtures.rs"]
mod fixtures;
#[path = "integration/fuzz.rs"]
mod fuzz;
#[path = "integration/hostile.rs"]
mod hostile;
#[path = "integration/http.rs"]
mod http;
#[path = "integration/import.rs"]
mod import;
#[path = "integration/layering.rs"]
mod layering;
#[path = "integration/portland.rs"]
mod portland;
#[path = "integration/privacy.rs"]
mod privacy;
#[path = "integration/proposals.rs"]
mod proposals;
#[path = "integration/support.rs"]
mod support;
