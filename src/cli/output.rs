//! The command line's output files (`-o`, `--rejects`): never the store or an input (compared by device
//! and inode, so a hard link or another spelling of the same path is caught, and by path for a file not
//! made yet), and written to a temporary file beside the destination that is renamed into place only
//! when the command succeeds, so a failed command leaves no half file and an existing file untouched.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::Error;

/// A file a command reads or keeps, which no output may replace.
#[derive(Clone, Copy, Debug)]
pub struct Protected<'a> {
    /// What it is, for the message: `the store`, `an input`, `the zone file`.
    pub what: &'static str,
    /// Its path.
    pub path: &'a Path,
}

/// Whether `a` and `b` are one file: the same device and inode when both exist, else the same absolute
/// path (with the parent directory resolved).
#[must_use]
pub fn same_file(a: &Path, b: &Path) -> bool {
    if let (Ok(ma), Ok(mb)) = (std::fs::metadata(a), std::fs::metadata(b)) {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            return ma.dev() == mb.dev() && ma.ino() == mb.ino();
        }
        #[cfg(not(unix))]
        {
            let _ = (ma, mb);
            return std::fs::canonicalize(a).ok() == std::fs::canonicalize(b).ok();
        }
    }
    let resolved = |p: &Path| -> Option<PathBuf> {
        let abs = std::path::absolute(p).ok()?;
        let parent = abs.parent().map(|d| std::fs::canonicalize(d).unwrap_or_else(|_| d.to_owned()))?;
        Some(parent.join(abs.file_name()?))
    };
    resolved(a).is_some_and(|x| Some(x) == resolved(b))
}

