//! Small-count suppression for the planner role: counts from 1 to k are withheld (published as null with
//! `suppressed: true`, never 0), and further entries are withheld (secondary suppression) until no
//! withheld value can be recovered, or narrowed to a sum from 1 to k, from a published total by
//! subtraction. A table is a list of counts and the additive relations between them (a total and its
//! parts); a total may be an entry of the table or one the reader can ask for elsewhere (a parent cell at
//! a coarser resolution, the citywide figure), which is then assumed known.

/// An additive relation: `total = Σ parts`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Relation {
    /// The total's entry, or none when the total is published elsewhere (and assumed known).
    pub total: Option<usize>,
    /// The parts' entries.
    pub parts: Vec<usize>,
}

/// The default threshold: counts from 1 to 10 are withheld (CMS's cell-size rule; Washington DOH: < 10).
pub const DEFAULT_K: u64 = 10;

/// Which entries of `values` to withhold so that no count from 1 to `k` is published or derivable
/// through `relations`, one at a time or all together:
/// 1. every entry from 1 to `k` (primary suppression);
/// 2. then, until nothing changes, for each relation: when its total is known (published, or asked for
///    elsewhere and itself not from 1 to `k`), the withheld parts must not sum to 1..=`k`, so the
///    smallest published non-zero part is withheld too (or, when there is none, the total); when its
///    total is withheld but every part is published, the smallest non-zero part is withheld (otherwise
///    the total is their sum);
/// 3. then the audit ([`determined`]) solves all the relations together; a withheld count from 1 to
///    `k` it finds pinned takes a published non-zero entry with it (one that frees it, preferring
///    entries of its own relations, then small ones), and steps 2 and 3 repeat until the audit finds
///    none (a fixed point: every round withholds one more entry, so it ends).
#[must_use]
pub fn suppress(values: &[u64], relations: &[Relation], k: u64) -> Vec<bool> {
    let small = |v: u64| (1..=k).contains(&v);
    let mut hidden: Vec<bool> = values.iter().map(|&v| small(v)).collect();
    if k == 0 {
        return hidden;
    }
    let none = vec![false; values.len()];
    loop {
        relation_pass(values, relations, k, &mut hidden, &none);
        let leaks: Vec<usize> =
            determined(values, relations, &hidden, &none, k).into_iter().filter(|&x| small(values[x])).collect();
        let Some(&x) = leaks.first() else { return hidden };
        // Candidates: the published non-zero entries of the relations with something withheld, those
        // sharing a relation with the leak first, then the smallest. The first whose withholding frees
        // the leak is taken; when none does alone, the first is taken and the next round goes on.
        let mut candidates: Vec<usize> = relations
            .iter()
            .filter(|r| r.parts.iter().chain(&r.total).any(|&p| hidden[p]))
            .flat_map(|r| r.parts.iter().copied().chain(r.total))
            .filter(|&p| !hidden[p] && values[p] > 0)
            .collect();
        let near = |p: usize| {
            !relations.iter().any(|r| {
                let all = || r.parts.iter().chain(&r.total);
                all().any(|&q| q == x) && all().any(|&q| q == p)
            })
        };
        candidates.sort_by_key(|&p| (near(p), values[p], p));
        candidates.dedup();
        let Some(&first) = candidates.first() else { return hidden };
        let freeing = candidates.iter().take(16).copied().find(|&p| {
            hidden[p] = true;
            let still = determined(values, relations, &hidden, &none, k).contains(&x);
            hidden[p] = false;
            !still
        });
        hidden[freeing.unwrap_or(first)] = true;
    }
}

