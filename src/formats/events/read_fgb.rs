//! The FlatGeobuf reader: features in the CRS the header names, streamed.
use std::io::Read;

use super::batch::Batcher;
use super::layout::Layout;
use super::{ImportError, ImportOptions, RowBatch};
use crate::projection::Crs;

/// Reads a FlatGeobuf file of Point features in file order, like [`read_events_csv`](super::read_events_csv); the "line" of a
/// reject is the feature's number. The file's CRS (from its header) is used unless `--crs` says otherwise.
pub fn read_events_fgb<E: From<ImportError>>(
    input: impl Read,
    file: &str,
    opts: &ImportOptions,
    batch: usize,
    sink: impl FnMut(RowBatch) -> Result<(), E>,
) -> Result<(), E> {
    use flatgeobuf::{FallibleStreamingIterator, FgbReader};
    use geozero::FeatureProperties;
    let bad = |reason: String| ImportError::Setup { file: file.to_owned(), reason };
    let (input, frames) = crate::formats::fgbframes::FrameGuard::new(input);
    let fgb = FgbReader::open(input).map_err(|e| bad(format!("not a FlatGeobuf file: {e}")))?;
    let header = fgb.header();
    let names: Vec<String> =
        header.columns().map(|cols| cols.iter().map(|c| c.name().to_owned()).collect()).unwrap_or_default();
    let file_crs = match header.crs().map(|c| c.code()) {
        None | Some(0 | 4326) => None,
        Some(code) if opts.crs.is_some() => Crs::from_epsg(code.cast_unsigned()).ok(),
        Some(code) => Some(Crs::from_epsg(code.cast_unsigned()).map_err(|e| {
            bad(format!(
                "the file's CRS is EPSG:{code}, which leadmap cannot transform ({e}); reproject it to EPSG:4326"
            ))
        })?),
    };
    let promised = header.features_count();
    let layout = Layout::new(&names, true, file_crs, file, opts)?;
    let mut out = Batcher::new(batch, sink, &layout, opts);
    frames.features_after(crate::formats::fgbframes::index_bytes(fgb.header()));
    let mut iter = crate::formats::contain::contained(|| fgb.select_all_seq())
        .map_err(|()| bad("malformed: its header's feature count and index size do not fit together".into()))?
        .map_err(|e| bad(format!("cannot read features: {e}")))?;
    let mut number = 0u64;
    loop {
        let feature = match iter.next() {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                out.fatal(number + 1, format!("cannot read feature: {e}"));
                break;
            }
        };
        number += 1;
        // The flatgeobuf crate indexes property and geometry buffers by the lengths a feature states, and
        // panics on a corrupt one (found by tests/integration/fuzz.rs): such a feature ends the file as
        // malformed, like a broken CSV record, instead of ending the process.
        let decoded = crate::formats::contain::contained(|| {
            let props = feature.properties().unwrap_or_default();
            let point = crate::formats::geometry::fgb_point_xy(feature).map_err(|e| e.to_string());
            (props, point)
        });
        let Ok((props, point)) = decoded else {
            out.fatal(number, "malformed feature: its stated lengths run past its bytes (a damaged file)".into());
            break;
        };
        let values: Vec<Option<&str>> = layout.names.iter().map(|n| props.get(n).map(String::as_str)).collect();
        let result = layout.event(|i| values.get(i).copied().flatten(), Some(point), opts);
        out.row(number, result, || values.iter().map(|v| v.unwrap_or_default().to_owned()).collect())?;
    }
    // What was read is stored; a file shorter than its header says is then an error, not a success.
    if let Some((n, reason)) = frames.refusal() {
        out.fatal(n, reason);
    }
    out.flush()?;
    if promised > 0 && number < promised {
        return Err(bad(format!(
            "truncated: its header promises {promised} features and the file ends after {number} (those are \
             stored; the other {} are not): copy the whole file and import it again",
            promised - number
        ))
        .into());
    }
    Ok(())
}
