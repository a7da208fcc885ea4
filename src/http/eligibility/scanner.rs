//! A batch's points read straight from the request body: a scanner for the plain `[[lon, lat], ...]`
//! pairs, split into runs parsed on every core, and the general JSON reader for anything else.
use serde_json::Value;

use super::{AccuracyM, LonLat};
use crate::http::ApiError;
use crate::http::error::ItemError;

/// A batch's points and, when any feature of a GeoJSON batch gave its own `accuracy_m`, each point's
/// accuracy (in the same order).
#[derive(Debug, Default, PartialEq)]
pub(super) struct BatchPoints {
    pub(super) points: Vec<LonLat>,
    pub(super) accuracies: Option<Vec<Option<AccuracyM>>>,
}

/// Reads the points of a batch body: a JSON array of `[lon, lat]` pairs (the fast path, parsed straight
/// into numbers) or a GeoJSON FeatureCollection of Points (each may give `properties.accuracy_m`). Every
/// bad item is named.
pub(super) fn batch_points(body: &[u8], max: usize) -> Result<BatchPoints, ApiError> {
    if let Some(pairs) = parse_pairs(body) {
        if pairs.len() > max {
            return Err(too_many(pairs.len(), max));
        }
        if let Ok(points) = pairs.iter().map(|&[lon, lat]| LonLat::new(lon, lat)).collect::<Result<Vec<_>, _>>() {
            return Ok(BatchPoints { points, accuracies: None });
        }
    }
    // Counted before anything is parsed: a body of a million tiny items costs no memory to refuse.
    let n = crate::http::error::count_items(body);
    if n > max {
        return Err(too_many(n, max));
    }
    crate::http::error::unique_keys(body)?;
    let value: Value = serde_json::from_slice(body).map_err(|e| ApiError::malformed_json(&e))?;
    batch_points_from_value(&value, max)
}

/// The fast path of [`batch_points`]: exactly `[[lon, lat], ...]` with JSON numbers and whitespace, with
/// no intermediate values; large bodies are split at pair boundaries and parsed on every core. `None` for
/// anything else, and the general path then parses the body or names what is wrong with it.
pub(super) fn parse_pairs(body: &[u8]) -> Option<Vec<[f64; 2]>> {
    let mut s = Scanner { b: body, i: 0 };
    s.expect(b'[')?;
    let open = s.i;
    let mut end = body.len();
    while end > open && matches!(body[end - 1], b' ' | b'\t' | b'\n' | b'\r') {
        end -= 1;
    }
    if end == open || body[end - 1] != b']' {
        return None;
    }
    let inner = &body[open..end - 1];
    if inner.iter().all(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r')) {
        return Some(Vec::new());
    }
    let runs = split_runs(inner, worker_threads(inner.len() / 20));
    if runs.len() == 1 {
        return parse_run(inner);
    }
    // The runs joined by commas are `inner`, so all of them parse exactly when `inner` does.
    let parsed = in_parallel(runs, parse_run);
    let mut pairs = Vec::with_capacity(parsed.iter().map(|p| p.as_ref().map_or(0, Vec::len)).sum());
    for run in parsed {
        pairs.extend(run?);
    }
    Some(pairs)
}

/// `f` of every item on rayon's threads, answers in item order (a panic in one is raised again here).
pub(super) fn in_parallel<I: Send, R: Send>(items: Vec<I>, f: impl Fn(I) -> R + Sync + Send) -> Vec<R> {
    use rayon::prelude::*;
    items.into_par_iter().map(f).collect()
}

/// How many threads to share `items` of batch work (1 below a couple of thousand items).
pub(super) fn worker_threads(items: usize) -> usize {
    if items < 2048 { 1 } else { std::thread::available_parallelism().map_or(1, std::num::NonZero::get) }
}

/// Splits the inside of a pairs array into up to `parts` runs of whole pairs, cutting at the comma after
/// a `]` (numbers hold no `]`, so in a well-formed body each one closes a pair; in any other body some
/// run fails to parse).
pub(super) fn split_runs(inner: &[u8], parts: usize) -> Vec<&[u8]> {
    let mut runs = Vec::with_capacity(parts);
    let mut start = 0;
    for k in 1..parts {
        let from = (inner.len() * k / parts).max(start);
        let Some(close) = inner[from..].iter().position(|&c| c == b']').map(|i| from + i) else { break };
        let Some(comma) = inner[close + 1..]
            .iter()
            .position(|c| !matches!(c, b' ' | b'\t' | b'\n' | b'\r'))
            .map(|i| close + 1 + i)
            .filter(|&i| inner[i] == b',')
        else {
            break;
        };
        runs.push(&inner[start..=close]);
        start = comma + 1;
    }
    runs.push(&inner[start..]);
    runs
}

/// Parses `[lon, lat] (, [lon, lat])*`, whitespace allowed, and nothing else.
pub(super) fn parse_run(run: &[u8]) -> Option<Vec<[f64; 2]>> {
    let mut s = Scanner { b: run, i: 0 };
    let mut pairs = Vec::with_capacity(run.len() / 24);
    loop {
        s.expect(b'[')?;
        let lon = s.number()?;
        s.expect(b',')?;
        let lat = s.number()?;
        s.expect(b']')?;
        pairs.push([lon, lat]);
        s.skip_ws();
        if s.i == run.len() {
            return Some(pairs);
        }
        s.expect(b',')?;
    }
}