/// Step 2 of [`suppress`], to a fixed point; `derivable` entries count as known.
fn relation_pass(values: &[u64], relations: &[Relation], k: u64, hidden: &mut [bool], derivable: &[bool]) {
    let small = |v: u64| (1..=k).contains(&v);
    loop {
        let mut changed = false;
        for rel in relations {
            let unknown = |hidden: &[bool], p: usize| hidden[p] && !derivable[p];
            let smallest_visible = |hidden: &[bool]| {
                rel.parts.iter().copied().filter(|&p| !hidden[p] && values[p] > 0).min_by_key(|&p| (values[p], p))
            };
            let unknown_sum: u64 = rel.parts.iter().filter(|&&p| unknown(hidden, p)).map(|&p| values[p]).sum();
            let any_unknown = rel.parts.iter().any(|&p| unknown(hidden, p));
            let total_known = match rel.total {
                Some(t) => !unknown(hidden, t),
                None => !small(rel.parts.iter().map(|&p| values[p]).sum()),
            };
            if total_known {
                if any_unknown && small(unknown_sum) {
                    match (smallest_visible(hidden), rel.total) {
                        (Some(p), _) => hidden[p] = true,
                        (None, Some(t)) if !hidden[t] => hidden[t] = true,
                        _ => continue,
                    }
                    changed = true;
                }
            } else if !any_unknown
                && rel.total.is_some()
                && let Some(p) = smallest_visible(hidden)
            {
                hidden[p] = true;
                changed = true;
            }
        }
        if !changed {
            return;
        }
    }
}

/// The withheld, not yet derivable entries that the relations, taken together as a linear system over
/// the unknown entries (published and derivable entries, and totals known elsewhere, as constants),
/// determine: entry `x` is determined when the unit vector of `x` lies in the row space of the system:
/// rows with one unknown left are peeled off first, the rest go through sparse Gauss–Jordan
/// elimination (`sparse_pinned`). Bounds such as "a withheld count is at least 1" are not used: they
/// narrow, they do not determine, unless an interval collapses.
#[must_use]
pub fn determined(values: &[u64], relations: &[Relation], hidden: &[bool], derivable: &[bool], k: u64) -> Vec<usize> {
    let small = |v: u64| (1..=k).contains(&v);
    let unknown = |p: usize| hidden[p] && !derivable[p];
    // Each usable relation as the list of its unknown entries with coefficients (+1 parts, -1 total).
    let mut rows: Vec<Vec<(usize, f64)>> = Vec::new();
    for rel in relations {
        let total_usable = match rel.total {
            Some(_) => true,
            None => !small(rel.parts.iter().map(|&p| values[p]).sum()),
        };
        if !total_usable {
            continue;
        }
        let mut row: Vec<(usize, f64)> = rel.parts.iter().filter(|&&p| unknown(p)).map(|&p| (p, 1.0)).collect();
        if let Some(t) = rel.total.filter(|&t| unknown(t)) {
            row.push((t, -1.0));
        }
        if !row.is_empty() {
            rows.push(row);
        }
    }
    // Peel first: a row with one unknown left determines it (then a constant for the other rows).
    // Only what is left, rows with two or more unknowns, needs elimination.
    let mut out = Vec::new();
    let mut solved: std::collections::HashSet<usize> = std::collections::HashSet::new();
    loop {
        let mut changed = false;
        for row in &mut rows {
            row.retain(|(p, _)| !solved.contains(p));
            if let [(p, _)] = row.as_slice() {
                solved.insert(*p);
                out.push(*p);
                row.clear();
                changed = true;
            }
        }
        rows.retain(|r| !r.is_empty());
        if !changed {
            break;
        }
    }
    out.extend(sparse_pinned(rows));
    out.sort_unstable();
    out
}

