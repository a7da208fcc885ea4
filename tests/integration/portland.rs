//! Real data: the City of Portland's neighbourhood file gives the known answers of `../shared/README.md`
//! on the Police Bureau's 2015–2021 drug offenses; the built-in zones put landmarks where they are.

use leadmap::coord::LonLat;
use leadmap::eligibility::PointEligibility;
use leadmap::formats::points::{ColumnChoice, Files, ZoneChoice, classify_csv};
use leadmap::formats::zonefile::read_zone_file;
use leadmap::zones::{IndexOptions, ZoneCatalog, ZoneIndex};

use crate::support::{CITY_SELECT, city_options, index, shared};

const PPB: &str = "data/portland/ppb-drug-offenses-2015-2021.csv";

fn count_ppb(idx: &ZoneIndex) -> (Vec<(String, u64)>, u64, u64) {
    let file = std::fs::File::open(shared(PPB)).unwrap();
    let mut rejected = Vec::new();
    let summary = classify_csv(
        file,
        std::io::sink(),
        Files { input: PPB, output: "sink" },
        ZoneChoice::Fixed(idx),
        &ColumnChoice::default(),
        |_, r| rejected.push(r),
        |_| {},
    )
    .unwrap();
    assert_eq!(summary.rejected, rejected.len() as u64);
    assert!(
        rejected.iter().all(|r| r.field == "OpenDataLon" && r.reason.contains("empty")),
        "only rows without coordinates are rejected"
    );
    let per_zone = summary.per_zone.into_iter().collect();
    (per_zone, summary.classified, summary.rejected)
}

fn counts(per_zone: &[(String, u64)]) -> Vec<(&str, u64)> {
    per_zone.iter().map(|(id, n)| (id.as_str(), *n)).collect()
}

#[test]
fn city_regions_file_gives_the_known_counts() {
    if !crate::support::have_shared() {
        return;
    }
    let set = read_zone_file(&shared("data/portland/neighborhoods-regions-2021.geojson"), &city_options(CITY_SELECT))
        .unwrap();
    let idx = index(set);
    let (per_zone, classified, rejected) = count_ppb(&idx);
    assert_eq!(classified, 8955, "located rows");
    assert_eq!(rejected, 9197 - 8955, "rows without coordinates");
    assert_eq!(counts(&per_zone), [("downtown", 885), ("lloyd", 233), ("old-town", 1862)]);
}

#[test]
fn city_boundaries_file_merging_lloyds_two_features_gives_the_same_counts() {
    if !crate::support::have_shared() {
        return;
    }
    let select = format!("{CITY_SELECT},LLOYD DISTRICT COMMUNITY ASSN./SULLIVAN'S GULCH=lloyd");
    let set =
        read_zone_file(&shared("data/portland/neighborhood-boundaries-2020.geojson"), &city_options(&select)).unwrap();
    let lloyd = set.zone("lloyd").unwrap();
    assert_eq!(lloyd.geometry.0.len(), 1, "the two Lloyd features dissolve into one polygon");
    let (per_zone, _, _) = count_ppb(&index(set));
    assert_eq!(counts(&per_zone), [("downtown", 885), ("lloyd", 233), ("old-town", 1862)]);
}

#[test]
fn seattle_areas_load_as_another_site() {
    if !crate::support::have_shared() {
        return;
    }
    let set =
        read_zone_file(&shared("data/seattle/spd-mcpp-areas.geojson"), &city_options("BELLTOWN=belltown")).unwrap();
    let idx = index(set);
    // Belltown, 2nd Ave & Bell St (lon, lat).
    assert_eq!(idx.zone_at(-122.3465, 47.6140).0, Some(0));
    assert_eq!(idx.zone_at(-122.3035, 47.6062).0, None, "Central District is not Belltown");
}

#[test]
fn built_in_zones_put_landmarks_in_the_right_zone_by_date() {
    let catalog = ZoneCatalog::new(leadmap::builtin::zone_sets().unwrap(), IndexOptions::default());
    let rules = leadmap::rules::RuleCatalog::new(leadmap::builtin::rule_sets().unwrap()).unwrap();
    let pilot = chrono::NaiveDate::from_ymd_opt(2017, 6, 1).unwrap();
    let expanded = chrono::NaiveDate::from_ymd_opt(2019, 6, 1).unwrap();
    let cases = [
        ("Pioneer Courthouse Square", -122.6793, 45.5189, Some("downtown"), Some("downtown")),
        ("Union Station", -122.6765, 45.5289, Some("old-town"), Some("old-town")),
        ("Skidmore Fountain", -122.6707, 45.5225, Some("old-town"), Some("old-town")),
        ("Moda Center", -122.6668, 45.5316, Some("lloyd"), Some("lloyd")),
        ("Lloyd Center", -122.6535, 45.5316, Some("lloyd"), Some("lloyd")),
        ("OMSI", -122.6655, 45.5084, None, Some("central-eastside")),
        ("Powell's Books (Pearl)", -122.6813, 45.5232, None, None),
        ("Portland International Airport", -122.5951, 45.5887, None, None),
    ];
    for (name, lon, lat, in_2017, in_2019) in cases {
        for (date, expect) in [(pilot, in_2017), (expanded, in_2019)] {
            let program = leadmap::program::program_on(&catalog, &rules, date).unwrap();
            let a = PointEligibility::of(&program, LonLat::new(lon, lat).unwrap(), None);
            assert_eq!(a.zone.as_ref().map(|z| z.id.as_str()), expect, "{name} on {date}");
            assert_eq!(a.eligible, expect.is_some());
            assert_eq!(a.nearest_zone.is_some(), expect.is_none(), "{name}: nearest zone only when outside");
        }
    }
}

#[test]
fn built_in_2017_areas_are_the_city_polygons_for_every_located_ppb_contact() {
    if !crate::support::have_shared() {
        return;
    }
    let builtin = index(leadmap::builtin::zone_sets().unwrap().remove(0));
    assert_eq!(builtin.set().meta().status, leadmap::zones::BoundaryStatus::Official);
    let city = index(
        read_zone_file(&shared("data/portland/neighborhoods-regions-2021.geojson"), &city_options(CITY_SELECT))
            .unwrap(),
    );
    let mut rdr = csv::Reader::from_path(shared(PPB)).unwrap();
    let headers = rdr.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (lon_i, lat_i) = (col("OpenDataLon"), col("OpenDataLat"));
    let (mut located, mut inside, mut differ) = (0, 0, Vec::new());
    for row in rdr.records() {
        let row = row.unwrap();
        let (Ok(lon), Ok(lat)) = (row[lon_i].parse::<f64>(), row[lat_i].parse::<f64>()) else { continue };
        located += 1;
        let point = LonLat::new(lon, lat).unwrap();
        let (a, b) = (builtin.locate(point), city.locate(point));
        let id = |idx: &ZoneIndex, z: Option<usize>| z.map(|z| idx.set().zones()[z].id.as_str().to_owned());
        inside += usize::from(a.zone.is_some());
        if id(&builtin, a.zone) != id(&city, b.zone) || a.on_boundary != b.on_boundary {
            differ.push((lon, lat));
        }
    }
    assert_eq!(located, 8955);
    assert_eq!(inside, 885 + 1862 + 233);
    assert!(
        differ.is_empty(),
        "{} contacts change zone or eligibility: {:?}",
        differ.len(),
        &differ[..differ.len().min(5)]
    );
}
