//! The in-memory columnar copy of the stored events that every aggregate is computed from: one column per
//! field (res-15 cell, per-resolution cell fix, day, kind, offense, group, source, zone, lon, lat) in
//! blocks sorted by res-15 cell, loaded from the store at start and appended on ingest. Snapshots are
//! immutable and cheap to clone (blocks are shared), so a new one is built beside the old and swapped
//! whole. The store stays the source of truth.
//!
//! Counting at resolution `r` is a run over the sorted res-15 cells: the ancestor at `r` is two bit
//! operations, and runs of one ancestor are contiguous. Because H3 cells do not nest, the point's own
//! res-`r` cell is the ancestor or one of its six neighbours (about 7 % of points at res 9 are the
//! latter); which one is computed once per event when it is placed ([`fix_code`]), stored with it and
//! kept here in 3 bits per resolution, so counts are exactly those of the point's own cell (as
//! `latlng_to_cell`), not the ancestor's. A read of the store builds several blocks at once (one thread
//! per part of the store, a block per two million rows), each sorted on its own.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{Datelike, NaiveDate};
use h3o::{CellIndex, LatLng, LatLngIndexer, Resolution};
use rayon::prelude::*;

use super::{CellRes, KindCounts, MAX_RES, MIN_RES};
use crate::events::EventKind;

/// One event as the copy takes it (from the store or an ingest).
#[derive(Clone, Copy, Debug)]
pub struct ColumnRow<'a> {
    /// The stored res-15 cell.
    pub cell: u64,
    /// Longitude, WGS84.
    pub lon: f64,
    /// Latitude, WGS84.
    pub lat: f64,
    /// The day it happened.
    pub day: NaiveDate,
    /// The kind.
    pub kind: EventKind,
    /// The offense as stored (`PCS`, `SQ`, `CDO` or the source's text).
    pub offense: &'a str,
    /// Race/ethnicity group.
    pub group: Option<&'a str>,
    /// The data source.
    pub source: &'a str,
    /// The zone it was placed in, if any.
    pub zone: Option<&'a str>,
    /// Its permanent record key (see [`crate::privacy`]).
    pub record_key: u8,
    /// Its cell fix code as stored (see [`fix_code`]); none when it was not, and it is computed.
    pub fix: Option<u32>,
}

impl<'a> ColumnRow<'a> {
    /// The row of a placed event.
    #[must_use]
    pub fn of(p: &'a crate::events::Placed) -> Self {
        let e = &p.event;
        Self {
            cell: p.cell,
            lon: e.point.lon(),
            lat: e.point.lat(),
            day: e.occurred_on,
            kind: e.kind,
            offense: e.offense.as_str(),
            group: e.race_ethnicity.as_deref(),
            source: &e.source,
            zone: p.zone.as_deref(),
            record_key: p.record_key,
            fix: Some(p.fix),
        }
    }
}

/// Names seen in one text column, numbered from 1 (0 is "none").
#[derive(Clone, Debug, Default)]
pub struct Dict {
    names: Vec<String>,
    ids: HashMap<String, u32>,
    /// The number last given (0: none).
    last: u32,
}

impl Dict {
    fn id(&mut self, name: Option<&str>) -> u32 {
        let Some(name) = name else { return 0 };
        // Rows in a read often repeat the previous row's name (one source): checked before hashing.
        if self.last.checked_sub(1).and_then(|i| self.names.get(i as usize)).is_some_and(|n| n == name) {
            return self.last;
        }
        // A few names (groups, sources, zones): compared in turn, cheaper than hashing.
        let found = if self.names.len() <= 16 {
            self.names.iter().position(|n| n == name).and_then(|i| u32::try_from(i + 1).ok())
        } else {
            self.ids.get(name).copied()
        };
        if let Some(id) = found {
            self.last = id;
            return id;
        }
        self.names.push(name.to_owned());
        let id = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        self.ids.insert(name.to_owned(), id);
        self.last = id;
        id
    }

    /// The number of a name, if it was seen.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<u32> {
        self.ids.get(name).copied()
    }

    /// The name numbered `id` (none for 0).
    #[must_use]
    pub fn name(&self, id: u32) -> Option<&str> {
        let i = usize::try_from(id).ok()?.checked_sub(1)?;
        self.names.get(i).map(String::as_str)
    }

    /// Every name, in order of first appearance.
    #[must_use]
    pub fn names(&self) -> &[String] {
        &self.names
    }
}

/// The dictionaries of the text columns.
#[derive(Clone, Debug, Default)]
pub struct Dicts {
    /// Offenses.
    pub offense: Dict,
    /// Race/ethnicity groups.
    pub group: Dict,
    /// Sources.
    pub source: Dict,
    /// Zone ids.
    pub zone: Dict,
}

/// Events in columns, sorted by res-15 cell.
#[derive(Debug, Default)]
struct Block {
    cell: Vec<u64>,
    /// 3 bits per resolution 5..=12 (resolution `r` at bits `3 * (r - 5)`): 0 when the point's own cell
    /// is the ancestor of its res-15 cell, `d` in 1..=6 when it is the destination of the ancestor's
    /// `d`-th edge, 7 when neither (not seen in practice; then `far` holds the cells).
    fix: Vec<u32>,
    day: Vec<i32>,
    kind: Vec<u8>,
    /// Record keys (see [`crate::privacy`]).
    key: Vec<u8>,
    offense: Vec<u32>,
    group: Vec<u32>,
    source: Vec<u32>,
    zone: Vec<u32>,
    lon: Vec<f64>,
    lat: Vec<f64>,
    far: HashMap<u32, [u64; 8]>,
}

impl Block {
    fn len(&self) -> usize {
        self.cell.len()
    }
}

pub use crate::events::filter::EventFilter;

/// An [`EventFilter`] with names turned into column numbers.
#[derive(Clone, Copy, Debug)]
struct Compiled {
    from: i32,
    to: i32,
    kinds: u8,
    offense: Option<u32>,
    zone: Option<u32>,
    group: Option<u32>,
    source: Option<u32>,
    none: bool,
}

impl Compiled {
    /// Whether every row matches (no filter at all).
    fn matches_everything(&self) -> bool {
        self.from == i32::MIN
            && self.to == i32::MAX
            && self.kinds == EVERY_KIND
            && self.offense.is_none()
            && self.zone.is_none()
            && self.group.is_none()
            && self.source.is_none()
    }