/// Sparse Gauss–Jordan elimination of `rows` (each a list of (unknown, coefficient), small integer
/// coefficients); the unknowns the rows determine: those whose reduced pivot row has no other entry.
/// Columns are taken fewest-rows first and each pivot is the shortest row holding its column, which
/// keeps the fill-in of these nearly tree-shaped systems (cells within parents, kinds within counts)
/// small.
fn sparse_pinned(mut rows: Vec<Vec<(usize, f64)>>) -> Vec<usize> {
    use std::collections::{BTreeSet, HashMap};
    const EPS: f64 = 1e-9;
    for r in &mut rows {
        r.sort_unstable_by_key(|&(c, _)| c);
    }
    let mut col_rows: HashMap<usize, BTreeSet<usize>> = HashMap::new();
    for (i, r) in rows.iter().enumerate() {
        for &(c, _) in r {
            col_rows.entry(c).or_default().insert(i);
        }
    }
    let mut order: Vec<usize> = col_rows.keys().copied().collect();
    order.sort_unstable_by_key(|c| (col_rows[c].len(), *c));
    let mut is_pivot_row = vec![false; rows.len()];
    let mut pivots: Vec<(usize, usize)> = Vec::new(); // (column, row)
    for c in order {
        let Some(holders) = col_rows.get(&c) else { continue };
        let Some(r) = holders.iter().copied().filter(|&i| !is_pivot_row[i]).min_by_key(|&i| (rows[i].len(), i)) else {
            continue;
        };
        let coef = rows[r].iter().find(|(x, _)| *x == c).map_or(0.0, |e| e.1);
        if coef.abs() < EPS {
            continue;
        }
        for e in &mut rows[r] {
            e.1 /= coef;
        }
        let pivot = rows[r].clone();
        let others: Vec<usize> = holders.iter().copied().filter(|&i| i != r).collect();
        for i in others {
            let f = rows[i].iter().find(|(x, _)| *x == c).map_or(0.0, |e| e.1);
            if f.abs() < EPS {
                continue;
            }
            // rows[i] -= f * pivot, merging the two sorted lists.
            let old = std::mem::take(&mut rows[i]);
            let mut merged = Vec::with_capacity(old.len() + pivot.len());
            let (mut a, mut b) = (0, 0);
            while a < old.len() || b < pivot.len() {
                let (col, v) = match (old.get(a), pivot.get(b)) {
                    (Some(&(ca, va)), Some(&(cb, vb))) if ca == cb => {
                        a += 1;
                        b += 1;
                        (ca, va - f * vb)
                    }
                    (Some(&(ca, va)), Some(&(cb, _))) if ca < cb => {
                        a += 1;
                        (ca, va)
                    }
                    (Some(&(ca, va)), None) => {
                        a += 1;
                        (ca, va)
                    }
                    (_, Some(&(cb, vb))) => {
                        b += 1;
                        (cb, -f * vb)
                    }
                    (None, None) => break,
                };
                let was = old.binary_search_by_key(&col, |e| e.0).is_ok();
                if v.abs() < EPS {
                    if was && let Some(set) = col_rows.get_mut(&col) {
                        set.remove(&i);
                    }
                } else {
                    if !was {
                        col_rows.entry(col).or_default().insert(i);
                    }
                    merged.push((col, v));
                }
            }
            rows[i] = merged;
        }
        is_pivot_row[r] = true;
        pivots.push((c, r));
    }
    pivots.into_iter().filter(|&(_, r)| rows[r].len() == 1).map(|(c, _)| c).collect()
}

/// The cell-key perturbation of the counts planners see (the method of the Australian Bureau of
/// Statistics' `TableBuilder`, used by the UK's Office for National Statistics for Census 2021): every
/// stored event has a permanent random record key (0..=255); a count's cell key is the sum of its
/// events' record keys modulo 256; the table gives the noise for each (count, cell key). So the same set
/// of events always gets the same published value (asking again averages nothing away), and two sets
/// that differ by 1 to 31 events read different rows and get unrelated noise (their difference is
/// noisy, never the exact small count), even when their cell keys are equal.
///
/// A count of 0, and every count from 1 to [`Self::zero_up_to`] (k), is published as 0, so a published
/// 0 never tells "none" from "a few"; a larger count moves by at most [`Self::max_noise`] (d), and where
/// that would land on k or less it is published as 0 too (only counts k+1..=k+d can). A published value
/// is therefore 0 or above k, never 1..=k; a published 0 means 0 to k+d events, a published p means
/// p−d to p+d. The table is data (`geodata/privacy/ptable.json`, made by `tools/gen/make_ptable.py`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PerturbationTable {
    name: String,
    zero_up_to: u64,
    max_noise: u64,
    /// Noise by cell key; the row of a count c above k is `(c - k - 1) mod rows.len()`.
    rows: Vec<[i8; 256]>,
}

/// A perturbation table file that cannot be used, and why.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
#[error("perturbation table: {0}")]
pub struct PerturbationTableError(String);

