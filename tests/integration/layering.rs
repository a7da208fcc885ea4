//! The layering rule of ARCHITECTURE.md, checked on the sources: the domain core imports no edge
//! (`http`, `store`, `formats`, `cli`, `builtin`, `logging`), no server, store or runtime crate (axum,
//! tower, hyper, rusqlite, tokio), does no file, network or environment I/O and reads no clock. Test code inside the core
//! (`#[cfg(test)]` modules, `tests.rs` files) may read fixtures.

use std::path::{Path, PathBuf};

use crate::support::repo;

/// The domain core: files and folders under `src/`.
const CORE: &[&str] = &[
    "coord.rs",
    "digest.rs",
    "geodesy.rs",
    "projection.rs",
    "zones",
    "eligibility.rs",
    "classify.rs",
    "program.rs",
    "rules",
    "events",
    "cells",
    "hotspots",
    "privacy.rs",
    "figures",
    "proposals",
];

/// What a core file may not name.
const EDGES: &[&str] = &[
    "crate::http",
    "crate::store",
    "crate::formats",
    "crate::cli",
    "crate::builtin",
    "crate::logging",
    "axum::",
    "tower::",
    "hyper::",
    "rusqlite::",
    "tokio::",
    "std::fs",
    "std::net",
    "std::process",
    "std::env",
    // "Today" is an argument: the edges read the clock (`crate::clock`).
    "Utc::now",
    "Local::now",
    "SystemTime::now",
];

fn rust_files(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_dir() {
        for entry in std::fs::read_dir(path).unwrap() {
            rust_files(&entry.unwrap().path(), out);
        }
    } else if path.is_file() && path.extension().is_some_and(|e| e == "rs") {
        out.push(path.to_owned());
    }
}

/// Every `file:line: text` under `root` (a `src/` folder) where a core file names an edge, outside its
/// tests. `crate::{a, b}` groups are read as `crate::a` and `crate::b`.
fn violations(root: &Path) -> Vec<String> {
    let mut files = Vec::new();
    for entry in CORE {
        rust_files(&root.join(entry), &mut files);
    }
    files.sort();
    let mut found = Vec::new();
    for file in files {
        if file.file_name().is_some_and(|n| n.to_string_lossy().ends_with("tests.rs")) {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        // The item after `#[cfg(test)]` (a test module) is skipped to its closing brace.
        let (mut skipping, mut depth, mut opened) = (false, 0isize, false);
        for (i, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            if line.trim_start() == "#[cfg(test)]" {
                (skipping, depth, opened) = (true, 0, false);
                continue;
            }
            if skipping {
                let count = |c: char| isize::try_from(code.matches(c).count()).unwrap();
                depth += count('{') - count('}');
                opened |= code.contains('{');
                if (opened && depth <= 0) || (!opened && code.trim_end().ends_with(';')) {
                    skipping = false;
                }
                continue;
            }
            let mut named: Vec<String> = vec![code.to_owned()];
            if let Some(group) = code.split("crate::{").nth(1) {
                let inner = group.split('}').next().unwrap_or_default();
                named.extend(inner.split(',').map(|n| format!("crate::{}", n.trim())));
            }
            if named.iter().any(|n| EDGES.iter().any(|e| n.contains(e))) {
                found.push(format!("{}:{}: {}", file.display(), i + 1, line.trim()));
            }
        }
    }
    found
}

#[test]
fn the_domain_core_imports_no_edge() {
    let src = repo().join("src");
    // A core module renamed or moved would escape the check: each must be where the list says.
    for entry in CORE {
        assert!(src.join(entry).exists(), "src/{entry} is in the core list but not in src/");
    }
    let found = violations(&src);
    assert!(found.is_empty(), "the core names an edge (see ARCHITECTURE.md):\n{}", found.join("\n"));
}

#[test]
fn the_layering_check_finds_an_edge_in_the_core() {
    let dir = tempfile::tempdir().unwrap();
    let zones = dir.path().join("zones");
    std::fs::create_dir_all(&zones).unwrap();
    std::fs::write(zones.join("mod.rs"), "use crate::{coord, store::EventStore};\n").unwrap();
    std::fs::write(dir.path().join("coord.rs"), "// axum:: in a comment is fine\nfn f() {}\n").unwrap();
    std::fs::write(
        dir.path().join("geodesy.rs"),
        "fn g() -> u8 { 1 }\n#[cfg(test)]\nmod tests { fn t() { std::fs::read(\"x\").ok(); } }\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("program.rs"), "fn h() { let _ = std::env::var(\"X\"); }\n").unwrap();
    // After a test module, the file is checked again.
    std::fs::write(
        dir.path().join("privacy.rs"),
        "#[cfg(test)]\nmod tests {\n    fn t() {\n        let _ = rusqlite::Connection::open_in_memory();\n    }\n}\nuse tokio::sync::Mutex;\n",
    )
    .unwrap();
    let found = violations(dir.path());
    assert_eq!(found.len(), 3, "{found:?}");
    assert!(found[0].contains("privacy.rs:7"), "{found:?}");
    assert!(found[1].contains("program.rs:1") && found[2].contains("zones/mod.rs:1"), "{found:?}");
}