    #[inline]
    fn matches(&self, b: &Block, zone: &[u32], i: usize) -> bool {
        let d = b.day[i];
        d >= self.from
            && d <= self.to
            && self.kinds & (1 << b.kind[i]) != 0
            && self.offense.is_none_or(|v| b.offense[i] == v)
            && self.zone.is_none_or(|v| zone[i] == v)
            && self.group.is_none_or(|v| b.group[i] == v)
            && self.source.is_none_or(|v| b.source[i] == v)
    }
}

/// One matching event, as [`EventColumns::fold`] hands it over.
#[derive(Clone, Copy, Debug)]
pub struct EventRef {
    /// Days since 1970-01-01.
    pub day: i32,
    /// The kind.
    pub kind: EventKind,
    /// Area number in [`EventColumns::zone_names`] (0: outside every zone).
    pub zone: u32,
    /// Group number in [`Dicts::group`] (0: none recorded).
    pub group: u32,
    /// The stored res-15 cell.
    pub cell: u64,
    /// Its record key (see [`crate::privacy`]).
    pub key: u8,
}

/// Counts per cell, in cell order, as [`EventColumns::count_cells`] made them: in pieces (one per chunk
/// of rows), so no time goes into copying them into one list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CellCounts(Vec<Vec<(CellIndex, KindCounts)>>);

impl CellCounts {
    /// Every cell and its counts, in cell order.
    pub fn iter(&self) -> impl Iterator<Item = &(CellIndex, KindCounts)> + '_ {
        self.0.iter().flatten()
    }

    /// How many cells.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.iter().map(Vec::len).sum()
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(Vec::is_empty)
    }
}

impl IntoIterator for CellCounts {
    type Item = (CellIndex, KindCounts);
    type IntoIter = std::iter::Flatten<std::vec::IntoIter<Vec<(CellIndex, KindCounts)>>>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter().flatten()
    }
}

/// A snapshot of the columnar copy. Cloning shares the blocks.
#[derive(Clone, Debug, Default)]
pub struct EventColumns {
    blocks: Vec<Arc<Block>>,
    dicts: Arc<Dicts>,
    len: usize,
    /// The convex hull of every event's point (the default study area), kept up to date on append.
    hull: Option<Arc<geo::Polygon<f64>>>,
    /// Areas counted in place of the stored zones, in a view made by [`EventColumns::with_areas`].
    areas: Option<Arc<Areas>>,
    /// How many leading blocks are the large ones (a read of the store in parts makes several; else one):
    /// the blocks appended after them are merged among themselves, and into them only once they add up
    /// to a quarter of them.
    large: usize,
}

/// The area of every event in a view, replacing the stored zone column.
#[derive(Debug)]
struct Areas {
    names: Dict,
    /// Per block, per row: a number in `names` (0: outside every zone).
    per_block: Vec<Vec<u32>>,
}

/// The rows of one piece of a block, handed to [`EventColumns::with_areas`]'s `assign`.
#[derive(Clone, Copy, Debug)]
pub struct AreaRows<'a> {
    /// Longitudes, WGS84.
    pub lon: &'a [f64],
    /// Latitudes, WGS84.
    pub lat: &'a [f64],
    /// Day numbers (see [`day_number`]).
    pub day: &'a [i32],
    /// Stored zone numbers in [`Dicts::zone`] (0: none).
    pub zone: &'a [u32],
}

const KINDS: [EventKind; EventKind::COUNT] = EventKind::ALL;

/// The kind bit mask matching every kind.
const EVERY_KIND: u8 = (1 << EventKind::COUNT) - 1;

fn kind_no(kind: EventKind) -> u8 {
    u8::try_from(kind.index()).unwrap_or(u8::MAX)
}

/// Days since 1970-01-01.
#[must_use]
pub fn day_number(day: NaiveDate) -> i32 {
    day.num_days_from_ce() - 719_163
}

/// The date of a day number.
#[must_use]
pub fn day_date(n: i32) -> Option<NaiveDate> {
    NaiveDate::from_num_days_from_ce_opt(n + 719_163)
}

/// The ancestor at `res` of a res-15 cell, by bits: the resolution field set to `res` and every finer
/// digit to 7 (unused), as H3 defines it. The cell must be a valid res-15 index.
#[inline]
#[must_use]
pub fn ancestor_bits(cell: u64, res: u8) -> u64 {
    let unused = (1u64 << (3 * (15 - u32::from(res)))) - 1;
    (cell & !(0xF << 52)) | (u64::from(res) << 52) | unused
}

/// The cell fix code of an event at (`lon`, `lat`) whose res-15 cell is `cell15`: 3 bits per resolution
/// 5..=12 (resolution `r` at bits `3 * (r - 5)`), 0 when the point's own res-`r` cell is the ancestor of
/// `cell15`, `d` in 1..=6 when it is the destination of the ancestor's `d`-th edge, 7 when neither. Stored
/// with each event, so the columns need not compute it at every start. A point that is not a valid
/// latitude/longitude gets 0.
#[must_use]
pub fn fix_code(cell15: u64, lon: f64, lat: f64) -> u32 {
    LatLng::new(lat, lon).map_or(0, |ll| fix_code_with(cell15, ll, &mut LatLngIndexer::default()).0)
}

/// The resolution-15 cell of (`lon`, `lat`) and its [`fix_code`], from one conversion of the point (h3o
/// takes latitude first); `(0, 0)` for a point h3o refuses (never a validated `LonLat`).
#[must_use]
pub fn cell15_and_fix(lon: f64, lat: f64) -> (u64, u32) {
    let Ok(ll) = LatLng::new(lat, lon) else { return (0, 0) };
    let mut indexer = LatLngIndexer::default();
    let cell = u64::from(indexer.to_cell(ll, Resolution::Fifteen));
    (cell, fix_code_with(cell, ll, &mut indexer).0)
}

/// Whether a fix code has a resolution neither the ancestor nor a neighbour holds (code 7), so the
/// event's own cells must be kept beside it.
fn is_far(code: u32) -> bool {
    (0..=MAX_RES - MIN_RES).any(|r| (code >> (3 * u32::from(r))) & 7 == 7)
}