impl PerturbationTable {
    /// Reads and checks a table (see `geodata/privacy/ptable.json`): 256 cell keys, every noise within
    /// ±`max_noise`, more rows than k (so counts that differ by 1..=k never share a row), and each row
    /// centred on zero.
    pub fn from_json(text: &str) -> Result<Self, PerturbationTableError> {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct File {
            name: String,
            #[allow(dead_code, reason = "the table file carries it; read so the file is checked whole")]
            description: String,
            cell_key_range: u32,
            published_as_zero_up_to: u64,
            max_noise: u64,
            rows: Vec<Vec<i8>>,
        }
        let bad = |why: String| PerturbationTableError(why);
        let f: File = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        if f.cell_key_range != 256 {
            return Err(bad(format!("cell_key_range {} is not 256 (record keys are bytes)", f.cell_key_range)));
        }
        if f.published_as_zero_up_to == 0 || f.max_noise == 0 {
            return Err(bad("published_as_zero_up_to and max_noise must be at least 1".to_owned()));
        }
        if (f.rows.len() as u64) <= f.published_as_zero_up_to {
            return Err(bad(format!(
                "{} rows: there must be more than {} (counts that differ by 1 to k must not share a row)",
                f.rows.len(),
                f.published_as_zero_up_to
            )));
        }
        let mut rows = Vec::with_capacity(f.rows.len());
        for (i, r) in f.rows.into_iter().enumerate() {
            let noise: [i8; 256] =
                r.try_into().map_err(|n: Vec<i8>| bad(format!("rows[{i}] has {} values, not 256", n.len())))?;
            if let Some((key, n)) = noise.iter().enumerate().find(|(_, n)| u64::from(n.unsigned_abs()) > f.max_noise) {
                return Err(bad(format!("rows[{i}][{key}] = {n} is beyond ±{}", f.max_noise)));
            }
            let sum: i32 = noise.iter().map(|&n| i32::from(n)).sum();
            if sum != 0 {
                return Err(bad(format!("rows[{i}] sums to {sum}: the noise must be centred on zero")));
            }
            rows.push(noise);
        }
        Ok(Self { name: f.name, zero_up_to: f.published_as_zero_up_to, max_noise: f.max_noise, rows })
    }

    /// The table's name (e.g. `leadmap-ptable-2`).
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Counts from 1 to this (k) are published as 0.
    #[must_use]
    pub fn zero_up_to(&self) -> u64 {
        self.zero_up_to
    }

    /// A published count above k differs from the true one by at most this (d).
    #[must_use]
    pub fn max_noise(&self) -> u64 {
        self.max_noise
    }

    /// The true counts a published value can stand for: `0..=k+d` for 0, else `p-d..=p+d` (all above k).
    #[must_use]
    pub fn possible(&self, published: u64) -> std::ops::RangeInclusive<u64> {
        if published == 0 {
            0..=self.zero_up_to + self.max_noise
        } else {
            published.saturating_sub(self.max_noise).max(self.zero_up_to + 1)..=published + self.max_noise
        }
    }

    /// The published value of a true `count` whose events' record keys sum to `cell_key` (mod 256): 0
    /// for 0 to k, else the count plus the table's noise, or 0 where that would be k or less.
    ///
    /// # Examples
    /// ```
    /// let t = leadmap::builtin::perturbation_table().unwrap();
    /// assert_eq!(t.publish(0, 17), 0);
    /// assert_eq!(t.publish(7, 17), 0, "a few are published as none");
    /// let v = t.publish(40, 17);
    /// assert!((38..=42).contains(&v));
    /// assert_eq!(t.publish(40, 17), v, "the same events, the same value");
    /// ```
    #[must_use]
    pub fn publish(&self, count: u64, cell_key: u8) -> u64 {
        if count <= self.zero_up_to {
            return 0;
        }
        let row = usize::try_from((count - self.zero_up_to - 1) % self.rows.len() as u64).unwrap_or(0);
        match count.checked_add_signed(i64::from(self.rows[row][usize::from(cell_key)])) {
            Some(v) if v > self.zero_up_to => v,
            _ => 0,
        }
    }
}