/// A cursor over JSON bytes, for [`parse_pairs`].
pub(super) struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
}

impl Scanner<'_> {
    pub(super) fn skip_ws(&mut self) {
        while self.b.get(self.i).is_some_and(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    /// Skips whitespace, then takes `c` if it is next.
    pub(super) fn eat(&mut self, c: u8) -> bool {
        self.skip_ws();
        let found = self.b.get(self.i) == Some(&c);
        self.i += usize::from(found);
        found
    }

    pub(super) fn expect(&mut self, c: u8) -> Option<()> {
        self.eat(c).then_some(())
    }

    pub(super) fn digits(&mut self) -> usize {
        let start = self.i;
        while self.b.get(self.i).is_some_and(u8::is_ascii_digit) {
            self.i += 1;
        }
        self.i - start
    }

    /// A number in JSON's grammar (`-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?`), correctly rounded.
    pub(super) fn number(&mut self) -> Option<f64> {
        self.skip_ws();
        let start = self.i;
        self.i += usize::from(self.b.get(self.i) == Some(&b'-'));
        let int_start = self.i;
        let int_digits = self.digits();
        if int_digits == 0 || (int_digits > 1 && self.b[int_start] == b'0') {
            return None;
        }
        if self.b.get(self.i) == Some(&b'.') {
            self.i += 1;
            if self.digits() == 0 {
                return None;
            }
        }
        if matches!(self.b.get(self.i), Some(b'e' | b'E')) {
            self.i += 1;
            self.i += usize::from(matches!(self.b.get(self.i), Some(b'+' | b'-')));
            if self.digits() == 0 {
                return None;
            }
        }
        fast_float2::parse::<f64, _>(&self.b[start..self.i]).ok()
    }
}

pub(super) fn too_many(n: usize, max: usize) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::PAYLOAD_TOO_LARGE,
        format!("{n} points is more than the limit of {max} per request; split the batch"),
    )
}