/// [`fix_code`] with an indexer, and the event's own cells when some resolution needs them.
fn fix_code_with(cell15: u64, ll: LatLng, indexer: &mut LatLngIndexer) -> (u32, Option<[u64; 8]>) {
    let mut code = 0;
    let mut own = [0u64; 8];
    let mut far = false;
    for r in MIN_RES..=MAX_RES {
        let Ok(res) = Resolution::try_from(r) else { continue };
        let direct = indexer.to_cell(ll, res);
        own[usize::from(r - MIN_RES)] = u64::from(direct);
        let ancestor = ancestor_bits(cell15, r);
        let c = if u64::from(direct) == ancestor {
            0
        } else {
            CellIndex::try_from(ancestor)
                .ok()
                .and_then(|a| a.edges().position(|e| e.destination() == direct))
                .and_then(|p| u32::try_from(p + 1).ok())
                .unwrap_or_else(|| {
                    far = true;
                    7
                })
        };
        code |= c << (3 * u32::from(r - MIN_RES));
    }
    (code, far.then_some(own))
}

/// Builds a block: rows pushed in any order, the fix codes not given computed in parallel, sorted by
/// cell.
#[derive(Debug, Default)]
pub struct ColumnsBuilder {
    rows: Block,
    dicts: Dicts,
    /// Rows whose fix code must be computed (not given, or one resolution is far).
    compute: Vec<u32>,
}

impl ColumnsBuilder {
    /// A builder extending `base`'s dictionaries (so its numbers stay valid).
    #[must_use]
    pub fn extending(base: &EventColumns) -> Self {
        Self { dicts: (*base.dicts).clone(), ..Self::default() }
    }

    /// Room for `n` more events in every column, so a read of known size allocates each column once.
    pub fn reserve(&mut self, n: usize) {
        let b = &mut self.rows;
        b.cell.reserve_exact(n);
        b.fix.reserve_exact(n);
        b.day.reserve_exact(n);
        b.kind.reserve_exact(n);
        b.key.reserve_exact(n);
        b.offense.reserve_exact(n);
        b.group.reserve_exact(n);
        b.source.reserve_exact(n);
        b.zone.reserve_exact(n);
        b.lon.reserve_exact(n);
        b.lat.reserve_exact(n);
    }

    /// Adds one event.
    pub fn push(&mut self, row: &ColumnRow<'_>) {
        let b = &mut self.rows;
        match row.fix {
            Some(code) if !is_far(code) => b.fix.push(code),
            _ => {
                self.compute.push(u32::try_from(b.cell.len()).unwrap_or(u32::MAX));
                b.fix.push(0);
            }
        }
        b.cell.push(row.cell);
        b.day.push(day_number(row.day));
        b.kind.push(kind_no(row.kind));
        b.key.push(row.record_key);
        b.offense.push(self.dicts.offense.id(Some(row.offense)));
        b.group.push(self.dicts.group.id(row.group));
        b.source.push(self.dicts.source.id(Some(row.source)));
        b.zone.push(self.dicts.zone.id(row.zone));
        b.lon.push(row.lon);
        b.lat.push(row.lat);
    }

    /// Events pushed so far.
    #[must_use]
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether none were pushed.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.rows.cell.is_empty()
    }

    /// How many of the events pushed so far had no stored fix code (computed at build).
    #[must_use]
    pub fn to_compute(&self) -> usize {
        self.compute.len()
    }

    /// The block, the missing fix codes computed on every core and rows sorted by cell (each column
    /// reordered in turn, so at most one column is held twice); and the dictionaries.
    fn build(self) -> (Block, Dicts) {
        let Self { rows: mut block, dicts, compute } = self;
        let computed: Vec<(u32, Option<[u64; 8]>)> = compute
            .par_iter()
            .with_min_len(4096)
            .map_init(LatLngIndexer::default, |indexer, &i| {
                let i = i as usize;
                LatLng::new(block.lat[i], block.lon[i])
                    .map_or((0, None), |ll| fix_code_with(block.cell[i], ll, indexer))
            })
            .collect();
        let mut far: HashMap<u32, [u64; 8]> = HashMap::new();
        for (&i, (code, own)) in compute.iter().zip(computed) {
            block.fix[i as usize] = code;
            if let Some(own) = own {
                far.insert(i, own);
            }
        }
        if block.cell.is_sorted() {
            block.far = far;
            return (block, dicts);
        }
        let mut order: Vec<u32> = (0..u32::try_from(block.len()).unwrap_or(u32::MAX)).collect();
        order.par_sort_unstable_by_key(|&i| block.cell[i as usize]);
        permute(&mut block.cell, &order);
        permute(&mut block.fix, &order);
        permute(&mut block.day, &order);
        permute(&mut block.kind, &order);
        permute(&mut block.key, &order);
        permute(&mut block.offense, &order);
        permute(&mut block.group, &order);
        permute(&mut block.source, &order);
        permute(&mut block.zone, &order);
        permute(&mut block.lon, &order);
        permute(&mut block.lat, &order);
        if !far.is_empty() {
            for (new, old) in order.iter().enumerate() {
                if let Some(own) = far.remove(old) {
                    block.far.insert(u32::try_from(new).unwrap_or(u32::MAX), own);
                }
            }
        }
        (block, dicts)
    }

    /// A snapshot holding only these events.
    #[must_use]
    pub fn finish(self) -> EventColumns {
        EventColumns::default().appended(self)
    }

    /// These events as one part of a snapshot built in parts (see [`EventColumns::from_parts`]): fix
    /// codes computed and rows sorted now, on the calling thread (and rayon's).
    #[must_use]
    pub fn into_part(self) -> ColumnsPart {
        let (block, dicts) = self.build();
        ColumnsPart { block, dicts }
    }
}

/// Events built into a block on their own, with their own dictionaries (see
/// [`EventColumns::from_parts`]).
#[derive(Debug)]
pub struct ColumnsPart {
    block: Block,
    dicts: Dicts,
}

/// The hull of `old` and every point of `blocks`: the hull of the pieces' hulls, so each piece's points
/// are copied once, not a whole block's. A piece's hull keeps its extreme points even when it has no
/// area.
fn hull_of(old: Option<&geo::Polygon<f64>>, blocks: &[&Block]) -> Option<Arc<geo::Polygon<f64>>> {
    let pieces: Vec<Vec<[f64; 2]>> = blocks
        .par_iter()
        .flat_map(|b| b.lon.par_chunks(65_536).zip(b.lat.par_chunks(65_536)))
        .map(|(lon, lat)| {
            let mp: geo::MultiPoint<f64> = lon.iter().zip(lat).map(|(&x, &y)| geo::Point::new(x, y)).collect();
            geo::ConvexHull::convex_hull(&mp).exterior().0.iter().map(|c| [c.x, c.y]).collect()
        })
        .collect();
    let old = old.into_iter().flat_map(|h| h.exterior().0.iter().map(|c| [c.x, c.y]));
    super::area::hull(old.chain(pieces.into_iter().flatten())).map(Arc::new)
}

