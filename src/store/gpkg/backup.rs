//! A consistent copy of the store while it is served and written (`SQLite`'s online backup API).
use std::path::Path;

use rusqlite::Connection;

use crate::store::StoreError;

/// What [`backup`] copied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BackupReport {
    /// Events in the copy.
    pub events: u64,
    /// Bytes of the copy.
    pub bytes: u64,
}

/// Copies the store at `src` into `dest` (a new file) with `SQLite`'s online backup API, all pages in one
/// step: the copy is one consistent snapshot of the store while a service goes on writing to it (in WAL
/// mode a reader does not stop the writer). The copy is then checked (`PRAGMA integrity_check`, and its
/// events counted).
pub fn backup(src: &Path, dest: &Path) -> Result<BackupReport, StoreError> {
    let name = src.display().to_string();
    let sqlite = |path: &Path| {
        let path = path.display().to_string();
        move |source| StoreError::Sqlite { path: path.clone(), source }
    };
    let from = Connection::open_with_flags(src, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(sqlite(src))?;
    from.busy_timeout(std::time::Duration::from_secs(30)).map_err(sqlite(src))?;
    let is_store: bool = from
        .query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'events'", [], |r| r.get(0))
        .map_err(sqlite(src))?;
    if !is_store {
        return Err(StoreError::Incompatible { path: name, reason: "not a leadmap store (no events table)".into() });
    }
    let mut to = Connection::open(dest).map_err(sqlite(dest))?;
    {
        let copy = rusqlite::backup::Backup::new(&from, &mut to).map_err(sqlite(dest))?;
        // Every page in one step (-1): one read transaction, so one snapshot. Busy or locked (a writer
        // checkpointing): ask again.
        let deadline = std::time::Instant::now() + std::time::Duration::from_mins(1);
        loop {
            match copy.step(-1).map_err(sqlite(dest))? {
                rusqlite::backup::StepResult::Done => break,
                _ if std::time::Instant::now() > deadline => {
                    return Err(StoreError::Incompatible {
                        path: name,
                        reason: "the store stayed locked for 60 s; no copy was made".into(),
                    });
                }
                _ => std::thread::sleep(std::time::Duration::from_millis(50)),
            }
        }
    }
    let check: String = to.query_row("PRAGMA integrity_check", [], |r| r.get(0)).map_err(sqlite(dest))?;
    if check != "ok" {
        return Err(StoreError::Incompatible {
            path: dest.display().to_string(),
            reason: format!("the copy does not pass SQLite's integrity check: {check}"),
        });
    }
    let events: i64 = to.query_row("SELECT count(*) FROM events", [], |r| r.get(0)).map_err(sqlite(dest))?;
    drop(to);
    let bytes = std::fs::metadata(dest).map_or(0, |m| m.len());
    Ok(BackupReport { events: events.cast_unsigned(), bytes })
}