/// The slow path of [`batch_points`]: any JSON shape, every bad item named.
pub(super) fn batch_points_from_value(body: &Value, max: usize) -> Result<BatchPoints, ApiError> {
    // Each item: its coordinates (or why it has none), and its feature's `accuracy_m` (null when absent).
    let pair = |v: &Value| match v.as_array().map(Vec::as_slice) {
        Some([x, y] | [x, y, _]) => match (x.as_f64(), y.as_f64()) {
            (Some(lon), Some(lat)) => LonLat::new(lon, lat).map_err(|e| e.to_string()),
            _ => Err("coordinates must be numbers".to_owned()),
        },
        _ => Err(format!("expected [lon, lat], got {v}")),
    };
    let items: Vec<(Result<LonLat, String>, &Value)> = match body {
        Value::Array(a) => a.iter().map(|v| (pair(v), &Value::Null)).collect(),
        Value::Object(o) if o.get("type").and_then(Value::as_str) == Some("FeatureCollection") => o
            .get("features")
            .and_then(Value::as_array)
            .ok_or_else(|| ApiError::unprocessable("the FeatureCollection has no \"features\" array"))?
            .iter()
            .map(|f| {
                let point = crate::formats::geometry::feature_xy(f)
                    .map_err(|e| e.to_string())
                    .and_then(|(lon, lat)| LonLat::new(lon, lat).map_err(|e| e.to_string()));
                (point, f.pointer("/properties/accuracy_m").unwrap_or(&Value::Null))
            })
            .collect(),
        _ => {
            return Err(ApiError::unprocessable(
                "send a JSON array of [lon, lat] pairs or a GeoJSON FeatureCollection of Points",
            ));
        }
    };
    if items.len() > max {
        return Err(too_many(items.len(), max));
    }
    let mut points = Vec::with_capacity(items.len());
    let mut accuracies = Vec::with_capacity(items.len());
    let mut errors = Vec::new();
    for (index, (item, accuracy)) in items.iter().enumerate() {
        let point = item.clone();
        let accuracy = match accuracy {
            Value::Null => Ok(None),
            v => v
                .as_f64()
                .ok_or_else(|| format!("properties.accuracy_m must be a number of metres, got {v}"))
                .and_then(|m| AccuracyM::new(m).map(Some).map_err(|e| format!("properties.{e}"))),
        };
        match (point, accuracy) {
            (Ok(p), Ok(a)) => {
                points.push(p);
                accuracies.push(a);
            }
            (Err(detail), _) | (_, Err(detail)) => errors.push(ItemError { index, detail }),
        }
    }
    if errors.is_empty() {
        let any = accuracies.iter().any(Option::is_some);
        Ok(BatchPoints { points, accuracies: any.then_some(accuracies) })
    } else {
        let n = errors.len();
        Err(ApiError::unprocessable(format!("{n} of {} points are not valid; see errors", items.len()))
            .with_items(errors))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geojson_batches_carry_each_points_accuracy_and_name_bad_ones() {
        let body = br#"{"type":"FeatureCollection","features":[
            {"type":"Feature","properties":{"accuracy_m":8},"geometry":{"type":"Point","coordinates":[-122.68,45.52]}},
            {"type":"Feature","properties":{},"geometry":{"type":"Point","coordinates":[-122.67,45.52]}}]}"#;
        let got = batch_points(body, 10).unwrap();
        assert_eq!(got.accuracies, Some(vec![Some(AccuracyM::new(8.0).unwrap()), None]));
        let pairs = batch_points(b"[[-122.68,45.52]]", 10).unwrap();
        assert_eq!(pairs.accuracies, None, "pairs carry no accuracy");
        let bad = br#"{"type":"FeatureCollection","features":[
            {"type":"Feature","properties":{"accuracy_m":0},"geometry":{"type":"Point","coordinates":[-122.68,45.52]}},
            {"type":"Feature","properties":{"accuracy_m":"5"},"geometry":{"type":"Point","coordinates":[-122.68,45.52]}},
            {"type":"Feature","properties":{"accuracy_m":2000},"geometry":{"type":"Point","coordinates":[-122.68,45.52]}},
            {"type":"Feature","properties":{"accuracy_m":null},"geometry":{"type":"Point","coordinates":[-122.68,45.52]}}]}"#;
        let e = batch_points(bad, 10).unwrap_err();
        let items: Vec<(usize, String)> = e.errors.iter().map(|i| (i.index, i.detail.clone())).collect();
        assert_eq!(items.len(), 3, "{items:?}");
        assert!(
            items[0].0 == 0 && items[0].1.starts_with("properties.accuracy_m 0 is not a GPS accuracy"),
            "{items:?}"
        );
        assert!(items[1].0 == 1 && items[1].1.contains("must be a number of metres"), "{items:?}");
        assert!(items[2].0 == 2 && items[2].1.contains("accuracy_m 2000 is not a GPS accuracy"), "{items:?}");
    }

    #[test]
    fn the_fast_pair_parser_agrees_with_serde_json_or_declines() {
        let agree = [
            "[]",
            " [ ] ",
            "[[-122.6793,45.5189]]",
            "[[-122.6793, 45.5189], [0,0] ,[ -1e-3 , 4.5E+1 ],[1.7976931348623157e308,-0.0]]\n",
            "[[-122.67930000000000000001,45.518899999999999999999999]]",
            "[[5e-324,2.2250738585072011e-308]]",
        ];
        let big: String = format!(
            "[{}]",
            (0..30_000).map(|i| format!("[{}.{i} , -{i}e-3]", i % 180)).collect::<Vec<_>>().join(", \n")
        );
        for body in agree.iter().copied().chain([big.as_str()]) {
            let fast = parse_pairs(body.as_bytes()).unwrap_or_else(|| panic!("declined {body}"));
            let reference: Vec<[f64; 2]> = serde_json::from_str(body).unwrap();
            let bits = |v: &[[f64; 2]]| v.iter().map(|p| [p[0].to_bits(), p[1].to_bits()]).collect::<Vec<_>>();
            assert_eq!(bits(&fast), bits(&reference), "{body}");
        }
        let decline = [
            "",
            "[",
            "[[1,2]",
            "[[1,2],]",
            "[[1,2,3]]",
            "[[01,2]]",
            "[[1.,2]]",
            "[[.5,2]]",
            "[[+1,2]]",
            "[[NaN,2]]",
            "[[1e,2]]",
            "[[1,2]] x",
            "{\"type\":\"FeatureCollection\"}",
            "[[\"1\",2]]",
            "[[-,2]]",
        ];
        for body in decline {
            assert!(parse_pairs(body.as_bytes()).is_none(), "accepted {body:?}");
        }
        // Runs cut at pair boundaries, whatever the number of cores here.
        let inner = &big.as_bytes()[1..big.len() - 1];
        let runs = split_runs(inner, 5);
        assert_eq!(runs.len(), 5);
        let joined: Vec<[f64; 2]> = runs.iter().flat_map(|r| parse_run(r).unwrap()).collect();
        assert_eq!(joined, parse_run(inner).unwrap());
        // Large bodies are parsed in runs: a flaw anywhere, including at a cut, still declines.
        let cut = big.len() / 2;
        for (at, with) in [(cut, "x"), (big.len() - 3, ",,"), (2, "\"]\","), (big.rfind(']').unwrap(), ",")] {
            let mut bad = big.clone();
            bad.insert_str(at, with);
            assert!(parse_pairs(bad.as_bytes()).is_none(), "accepted a flaw at {at}");
        }
        for at in [cut - 40, cut, cut + 40] {
            // A string holding `]` and a comma right where a cut could fall.
            let bad = format!(
                "{}\"a],[b\",{}",
                &big[..=big[at..].find(',').unwrap() + at],
                &big[big[at..].find(',').unwrap() + at + 1..]
            );
            assert!(parse_pairs(bad.as_bytes()).is_none(), "accepted a string near {at}");
        }
    }
}