/// `column` in `order` (its `k`-th element becomes the one at `order[k]`).
fn permute<T: Copy + Send + Sync>(column: &mut Vec<T>, order: &[u32]) {
    let mut sorted = Vec::with_capacity(column.len());
    order.par_iter().map(|&i| column[i as usize]).collect_into_vec(&mut sorted);
    *column = sorted;
}

/// Small blocks are merged once there are more than this many beside the first.
const MAX_BLOCKS: usize = 8;

impl EventColumns {
    /// Events held.
    #[must_use]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it holds none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The dictionaries (zone, group, offense and source names by number).
    #[must_use]
    pub fn dicts(&self) -> &Dicts {
        &self.dicts
    }

    /// A new snapshot: these events and the ones built in `more` (made with [`ColumnsBuilder::extending`]
    /// this snapshot, or from scratch when this one is empty), as one more block. See
    /// [`EventColumns::compacted`].
    #[must_use]
    pub fn appended(&self, more: ColumnsBuilder) -> Self {
        if more.is_empty() {
            return self.clone();
        }
        let (block, dicts) = more.build();
        let hull = hull_of(self.hull.as_deref(), &[&block]);
        let mut blocks = self.blocks.clone();
        let len = self.len + block.len();
        blocks.push(Arc::new(block));
        let large = self.large.max(1);
        Self { blocks, dicts: Arc::new(dicts), len, hull, areas: None, large }
    }

    /// A snapshot of the events of `parts` (built apart, each with its own dictionaries, e.g. on one
    /// thread each), a block each: the parts' name numbers are renumbered into one set of
    /// dictionaries.
    #[must_use]
    pub fn from_parts(parts: Vec<ColumnsPart>) -> Self {
        fn renumber(mine: &mut Dict, theirs: &Dict, column: &mut [u32]) {
            let map: Vec<u32> = std::iter::once(0).chain(theirs.names().iter().map(|n| mine.id(Some(n)))).collect();
            if map.iter().enumerate().any(|(i, &id)| id as usize != i) {
                column.par_iter_mut().for_each(|id| *id = map.get(*id as usize).copied().unwrap_or(0));
            }
        }
        let mut dicts = Dicts::default();
        let mut blocks = Vec::with_capacity(parts.len());
        for ColumnsPart { mut block, dicts: theirs } in parts {
            if block.len() == 0 {
                continue;
            }
            renumber(&mut dicts.offense, &theirs.offense, &mut block.offense);
            renumber(&mut dicts.group, &theirs.group, &mut block.group);
            renumber(&mut dicts.source, &theirs.source, &mut block.source);
            renumber(&mut dicts.zone, &theirs.zone, &mut block.zone);
            blocks.push(block);
        }
        let hull = hull_of(None, &blocks.iter().collect::<Vec<_>>());
        let len = blocks.iter().map(Block::len).sum();
        let large = blocks.len().max(1);
        Self {
            blocks: blocks.into_iter().map(Arc::new).collect(),
            dicts: Arc::new(dicts),
            len,
            hull,
            areas: None,
            large,
        }
    }

    /// How many blocks the events are held in.
    #[must_use]
    pub fn blocks(&self) -> usize {
        self.blocks.len()
    }

    /// Whether small blocks have piled up beside the first.
    #[must_use]
    pub fn needs_compaction(&self) -> bool {
        self.blocks.len() > MAX_BLOCKS + self.large.max(1)
    }

    /// The same events in fewer blocks: the small ones merged into one, and into the large ones too once
    /// they add up to a quarter of them (so the work stays proportional to what was appended).
    #[must_use]
    pub fn compacted(&self) -> Self {
        let large = self.large.clamp(1, self.blocks.len().max(1));
        if self.blocks.len() < 2 || self.blocks.len() == large {
            return self.clone();
        }
        let held: usize = self.blocks[..large].iter().map(|b| b.len()).sum();
        let small: usize = self.blocks[large..].iter().map(|b| b.len()).sum();
        let from = if small * 4 < held { large } else { 0 };
        let merged = merge(&self.blocks[from..]);
        let mut blocks = self.blocks[..from].to_vec();
        blocks.push(Arc::new(merged));
        let large = if from == 0 { 1 } else { large };
        Self { blocks, areas: None, large, ..self.clone() }
    }

    /// `compacted` (made from `base`, an earlier snapshot of this one) with the blocks appended since
    /// `base`; none when this snapshot does not extend `base` (it was replaced meanwhile).
    #[must_use]
    pub fn rebased(&self, base: &Self, compacted: Self) -> Option<Self> {
        let n = base.blocks.len();
        let extends = self.blocks.len() >= n && self.blocks.iter().zip(&base.blocks).all(|(a, b)| Arc::ptr_eq(a, b));
        extends.then(|| {
            let mut blocks = compacted.blocks;
            blocks.extend(self.blocks[n..].iter().cloned());
            Self { blocks, areas: None, large: compacted.large, ..self.clone() }
        })
    }

    /// The convex hull of every event's point (lon, lat), when there are three or more apart.
    #[must_use]
    pub fn hull(&self) -> Option<&geo::Polygon<f64>> {
        self.hull.as_deref()
    }

    /// The names of the areas events are counted in: the stored zone ids, or a view's areas.
    #[must_use]
    pub fn zone_names(&self) -> &Dict {
        self.areas.as_ref().map_or(&self.dicts.zone, |a| &a.names)
    }