/// A published count: the value, or none when withheld.
#[must_use]
pub fn published(value: u64, hidden: bool) -> Option<u64> {
    (!hidden).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every value a reader can derive with one relation: published entries, and a withheld entry when
    /// it is the only unknown of a relation whose total is known.
    fn derivable(values: &[u64], relations: &[Relation], hidden: &[bool], k: u64) -> Vec<u64> {
        let mut out: Vec<u64> = values.iter().zip(hidden).filter(|(_, h)| !**h).map(|(v, _)| *v).collect();
        for rel in relations {
            let total = match rel.total {
                Some(t) if !hidden[t] => Some(values[t]),
                Some(_) => None,
                None => Some(rel.parts.iter().map(|&p| values[p]).sum::<u64>()).filter(|s| !(1..=k).contains(s)),
            };
            let unknown: Vec<usize> = rel.parts.iter().copied().filter(|&p| hidden[p]).collect();
            match total {
                Some(t) if !unknown.is_empty() => {
                    let known: u64 = rel.parts.iter().filter(|&&p| !hidden[p]).map(|&p| values[p]).sum();
                    out.push(t - known); // the withheld parts' sum
                }
                None if unknown.is_empty() => out.push(rel.parts.iter().map(|&p| values[p]).sum()),
                _ => {}
            }
        }
        out
    }

    /// A `rows` x `cols` table of `cells` (row by row) followed by its row totals, column totals and
    /// grand total, with the relations between them.
    fn with_margins(cells: &[u64], rows: usize, cols: usize) -> (Vec<u64>, Vec<Relation>) {
        let mut values = cells.to_vec();
        let mut rels = Vec::new();
        for r in 0..rows {
            values.push((0..cols).map(|c| cells[r * cols + c]).sum());
            rels.push(Relation { total: Some(values.len() - 1), parts: (0..cols).map(|c| r * cols + c).collect() });
        }
        for c in 0..cols {
            values.push((0..rows).map(|r| cells[r * cols + c]).sum());
            rels.push(Relation { total: Some(values.len() - 1), parts: (0..rows).map(|r| r * cols + c).collect() });
        }
        let n = rows * cols;
        values.push(cells.iter().sum());
        rels.push(Relation { total: Some(values.len() - 1), parts: (n..n + rows).collect() });
        rels.push(Relation { total: Some(values.len() - 1), parts: (n + rows..n + rows + cols).collect() });
        (values, rels)
    }

    fn table() -> &'static PerturbationTable {
        crate::builtin::perturbation_table().unwrap()
    }

    #[test]
    fn perturbation_keeps_zero_hides_small_counts_and_moves_others_by_at_most_two() {
        let t = table();
        assert_eq!((t.zero_up_to(), t.max_noise(), t.name()), (10, 2, "leadmap-ptable-2"));
        for key in 0..=255u8 {
            for c in 0..=10 {
                assert_eq!(t.publish(c, key), 0, "{c}");
            }
            for c in 11..600 {
                let v = t.publish(c, key);
                assert!(v == 0 || v > 10, "{c} -> {v}: never 1..=k");
                assert!(v == 0 && c <= 12 || v.abs_diff(c) <= 2, "{c} -> {v}");
                assert!(t.possible(v).contains(&c), "{c} -> {v}, not in {:?}", t.possible(v));
                assert_eq!(t.publish(c, key), v, "deterministic");
            }
        }
        // Over the cell keys, the noise of a large count is centred on zero and takes every value, the
        // extremes rarely.
        let noise: Vec<i64> = (0..=255u8).map(|k| t.publish(1000, k).cast_signed() - 1000).collect();
        assert_eq!(noise.iter().sum::<i64>(), 0);
        for (n, keys) in [(-2, 13), (-1, 51), (0, 128), (1, 51), (2, 13)] {
            assert_eq!(noise.iter().filter(|&&x| x == n).count(), keys, "{n}");
        }
        // Neighbouring cell keys do not share a noise: the table is shuffled, not banded.
        let changes = noise.windows(2).filter(|w| w[0] != w[1]).count();
        assert!(changes > 100, "{changes}");
        // 11 and 12 are sometimes published as 0, so a published 0 reaches above k.
        assert_eq!((0..=255u8).filter(|&k| t.publish(11, k) == 0).count(), 64);
        assert_eq!((0..=255u8).filter(|&k| t.publish(12, k) == 0).count(), 13);
        assert_eq!(t.possible(0), 0..=12);
        assert_eq!(t.possible(11), 11..=13);
        assert_eq!(t.possible(40), 38..=42);
    }

    #[test]
    fn sets_that_differ_by_a_few_events_get_unrelated_noise_even_with_equal_cell_keys() {
        let t = table();
        // Equal cell keys (the extra events' keys sum to 0 mod 256): counts 1..=31 apart read different
        // rows, so the published difference is the exact one only about a third of the time (as for two
        // independent draws), never always.
        for d in 1..=31u64 {
            let exact = (0..=255u8)
                .filter(|&key| {
                    t.publish(40 + d, key).cast_signed() - t.publish(40, key).cast_signed() == d.cast_signed()
                })
                .count();
            assert!((40..=140).contains(&exact), "{d}: {exact} of 256 exact");
        }
        // Different keys: the difference of two windows one event apart ranges over 1 ± 4.
        let mut differences = std::collections::BTreeSet::new();
        for key in 0..=255u8 {
            for extra in [3u8, 77, 200] {
                let a = t.publish(40, key).cast_signed();
                let b = t.publish(41, key.wrapping_add(extra)).cast_signed();
                differences.insert(b - a);
            }
        }
        assert_eq!(differences, (-3..=5).collect());
    }

    #[test]
    fn a_table_that_is_not_bounded_centred_or_long_enough_is_refused() {
        let text = include_str!("../geodata/privacy/ptable.json");
        let edit = |f: &dyn Fn(&mut serde_json::Value)| {
            let mut v: serde_json::Value = serde_json::from_str(text).unwrap();
            f(&mut v);
            PerturbationTable::from_json(&v.to_string()).unwrap_err().to_string()
        };
        assert_eq!(
            edit(&|v| v["rows"][2][0] = serde_json::json!(3)),
            "perturbation table: rows[2][0] = 3 is beyond ±2"
        );
        let first = text.split("\"rows\": [").nth(1).unwrap();
        let zero_at = first.split(',').position(|x| x.trim_start_matches(['[', '\n', ' ']) == "0").unwrap();
        assert_eq!(
            edit(&|v| v["rows"][0][zero_at] = serde_json::json!(1)),
            "perturbation table: rows[0] sums to 1: the noise must be centred on zero"
        );
        assert!(
            edit(&|v| v["rows"].as_array_mut().unwrap().truncate(10)).contains("10 rows: there must be more than 10")
        );
        assert!(edit(&|v| v["rows"][1].as_array_mut().unwrap().pop().map(drop).unwrap()).contains("rows[1] has 255"));
        assert!(edit(&|v| v["cell_key_range"] = serde_json::json!(100)).contains("not 256"));
    }

    /// Every withheld entry the whole system of relations pins down (by brute force over the values the
    /// reader cannot see: each withheld entry from 0 to 60, all combinations consistent with the
    /// published entries and the relations).
    fn pinned_by_brute_force(values: &[u64], relations: &[Relation], hidden: &[bool], k: u64) -> Vec<usize> {
        let unknown: Vec<usize> = (0..values.len()).filter(|&i| hidden[i]).collect();
        assert!(unknown.len() <= 4, "brute force is for small cases");
        let consistent = |trial: &[u64]| {
            relations.iter().all(|r| {
                let sum: u64 = r.parts.iter().map(|&p| trial[p]).sum();
                if let Some(t) = r.total {
                    return trial[t] == sum;
                }
                // A total known elsewhere, unless it is small (then withheld there too).
                let real: u64 = r.parts.iter().map(|&p| values[p]).sum();
                (1..=k).contains(&real) || sum == real
            })
        };
        let mut seen = vec![std::collections::BTreeSet::new(); unknown.len()];
        let mut trial = values.to_vec();
        let combos = 61usize.pow(u32::try_from(unknown.len()).unwrap());
        for mut n in 0..combos {
            for &u in &unknown {
                trial[u] = (n % 61) as u64;
                n /= 61;
            }
            if consistent(&trial) {
                for (j, &u) in unknown.iter().enumerate() {
                    seen[j].insert(trial[u]);
                }
            }
        }
        unknown.iter().zip(&seen).filter(|(_, s)| s.len() == 1).map(|(&u, _)| u).collect()
    }

    #[test]
    fn a_two_by_two_table_with_margins_pins_no_withheld_cell_by_brute_force_or_audit() {
        // A 2 x 2 table of months by kinds with row, column and grand totals: cells a=9, b=14, c=30,
        // d=2 (a and d small). Its four margins have rank 3, so once b and c are withheld with a and d,
        // no withheld cell is pinned: the brute force over every consistent filling and the audit agree.
        let values = [9, 14, 30, 2, 23, 32, 39, 16, 55];
        let rels = [
            Relation { total: Some(4), parts: vec![0, 1] },
            Relation { total: Some(5), parts: vec![2, 3] },
            Relation { total: Some(6), parts: vec![0, 2] },
            Relation { total: Some(7), parts: vec![1, 3] },
            Relation { total: Some(8), parts: vec![4, 5] },
            Relation { total: Some(8), parts: vec![6, 7] },
        ];
        let hidden = suppress(&values, &rels, 10);
        let pinned = pinned_by_brute_force(&values, &rels, &hidden, 10);
        assert!(pinned.iter().all(|&p| !(1..=10).contains(&values[p])), "{hidden:?} pins {pinned:?}");
        assert_eq!(determined(&values, &rels, &hidden, &[false; 9], 10), Vec::<usize>::new());
    }

    #[test]
    fn the_audit_finds_what_the_system_pins_and_only_that() {
        // x + y = 20 (published), y + z = 25 (published), x + z = 15 (published): three unknowns, three
        // independent equations: all pinned. Drop one equation: none pinned.
        let values = [5, 15, 10, 20, 25, 15];
        let rels = [
            Relation { total: Some(3), parts: vec![0, 1] },
            Relation { total: Some(4), parts: vec![1, 2] },
            Relation { total: Some(5), parts: vec![0, 2] },
        ];
        let hidden = [true, true, true, false, false, false];
        assert_eq!(determined(&values, &rels, &hidden, &[false; 6], 10), vec![0, 1, 2]);
        assert_eq!(determined(&values, &rels[..2], &hidden, &[false; 6], 10), Vec::<usize>::new());
        // x + y = 20 with y derivable: x is pinned.
        assert_eq!(determined(&values, &rels[..1], &hidden, &[false, true, false, false, false, false], 10), vec![0]);
    }

    #[test]
    fn the_audit_finds_a_small_count_that_relation_by_relation_suppression_leaves_pinned() {
        // A 2 x 3 table with row, column and grand totals: cells 17 34 36 / 16 25 9. Relation by
        // relation, withholding 36, 16, 25, 9, the second row total and the third column total looks
        // safe; together the relations pin the 9: 36 = 87 - 17 - 34, 16 = 33 - 17, 25 = 59 - 34,
        // 50 = 137 - 87, and 9 = 50 - 16 - 25. The audit finds it; the fixed point closes it.
        let (values, rels) = with_margins(&[17, 34, 36, 16, 25, 9], 2, 3);
        let mut hidden: Vec<bool> = values.iter().map(|&v| (1..=10).contains(&v)).collect();
        relation_pass(&values, &rels, 10, &mut hidden, &[false; 12]);
        let withheld: Vec<usize> = (0..values.len()).filter(|&i| hidden[i]).collect();
        let pinned = determined(&values, &rels, &hidden, &[false; 12], 10);
        assert!(pinned.contains(&5), "the 9 is pinned: withheld {withheld:?}, pinned {pinned:?}");
        // Each relation alone leaves it open: no relation has the 9 as its only withheld entry.
        assert!(rels.iter().all(|r| r.parts.iter().chain(&r.total).filter(|&&p| hidden[p]).count() != 1
            || !r.parts.iter().chain(&r.total).any(|&p| p == 5)));
        // The fixed point: nothing small is pinned.
        let hidden = suppress(&values, &rels, 10);
        assert!(hidden[5]);
        let small_pinned = |pinned: Vec<usize>| pinned.into_iter().filter(|&x| (1..=10).contains(&values[x])).count();
        assert_eq!(small_pinned(determined(&values, &rels, &hidden, &[false; 12], 10)), 0, "{hidden:?}");
    }

    #[test]
    fn a_lone_small_part_takes_its_smallest_neighbour_with_it() {
        // total 40 = 3 + 12 + 25: 3 is withheld; 40 - 12 - 25 would give it back, so 12 goes too.
        let values = [40, 3, 12, 25];
        let rel = [Relation { total: Some(0), parts: vec![1, 2, 3] }];
        let hidden = suppress(&values, &rel, 10);
        assert_eq!(hidden, [false, true, true, false]);
        assert!(derivable(&values, &rel, &hidden, 10).iter().all(|v| !(1..=10).contains(v)));
    }

    #[test]
    fn two_small_parts_are_not_enough_when_their_sum_is_small_too() {
        // 2 + 3 = 5 would be derivable from the total: the smallest other part is withheld as well.
        let values = [50, 2, 3, 15, 30];
        let rel = [Relation { total: Some(0), parts: vec![1, 2, 3, 4] }];
        let hidden = suppress(&values, &rel, 10);
        assert_eq!(hidden, [false, true, true, true, false]);
    }

    #[test]
    fn a_small_total_whose_parts_are_published_hides_a_part() {
        // A withheld total of 8 = 0 + 8: its 8 is withheld itself, the 0 may stay.
        let values = [8, 0, 8];
        let rel = [Relation { total: Some(0), parts: vec![1, 2] }];
        assert_eq!(suppress(&values, &rel, 10), [true, false, true]);
        // A withheld total of 9 whose parts 4 and 5 are both withheld.
        let values = [9, 4, 5];
        assert_eq!(suppress(&values, &rel, 10), [true, true, true]);
        // A total of 30 (published) = 25 + 5: 5 is withheld, and with it 25.
        let values = [30, 25, 5];
        assert_eq!(suppress(&values, &rel, 10), [false, true, true]);
    }

    #[test]
    fn relations_cascade_through_a_hierarchy_with_known_parents() {
        // Seven children of one parent (parent asked for elsewhere); two grandparent-level groups.
        let values = [0, 4, 20, 30, 11, 50, 12, 60, 7, 13];
        let rels =
            [Relation { total: None, parts: (0..7).collect() }, Relation { total: None, parts: vec![6, 7, 8, 9] }];
        let hidden = suppress(&values, &rels, 10);
        assert!(hidden[1] && hidden[8]);
        for rel in &rels {
            let s: u64 = rel.parts.iter().filter(|&&p| hidden[p]).map(|&p| values[p]).sum();
            assert!(!(1..=10).contains(&s), "{hidden:?}");
        }
        assert!(derivable(&values, &rels, &hidden, 10).iter().all(|v| !(1..=10).contains(v)));
    }

    #[test]
    fn random_tables_never_give_a_small_count_away() {
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let mut leaks_before = 0;
        for _ in 0..500 {
            // A 4 x 3 table of counts with row totals, column totals and a grand total.
            let cells: Vec<u64> = (0..12).map(|_| if next(3) == 0 { next(8) } else { next(40) }).collect();
            let (values, rels) = with_margins(&cells, 4, 3);
            let hidden = suppress(&values, &rels, 10);
            let got = derivable(&values, &rels, &hidden, 10);
            assert!(got.iter().all(|v| !(1..=10).contains(v)), "{values:?} {hidden:?} {got:?}");
            let pinned = determined(&values, &rels, &hidden, &vec![false; values.len()], 10);
            assert!(pinned.iter().all(|&x| !(1..=10).contains(&values[x])), "{values:?} {hidden:?} {pinned:?}");
            leaks_before += usize::from({
                let mut one_at_a_time: Vec<bool> = values.iter().map(|&v| (1..=10).contains(&v)).collect();
                relation_pass(&values, &rels, 10, &mut one_at_a_time, &vec![false; values.len()]);
                determined(&values, &rels, &one_at_a_time, &vec![false; values.len()], 10)
                    .iter()
                    .any(|&x| (1..=10).contains(&values[x]))
            });
        }
        assert!(leaks_before > 0, "some random tables leak relation by relation (else this proves little)");
    }
}
