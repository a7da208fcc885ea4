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
/// through one of `relations`:
/// 1. every entry from 1 to `k` (primary suppression);
/// 2. then, until nothing changes, for each relation: when its total is known (published, or asked for
///    elsewhere and itself not from 1 to `k`), the withheld parts must not sum to 1..=`k`, so the
///    smallest published non-zero part is withheld too (or, when there is none, the total); when its
///    total is withheld but every part is published, the smallest non-zero part is withheld (otherwise
///    the total is their sum).
#[must_use]
pub fn suppress(values: &[u64], relations: &[Relation], k: u64) -> Vec<bool> {
    let small = |v: u64| (1..=k).contains(&v);
    let mut hidden: Vec<bool> = values.iter().map(|&v| small(v)).collect();
    if k == 0 {
        return hidden;
    }
    loop {
        let mut changed = false;
        for rel in relations {
            let smallest_visible = |hidden: &[bool]| {
                rel.parts.iter().copied().filter(|&p| !hidden[p] && values[p] > 0).min_by_key(|&p| (values[p], p))
            };
            let hidden_sum: u64 = rel.parts.iter().filter(|&&p| hidden[p]).map(|&p| values[p]).sum();
            let any_hidden = rel.parts.iter().any(|&p| hidden[p]);
            let total_known = match rel.total {
                Some(t) => !hidden[t],
                None => !small(rel.parts.iter().map(|&p| values[p]).sum()),
            };
            if total_known {
                if any_hidden && small(hidden_sum) {
                    match (smallest_visible(&hidden), rel.total) {
                        (Some(p), _) => hidden[p] = true,
                        (None, Some(t)) => hidden[t] = true,
                        (None, None) => continue,
                    }
                    changed = true;
                }
            } else if !any_hidden
                && rel.total.is_some()
                && let Some(p) = smallest_visible(&hidden)
            {
                hidden[p] = true;
                changed = true;
            }
        }
        if !changed {
            return hidden;
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
        for _ in 0..500 {
            // A 4 x 3 table of counts with row totals, column totals and a grand total.
            let cells: Vec<u64> = (0..12).map(|_| if next(3) == 0 { next(8) } else { next(40) }).collect();
            let mut values = cells.clone();
            let mut rels = Vec::new();
            for r in 0..4 {
                values.push((0..3).map(|c| cells[r * 3 + c]).sum());
                rels.push(Relation { total: Some(values.len() - 1), parts: (0..3).map(|c| r * 3 + c).collect() });
            }
            for c in 0..3 {
                values.push((0..4).map(|r| cells[r * 3 + c]).sum());
                rels.push(Relation { total: Some(values.len() - 1), parts: (0..4).map(|r| r * 3 + c).collect() });
            }
            values.push(cells.iter().sum());
            rels.push(Relation { total: Some(values.len() - 1), parts: (12..16).collect() });
            rels.push(Relation { total: Some(values.len() - 1), parts: (16..19).collect() });
            let hidden = suppress(&values, &rels, 10);
            let got = derivable(&values, &rels, &hidden, 10);
            assert!(got.iter().all(|v| !(1..=10).contains(v)), "{values:?} {hidden:?} {got:?}");
        }
    }
}