    /// A view of the same events counted in other areas: `names` are the areas (numbered from 1; 0 is
    /// outside every zone), and `assign` gives the area number of each row of a piece of a block, in
    /// order (one number a row). Zone filters and [`EventRef::zone`] then follow the new areas, and
    /// [`Self::zone_names`] names them. Pieces are assigned on every core. A view is for counting: what is
    /// appended to it, or compacted from it, counts by the stored zones again.
    #[must_use]
    pub fn with_areas(&self, names: &[String], assign: impl Fn(AreaRows<'_>) -> Vec<u32> + Sync) -> Self {
        const PIECE: usize = 1 << 16;
        let mut dict = Dict::default();
        for n in names {
            dict.id(Some(n));
        }
        let per_block = self
            .blocks
            .iter()
            .map(|b| {
                let n = b.len();
                let pieces: Vec<Vec<u32>> = (0..n.div_ceil(PIECE))
                    .into_par_iter()
                    .map(|p| {
                        let r = p * PIECE..((p + 1) * PIECE).min(n);
                        let rows = AreaRows {
                            lon: &b.lon[r.clone()],
                            lat: &b.lat[r.clone()],
                            day: &b.day[r.clone()],
                            zone: &b.zone[r.clone()],
                        };
                        let mut got = assign(rows);
                        got.resize(r.len(), 0);
                        got
                    })
                    .collect();
                pieces.concat()
            })
            .collect();
        Self { areas: Some(Arc::new(Areas { names: dict, per_block })), ..self.clone() }
    }

    fn compile(&self, f: &EventFilter) -> Compiled {
        let mut none = false;
        let mut id = |dict: &Dict, name: Option<&str>| -> Option<u32> {
            let name = name?;
            let got = dict.get(name);
            none |= got.is_none();
            Some(got.unwrap_or(u32::MAX))
        };
        let offense = id(&self.dicts.offense, f.offense.as_deref());
        let group = id(&self.dicts.group, f.group.as_deref());
        let source = id(&self.dicts.source, f.source.as_deref());
        let zone = match &f.zone {
            None => None,
            Some(None) => Some(0),
            Some(Some(z)) => id(self.zone_names(), Some(z)),
        };
        Compiled {
            from: f.from.map_or(i32::MIN, day_number),
            to: f.to.map_or(i32::MAX, day_number),
            kinds: f.kind.map_or(EVERY_KIND, |k| 1 << kind_no(k)),
            offense,
            zone,
            group,
            source,
            none,
        }
    }

    /// Work units: (block number, block, row range), about a million rows each, so every core gets
    /// several; in block and row order.
    fn chunks(&self) -> Vec<(usize, Rows<'_>, std::ops::Range<usize>)> {
        // Small in unit tests, so runs straddle chunks there too.
        const CHUNK: usize = if cfg!(test) { 256 } else { 1 << 20 };
        // `count_run` sums a chunk's record keys in 32 bits.
        const _: () = assert!(2 * CHUNK * 255 < 1 << 32);
        let mut out = Vec::new();
        for (bi, b) in self.blocks.iter().enumerate() {
            let n = b.len();
            let mut start = 0;
            while start < n {
                let mut end = (start + CHUNK).min(n);
                // Keep a run of one res-5 ancestor (the coarsest) inside one chunk when it is short.
                let stop = ancestor_bits(b.cell[end - 1], MIN_RES);
                while end < n && end - start < 2 * CHUNK && ancestor_bits(b.cell[end], MIN_RES) == stop {
                    end += 1;
                }
                let zone = self.areas.as_ref().map_or(b.zone.as_slice(), |a| a.per_block[bi].as_slice());
                out.push((bi, Rows { b, zone }, start..end));
                start = end;
            }
        }
        out
    }

    /// Counts the events `filter` matches per cell at `res`: each in the cell its point lies in (as
    /// h3-py's `latlng_to_cell`), in cell order. Runs on every core: each chunk of rows yields its
    /// ancestors' counts in order (a block's chunks concatenate in order) and, apart, the counts moved to
    /// a neighbour of the ancestor; the sorted lists are then merged.
    #[must_use]
    pub fn count_cells(&self, filter: &EventFilter, res: CellRes) -> CellCounts {
        let f = self.compile(filter);
        if f.none {
            return CellCounts::default();
        }
        let r = u8::from(res.resolution());
        let everything = f.matches_everything();
        let parts: Vec<(usize, RunCounts)> = self
            .chunks()
            .into_par_iter()
            .map(|(bi, rows, range)| {
                let counts = if everything {
                    count_run::<true>(rows, range, &f, r)
                } else {
                    count_run::<false>(rows, range, &f, r)
                };
                (bi, counts)
            })
            .collect();
        // The largest block's chunks keep their own sorted lists; everything else (moved counts, other
        // blocks' lists), each sorted on its chunk's core, is split by the own lists' key ranges, and each
        // own list merges its share on its own core.
        let big = (0..self.blocks.len()).max_by_key(|&i| self.blocks[i].len()).unwrap_or(0);
        let mut own_lists = Vec::new();
        let mut extras: Vec<Vec<(u64, KindCounts)>> = Vec::new();
        for (bi, part) in parts {
            if bi == big {
                own_lists.push(part.own);
            } else {
                extras.push(part.own.into_iter().map(|(c, n)| (u64::from(c), n)).collect());
            }
            extras.push(part.moved);
        }
        let firsts: Vec<Option<u64>> = own_lists.iter().map(|l| l.first().map(|(c, _)| u64::from(*c))).collect();
        let Some(first_nonempty) = firsts.iter().position(Option::is_some) else {
            return CellCounts(vec![sorted_cells(extras.concat())]);
        };
        // Own list k takes the extras from its first cell up to the next non-empty list's first cell; the
        // first non-empty list takes everything below too.
        let bounds: Vec<(Option<u64>, Option<u64>)> = (0..own_lists.len())
            .map(|k| {
                let lo = if k == first_nonempty { None } else { firsts[k] };
                let hi = firsts[k + 1..].iter().flatten().next().copied();
                (lo, hi)
            })
            .collect();
        let mut merged = own_lists;
        merged.par_iter_mut().zip(bounds).enumerate().for_each(|(k, (own, (lo, hi)))| {
            if firsts[k].is_none() {
                return;
            }
            let mut share = Vec::new();
            for list in &extras {
                let a = lo.map_or(0, |lo| list.partition_point(|(c, _)| *c < lo));
                let b = hi.map_or(list.len(), |hi| list.partition_point(|(c, _)| *c < hi));
                share.extend_from_slice(&list[a..b.max(a)]);
            }
            merge_in_place(own, &sorted_cells(share));
        });

        // A run of one cell can straddle two chunks: fold the later chunk's first entry into the earlier.
        let mut last: Option<(usize, CellIndex)> = None;
        let mut skip = vec![0usize; merged.len()];
        for k in 0..merged.len() {
            let Some(&(first, n)) = merged[k].first() else { continue };
            if let Some((j, cell)) = last
                && cell == first
            {
                if let Some(e) = merged[j].last_mut() {
                    e.1.add_counts(&n);
                }
                skip[k] = 1;
                if merged[k].len() == 1 {
                    continue; // all of this chunk went into the earlier one
                }
            }
            last = merged[k].last().map(|(c, _)| (k, *c));
        }
        for (list, s) in merged.iter_mut().zip(&skip) {
            if *s > 0 {
                list.drain(..*s);
            }
        }
        CellCounts(merged)
    }

    /// Whether any event is of `kind` (a scan of one byte a row, stopping at the first).
    #[must_use]
    pub fn has_kind(&self, kind: EventKind) -> bool {
        let k = kind_no(kind);
        self.blocks.iter().any(|b| b.kind.contains(&k))
    }

    /// The first and last day (day numbers) of the events `filter` matches; none when it matches none.
    #[must_use]
    pub fn day_range(&self, filter: &EventFilter) -> Option<(i32, i32)> {
        let (lo, hi) = self.fold(
            filter,
            || (i32::MAX, i32::MIN),
            |acc, e| *acc = (acc.0.min(e.day), acc.1.max(e.day)),
            |a, b| (a.0.min(b.0), a.1.max(b.1)),
        );
        (lo <= hi).then_some((lo, hi))
    }

    /// Folds every event `filter` matches into per-core accumulators (`init`, `step`), then joins them
    /// (`join`). For tallies other than cells (per zone, month or group).
    pub fn fold<T: Send>(
        &self,
        filter: &EventFilter,
        init: impl Fn() -> T + Sync + Send,
        step: impl Fn(&mut T, EventRef) + Sync + Send,
        join: impl Fn(T, T) -> T + Sync + Send,
    ) -> T {
        let f = self.compile(filter);
        if f.none {
            return init();
        }
        self.chunks()
            .into_par_iter()
            .map(|(_, Rows { b, zone }, range)| {
                let mut acc = init();
                for i in range {
                    if f.matches(b, zone, i) {
                        let ev = EventRef {
                            day: b.day[i],
                            kind: KINDS[usize::from(b.kind[i])],
                            zone: zone[i],
                            group: b.group[i],
                            cell: b.cell[i],
                            key: b.key[i],
                        };
                        step(&mut acc, ev);
                    }
                }
                acc
            })
            .reduce(&init, &join)
    }
}

/// A block and the area column a snapshot counts it by (its stored zones, or a view's areas).
#[derive(Clone, Copy, Debug)]
struct Rows<'a> {
    b: &'a Block,
    zone: &'a [u32],
}

