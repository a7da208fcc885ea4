//! `leadmap backup`: a consistent copy of the store while a service serves and ingests into it.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::output;
use crate::Error;

pub(super) const BACKUP_HELP: &str = "\
The copy is one consistent snapshot of the store (SQLite's online backup API, all pages in one step; a
running `leadmap serve` goes on answering and ingesting meanwhile), written beside DEST and renamed to
DEST only once SQLite's integrity check passes on it. DEST must not exist: a backup never replaces a
file. The copy is readable by its owner only (mode 0600). Restore by stopping the service and putting
the copy in the store's place.

Examples:
  leadmap backup /var/backups/leadmap/leadmap-$(date +%F).gpkg
  leadmap backup --data /var/lib/leadmap/leadmap.gpkg /mnt/backup/leadmap.gpkg";

/// `leadmap backup`.
#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Where to write the copy (a new file).
    #[arg(value_name = "DEST")]
    pub dest: PathBuf,
    /// The store to copy.
    #[arg(long, value_name = "FILE", default_value = "leadmap.gpkg")]
    pub data: PathBuf,
}

pub(super) fn backup(args: &BackupArgs) -> Result<ExitCode, Error> {
    let protected = [output::Protected { what: "the store", path: &args.data }];
    output::check(&args.dest, &protected)?;
    if !args.data.exists() {
        return Err(Error::Usage(format!("--data {}: no such store", args.data.display())));
    }
    if args.dest.exists() {
        return Err(Error::Usage(format!(
            "{} exists: a backup never replaces a file. Choose a new name (e.g. with the date in it)",
            args.dest.display()
        )));
    }
    let mut tmp = args.dest.as_os_str().to_owned();
    tmp.push(format!(".partial-{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    // The copy is made new (never through a file or link already there) and readable by its owner only:
    // it holds every stored event.
    {
        let mut new = std::fs::OpenOptions::new();
        new.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut new, 0o600);
        new.open(&tmp).map_err(|source| Error::Io { path: tmp.display().to_string(), source })?;
    }
    let report = crate::store::gpkg::backup(&args.data, &tmp).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })?;
    // A hard link is made only if DEST is still free: a file made there meanwhile is never replaced.
    let placed = std::fs::hard_link(&tmp, &args.dest);
    let _ = std::fs::remove_file(&tmp);
    placed.map_err(|source| Error::Io { path: args.dest.display().to_string(), source })?;
    eprintln!(
        "backed up {} events ({:.1} MB) from {} to {}",
        report.events,
        report.bytes as f64 / 1e6,
        args.data.display(),
        args.dest.display()
    );
    Ok(ExitCode::SUCCESS)
}