/// Refuses `out` when it is one of `protected` (or a store's `-wal`/`-shm` companion), naming both.
///
/// # Errors
/// A usage error saying which file it would destroy.
pub fn check(out: &Path, protected: &[Protected<'_>]) -> Result<(), Error> {
    for p in protected {
        let mut names = vec![p.path.to_owned()];
        if p.what == "the store" {
            for suffix in ["-wal", "-shm", "-journal"] {
                let mut s = p.path.as_os_str().to_owned();
                s.push(suffix);
                names.push(PathBuf::from(s));
            }
        }
        if names.iter().any(|n| same_file(out, n)) {
            return Err(Error::Usage(format!(
                "{} is {} ({}): writing it would destroy it. Choose another output file",
                out.display(),
                p.what,
                p.path.display()
            )));
        }
    }
    Ok(())
}

/// Refuses an output whose extension is not one of `allowed` (a file without an extension is allowed:
/// the format then comes from `--format` or the command's default).
///
/// # Errors
/// A usage error listing the formats the command writes.
pub fn check_extension(out: &Path, allowed: &[&str]) -> Result<(), Error> {
    let Some(ext) = out.extension().and_then(|e| e.to_str()) else { return Ok(()) };
    if allowed.iter().any(|a| a.eq_ignore_ascii_case(ext)) {
        return Ok(());
    }
    let list: Vec<String> = allowed.iter().map(|a| format!(".{a}")).collect();
    Err(Error::Usage(format!(
        "{}: this command cannot write .{ext} files; it writes {}",
        out.display(),
        list.join(", ")
    )))
}

/// A file written beside its destination and renamed over it by [`AtomicFile::commit`]; dropped
/// without a commit, it is removed and the destination is untouched.
#[derive(Debug)]
pub struct AtomicFile {
    dest: PathBuf,
    tmp: PathBuf,
    file: Option<File>,
}

impl AtomicFile {
    /// Creates the temporary file for `dest` after checking `dest` against `protected`.
    ///
    /// # Errors
    /// When `dest` is protected, or the directory cannot be written.
    pub fn create(dest: &Path, protected: &[Protected<'_>]) -> Result<Self, Error> {
        check(dest, protected)?;
        let name = dest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let dir = dest.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let tmp = dir.join(format!(".{name}.leadmap-{}.tmp", std::process::id()));
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(|source| Error::Io { path: dest.display().to_string(), source })?;
        Ok(Self { dest: dest.to_owned(), tmp, file: Some(file) })
    }

    /// Flushes the file to disk and renames it over the destination.
    ///
    /// # Errors
    /// When the data cannot be written or the rename fails (the destination is then untouched).
    pub fn commit(mut self) -> io::Result<()> {
        if let Some(f) = self.file.take() {
            f.sync_all()?;
        }
        std::fs::rename(&self.tmp, &self.dest)
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.as_mut().ok_or_else(|| io::Error::other("already committed"))?.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.as_mut().map_or(Ok(()), Write::flush)
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.file.take().is_some() || self.tmp.exists() {
            // Not committed: leave the destination as it was.
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Where a command writes: standard output, or an [`AtomicFile`]; buffered. Call [`Output::finish`] at
/// the end (dropping it instead keeps a file's destination untouched).
pub enum Output {
    /// Standard output.
    Stdout(BufWriter<io::Stdout>),
    /// A file.
    File(BufWriter<AtomicFile>),
}

impl Output {
    /// Standard output when `path` is none, else a checked [`AtomicFile`].
    ///
    /// # Errors
    /// See [`AtomicFile::create`].
    pub fn to(path: Option<&Path>, protected: &[Protected<'_>]) -> Result<Self, Error> {
        Ok(match path {
            None => Self::Stdout(BufWriter::new(io::stdout())),
            Some(p) => Self::File(BufWriter::with_capacity(1 << 20, AtomicFile::create(p, protected)?)),
        })
    }

    /// Flushes, and puts a file in place.
    ///
    /// # Errors
    /// When the data cannot be written.
    pub fn finish(self) -> io::Result<()> {
        match self {
            Self::Stdout(mut w) => w.flush(),
            Self::File(w) => w.into_inner().map_err(io::IntoInnerError::into_error)?.commit(),
        }
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Self::Stdout(w) => w.write(buf),
            Self::File(w) => w.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Self::Stdout(w) => w.flush(),
            Self::File(w) => w.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_output_that_is_a_protected_file_by_any_name_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("s.gpkg");
        std::fs::write(&store, b"store").unwrap();
        let link = dir.path().join("link.csv");
        std::fs::hard_link(&store, &link).unwrap();
        let other_spelling = dir.path().join(".").join("s.gpkg");
        let p = [Protected { what: "the store", path: &store }];
        for out in [&store, &link, &other_spelling, &dir.path().join("s.gpkg-wal")] {
            let e = check(out, &p).unwrap_err().to_string();
            assert!(e.contains("is the store") && e.contains("would destroy it"), "{e}");
        }
        // A store not made yet is protected by its path.
        let new = dir.path().join("new.gpkg");
        assert!(check(&new, &[Protected { what: "the store", path: &new }]).is_err());
        assert!(check(&dir.path().join("out.csv"), &p).is_ok());
        assert_eq!(std::fs::read(&store).unwrap(), b"store");
    }

    #[test]
    fn a_file_appears_whole_on_commit_and_not_at_all_otherwise() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out.csv");
        std::fs::write(&dest, b"old").unwrap();
        {
            let mut f = AtomicFile::create(&dest, &[]).unwrap();
            f.write_all(b"half").unwrap();
            // Dropped: a failed command.
        }
        assert_eq!(std::fs::read(&dest).unwrap(), b"old", "untouched");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file left");
        let mut f = AtomicFile::create(&dest, &[]).unwrap();
        f.write_all(b"new").unwrap();
        f.commit().unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"new");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn extensions_the_command_cannot_write_are_refused_with_those_it_can() {
        let e = check_extension(Path::new("x.gpkg"), &["csv", "geojson"]).unwrap_err().to_string();
        assert_eq!(e, "x.gpkg: this command cannot write .gpkg files; it writes .csv, .geojson");
        assert!(check_extension(Path::new("x.CSV"), &["csv"]).is_ok());
        assert!(check_extension(Path::new("x"), &["csv"]).is_ok());
    }
}