/// The counts of one chunk of rows: its ancestors' own counts, in cell order, and the counts moved to a
/// neighbour of their ancestor (or, rarely, further), in no order.
#[derive(Debug, Default)]
struct RunCounts {
    own: Vec<(CellIndex, KindCounts)>,
    moved: Vec<(u64, KindCounts)>,
}

/// Counts one chunk; `ALL` when the filter matches every row (the row test is skipped).
fn count_run<const ALL: bool>(rows: Rows<'_>, range: std::ops::Range<usize>, f: &Compiled, r: u8) -> RunCounts {
    let Rows { b, zone } = rows;
    let shift = 3 * u32::from(r - MIN_RES);
    // At most one entry per row; untouched capacity costs no memory.
    let mut out = RunCounts { own: Vec::with_capacity(range.len()), moved: Vec::with_capacity(range.len() / 8) };
    let mut current = u64::MAX;
    // By fix code (0: the ancestor itself, 1..=6: its neighbours) and kind, the count in the high 32
    // bits and the sum of the record keys in the low 32 (a chunk has at most 2^21 rows, so the key sum
    // stays below 2^29: one addition an event counts both); and which codes the run has.
    let mut acc = [[0u64; EventKind::COUNT]; 7];
    let mut touched = 0u8;
    let flush = |cell: u64, acc: &mut [[u64; EventKind::COUNT]; 7], touched: u8, out: &mut RunCounts| {
        // The low byte of a key sum is the sum modulo 256.
        let counts =
            |n: &[u64; EventKind::COUNT]| KindCounts::from_array(n.map(|v| v >> 32), n.map(|v| v.to_le_bytes()[0]));
        if touched & 1 != 0 {
            if let Ok(c) = CellIndex::try_from(cell) {
                out.own.push((c, counts(&acc[0])));
            }
            acc[0] = [0; EventKind::COUNT];
        }
        if touched & !1 == 0 {
            return;
        }
        let Ok(ancestor) = CellIndex::try_from(cell) else { return };
        for (code, n) in acc.iter_mut().enumerate().skip(1) {
            if touched & (1 << code) != 0 {
                if let Some(e) = ancestor.edges().nth(code - 1) {
                    out.moved.push((u64::from(e.destination()), counts(n)));
                }
                *n = [0; EventKind::COUNT];
            }
        }
    };
    for i in range {
        if !ALL && !f.matches(b, zone, i) {
            continue;
        }
        let code = (b.fix[i] >> shift) & 7;
        if code == 7 {
            if let Some(own) = b.far.get(&u32::try_from(i).unwrap_or(u32::MAX)) {
                let mut n = KindCounts::default();
                n.add(KINDS[usize::from(b.kind[i])], b.key[i]);
                out.moved.push((own[usize::from(r - MIN_RES)], n));
            }
            continue;
        }
        let a = ancestor_bits(b.cell[i], r);
        if a != current {
            if touched != 0 {
                flush(current, &mut acc, touched, &mut out);
            }
            current = a;
            touched = 0;
        }
        acc[code as usize][usize::from(b.kind[i])] += (1 << 32) | u64::from(b.key[i]);
        touched |= 1 << code;
    }
    if touched != 0 {
        flush(current, &mut acc, touched, &mut out);
    }
    out.moved.sort_unstable_by_key(|(c, _)| *c);
    out
}

/// Counts by cell (sorted runs, repeats) as cells in order, the counts of one cell added. The stable sort
/// merges the sorted runs rather than sorting afresh.
fn sorted_cells(mut list: Vec<(u64, KindCounts)>) -> Vec<(CellIndex, KindCounts)> {
    list.sort_by_key(|(c, _)| *c);
    let mut out: Vec<(CellIndex, KindCounts)> = Vec::with_capacity(list.len());
    for (c, n) in list {
        match out.last_mut() {
            Some((last, acc)) if u64::from(*last) == c => acc.add_counts(&n),
            _ => {
                if let Ok(cell) = CellIndex::try_from(c) {
                    out.push((cell, n));
                }
            }
        }
    }
    out
}

/// Merges `extra` (sorted, distinct cells) into `own` (the same) where it lies, from the back, so the
/// list's memory is reused; counts of one cell are added.
fn merge_in_place(own: &mut Vec<(CellIndex, KindCounts)>, extra: &[(CellIndex, KindCounts)]) {
    if extra.is_empty() {
        return;
    }
    let n = own.len();
    own.extend_from_slice(extra); // room; overwritten below
    let (mut i, mut j, mut k) = (n, extra.len(), own.len());
    while j > 0 {
        k -= 1;
        if i > 0 && own[i - 1].0 > extra[j - 1].0 {
            own[k] = own[i - 1];
            i -= 1;
        } else if i > 0 && own[i - 1].0 == extra[j - 1].0 {
            let mut sum = own[i - 1].1;
            sum.add_counts(&extra[j - 1].1);
            own[k] = (own[i - 1].0, sum);
            i -= 1;
            j -= 1;
        } else {
            own[k] = extra[j - 1];
            j -= 1;
        }
    }
    // own[..i] is in order already; the merged part starts at k. Cells met in both leave k - i slots:
    // the merged part moves down over them, once.
    if k > i {
        let len = own.len();
        own.copy_within(k..len, i);
        own.truncate(len - (k - i));
    }
}

/// One block from several, sorted by cell again.
fn merge(blocks: &[Arc<Block>]) -> Block {
    let mut order: Vec<(u64, usize, u32)> = blocks
        .iter()
        .enumerate()
        .flat_map(|(bi, b)| b.cell.iter().enumerate().map(move |(i, &c)| (c, bi, i as u32)))
        .collect();
    order.par_sort_unstable_by_key(|&(c, bi, i)| (c, bi, i));
    let mut out = Block::default();
    for (new, &(c, bi, i)) in order.iter().enumerate() {
        let b = &blocks[bi];
        let i = i as usize;
        out.cell.push(c);
        out.fix.push(b.fix[i]);
        out.day.push(b.day[i]);
        out.kind.push(b.kind[i]);
        out.key.push(b.key[i]);
        out.offense.push(b.offense[i]);
        out.group.push(b.group[i]);
        out.source.push(b.source[i]);
        out.zone.push(b.zone[i]);
        out.lon.push(b.lon[i]);
        out.lat.push(b.lat[i]);
        if let Some(own) = b.far.get(&(i as u32)) {
            out.far.insert(new as u32, *own);
        }
    }
    out
}

/// The month number (year × 12 + month − 1) of a day number, for per-month tallies.
#[must_use]
pub fn month_number(day: i32) -> i32 {
    day_date(day).map_or(0, |d| d.year() * 12 + d.month0().cast_signed())
}

/// `YYYY-MM` of a month number (see [`month_number`]).
#[must_use]
pub fn month_label(m: i32) -> String {
    NaiveDate::from_ymd_opt(m.div_euclid(12), m.rem_euclid(12).cast_unsigned() + 1, 1)
        .map_or_else(|| "?".to_owned(), |d| d.format("%Y-%m").to_string())
}

/// The month (first day) of a day number, e.g. for per-month tallies.
#[must_use]
pub fn month_of(day: i32) -> Option<NaiveDate> {
    day_date(day).and_then(|d| NaiveDate::from_ymd_opt(d.year(), d.month(), 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (res-15 cell, lon, lat, day, kind, zone).
    type Row = (u64, f64, f64, NaiveDate, EventKind, Option<&'static str>);

    fn row(lon: f64, lat: f64, day: &str, kind: EventKind, zone: Option<&'static str>) -> Row {
        let cell = u64::from(LatLng::new(lat, lon).unwrap().to_cell(Resolution::Fifteen));
        (cell, lon, lat, day.parse().unwrap(), kind, zone)
    }

    #[test]
    fn one_conversion_gives_the_cell_and_fix_code_that_h3o_and_fix_code_give() {
        let mut seed = 7u64;
        let mut next = || {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (seed >> 11) as f64 / (1u64 << 53) as f64
        };
        for _ in 0..2000 {
            let (lon, lat) = (-122.8 + 0.3 * next(), 45.4 + 0.2 * next());
            let cell = u64::from(LatLng::new(lat, lon).unwrap().to_cell(Resolution::Fifteen));
            assert_eq!(cell15_and_fix(lon, lat), (cell, fix_code(cell, lon, lat)), "{lon} {lat}");
        }
    }

    /// A test row's record key: any fixed function of the row will do.
    fn key_of(cell: u64, day: NaiveDate) -> u8 {
        (cell.wrapping_add(day_number(day).unsigned_abs().into()).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as u8
    }

    fn build(rows: &[Row], base: &EventColumns) -> EventColumns {
        let mut b = ColumnsBuilder::extending(base);
        for (i, &(cell, lon, lat, day, kind, zone)) in rows.iter().enumerate() {
            let record_key = key_of(cell, day);
            // A third computed at build, a third as stored, a third stored with every resolution far
            // (so computed again): each must count as the brute force does.
            let fix = match i % 3 {
                0 => None,
                1 => Some(fix_code(cell, lon, lat)),
                _ => Some(0o7777_7777),
            };
            b.push(&ColumnRow {
                cell,
                lon,
                lat,
                day,
                kind,
                offense: "PCS",
                group: Some("white"),
                source: "t",
                zone,
                record_key,
                fix,
            });
        }
        base.appended(b)
    }

    #[test]
    fn merging_in_place_adds_shared_cells_and_keeps_order() {
        let cells: Vec<CellIndex> =
            LatLng::new(45.52, -122.68).unwrap().to_cell(Resolution::Nine).grid_disk::<Vec<_>>(2).into_iter().collect();
        let mut sorted = cells.clone();
        sorted.sort_unstable();
        let one = |n: u64| KindCounts { arrest: n, ..KindCounts::default() };
        let mut own: Vec<(CellIndex, KindCounts)> = sorted.iter().step_by(2).map(|c| (*c, one(1))).collect();
        let extra: Vec<(CellIndex, KindCounts)> = sorted.iter().step_by(3).map(|c| (*c, one(10))).collect();
        let mut want: std::collections::BTreeMap<CellIndex, u64> = std::collections::BTreeMap::new();
        for (c, n) in own.iter().chain(&extra) {
            *want.entry(*c).or_default() += n.arrest;
        }
        merge_in_place(&mut own, &extra);
        let got: Vec<(CellIndex, u64)> = own.iter().map(|(c, n)| (*c, n.arrest)).collect();
        assert_eq!(got, want.into_iter().collect::<Vec<_>>());
    }

    #[test]
    fn ancestor_bits_are_h3o_parents() {
        let c = LatLng::new(45.52, -122.68).unwrap().to_cell(Resolution::Fifteen);
        for r in 0..=15u8 {
            let res = Resolution::try_from(r).unwrap();
            assert_eq!(ancestor_bits(u64::from(c), r), u64::from(c.parent(res).unwrap()), "res {r}");
        }
    }

    #[test]
    fn counts_follow_each_points_own_cell_through_appends_and_filters() {
        // Brute force: h3o's latlng_to_cell per point at every resolution, against the columns.
        let mut rng = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            (rng >> 11) as f64 / (1u64 << 53) as f64
        };
        let days = ["2017-03-01", "2018-06-15", "2020-01-31"];
        let zones = [None, Some("downtown"), Some("old-town")];
        let rows: Vec<_> = (0..6000)
            .map(|i| row(-122.72 + next() * 0.08, 45.49 + next() * 0.06, days[i % 3], KINDS[(i / 3) % 3], zones[i % 3]))
            .collect();
        let mut cols = EventColumns::default();
        for chunk in rows.chunks(500) {
            let before = cols.clone();
            cols = build(chunk, &cols);
            if cols.needs_compaction() {
                // Compacted from an earlier snapshot while another block came in.
                let compacted = before.compacted();
                cols = cols.rebased(&before, compacted).unwrap();
            }
        }
        assert_eq!(cols.len(), 6000);
        assert!(cols.blocks.len() <= MAX_BLOCKS + 1, "{}", cols.blocks.len());
        let filter = EventFilter {
            from: Some("2018-01-01".parse().unwrap()),
            zone: Some(Some("downtown".into())),
            ..EventFilter::default()
        };
        for r in MIN_RES..=MAX_RES {
            let res: CellRes = r.to_string().parse().unwrap();
            let mut want = std::collections::BTreeMap::<CellIndex, KindCounts>::new();
            for &(cell, lon, lat, day, kind, zone) in &rows {
                if day >= "2018-01-01".parse().unwrap() && zone == Some("downtown") {
                    let c = LatLng::new(lat, lon).unwrap().to_cell(res.resolution());
                    want.entry(c).or_default().add(kind, key_of(cell, day));
                }
            }
            let got: std::collections::BTreeMap<_, _> = cols.count_cells(&filter, res).into_iter().collect();
            assert_eq!(got, want, "res {r}");
        }
        let unknown = EventFilter { group: Some("nobody".into()), ..EventFilter::default() };
        assert!(cols.count_cells(&unknown, CellRes::DEFAULT).is_empty());
        let outside = EventFilter { zone: Some(None), ..EventFilter::default() };
        let n: u64 = cols.count_cells(&outside, CellRes::DEFAULT).iter().map(|(_, k)| k.total()).sum();
        assert_eq!(n, 2000);
    }

    #[test]
    fn a_read_in_parts_keeps_its_large_blocks_until_appends_add_up_to_a_quarter() {
        let rows: Vec<_> = (0..5000)
            .map(|i| {
                let (x, y) = ((i % 71) as f64 / 71.0, (i % 67) as f64 / 67.0);
                row(-122.72 + x * 0.08, 45.49 + y * 0.06, ["2017-03-01", "2019-01-02"][i % 2], KINDS[i % 3], None)
            })
            .collect();
        // Two parts of 2000 read apart, then appends of 50.
        let part = |rows: &[Row]| {
            let mut b = ColumnsBuilder::default();
            for &(cell, lon, lat, day, kind, zone) in rows {
                let record_key = key_of(cell, day);
                let group = Some(if lat > 45.52 { "north" } else { "south" });
                b.push(&ColumnRow {
                    cell,
                    lon,
                    lat,
                    day,
                    kind,
                    offense: "PCS",
                    group,
                    source: "t",
                    zone,
                    record_key,
                    fix: None,
                });
            }
            b.into_part()
        };
        let mut cols = EventColumns::from_parts(vec![part(&rows[..2000]), part(&rows[2000..4000])]);
        assert_eq!((cols.blocks(), cols.len()), (2, 4000));
        for (k, chunk) in rows[4000..].chunks(50).enumerate() {
            cols = build(chunk, &cols);
            if cols.needs_compaction() {
                cols = cols.compacted();
            }
            let appended = 50 * (k + 1);
            if appended < 1000 {
                assert!(cols.blocks() <= 2 + MAX_BLOCKS && cols.blocks() >= 2, "{appended}: {}", cols.blocks());
                assert_eq!(cols.blocks[0].len() + cols.blocks[1].len(), 4000, "the large blocks stay as read");
            }
        }
        assert!(cols.blocks() < 2 + MAX_BLOCKS);
        assert_eq!(cols.len(), 5000);
        for res in [5u8, 9, 12] {
            let res: CellRes = res.to_string().parse().unwrap();
            let mut want = std::collections::BTreeMap::<CellIndex, KindCounts>::new();
            for &(cell, lon, lat, day, kind, _) in &rows {
                want.entry(LatLng::new(lat, lon).unwrap().to_cell(res.resolution()))
                    .or_default()
                    .add(kind, key_of(cell, day));
            }
            let got: std::collections::BTreeMap<_, _> =
                cols.count_cells(&EventFilter::default(), res).into_iter().collect();
            assert_eq!(got, want);
        }
        // The parts' group names, first seen in another order in each part, still count as one.
        let north = EventFilter { group: Some("north".into()), ..EventFilter::default() };
        let n: u64 = cols.count_cells(&north, CellRes::DEFAULT).iter().map(|(_, k)| k.total()).sum();
        let want = rows[..4000].iter().filter(|r| r.2 > 45.52).count() as u64;
        assert_eq!(n, want);
    }
}
