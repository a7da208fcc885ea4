//! `leadmap serve --config FILE` (or `LEADMAP_CONFIG`): a TOML file of serve options, keyed by their
//! long names (`addr = "0.0.0.0:8080"`, `max-batch = 5000`, `zones = ["a.geojson", "b.geojson"]`,
//! `demo = true`). It is read into command-line arguments placed before the user's own, except for
//! options given on the command line or by their environment variable: those win over the file.
//! Relative file paths in it are relative to the file's folder.

use std::ffi::OsString;
use std::path::Path;

use crate::Error;

/// `args` (the process's, program name first) with the serve options of the config file, if any,
/// inserted after `serve`.
///
/// # Errors
/// The file cannot be read, is not TOML, or names a key that is not a serve option (each naming the
/// file, and the line for TOML errors).
pub fn expand(args: Vec<OsString>) -> Result<Vec<OsString>, Error> {
    // The command is the first argument that is not an option.
    let Some(at) = args.iter().skip(1).position(|a| !a.to_string_lossy().starts_with('-')).map(|i| i + 1) else {
        return Ok(args);
    };
    if args[at] != "serve" {
        return Ok(args);
    }
    let given: Vec<String> = args[at + 1..].iter().map(|a| a.to_string_lossy().into_owned()).collect();
    let from_args = given.iter().enumerate().find_map(|(i, a)| {
        a.strip_prefix("--config=")
            .map(str::to_owned)
            .or_else(|| (a == "--config").then(|| given.get(i + 1).cloned()).flatten())
    });
    let Some(path) = from_args.or_else(|| std::env::var("LEADMAP_CONFIG").ok().filter(|v| !v.is_empty())) else {
        return Ok(args);
    };
    let path = Path::new(&path);
    let text = std::fs::read_to_string(path)
        .map_err(|source| Error::Io { path: format!("--config {}", path.display()), source })?;
    let table: toml::Table = toml::from_str(&text)
        .map_err(|e| Error::Usage(format!("--config {}: {}", path.display(), e.to_string().trim())))?;
    let command = <super::Cli as clap::CommandFactory>::command();
    let Some(serve) = command.find_subcommand("serve") else { return Ok(args) };
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let mut extra: Vec<OsString> = Vec::new();
    for (key, value) in &table {
        let long = key.replace('_', "-");
        let arg = serve
            .get_arguments()
            .find(|a| a.get_long() == Some(long.as_str()) && long != "config" && long != "help")
            .ok_or_else(|| {
                Error::Usage(format!(
                    "--config {}: {key:?} is not an option of leadmap serve; the keys are its long options \
                     (leadmap serve --help), e.g. addr, data, tokens, max-batch",
                    path.display()
                ))
            })?;
        let flag = format!("--{long}");
        let on_command_line = given.iter().any(|a| *a == flag || a.starts_with(&format!("{flag}=")));
        // LEADMAP_TOKENS (the tokens themselves) gives the tokens as surely as LEADMAP_TOKENS_FILE.
        let env_set = |name: &std::ffi::OsStr| std::env::var_os(name).is_some_and(|v| !v.is_empty());
        let by_env = arg.get_env().is_some_and(env_set) || (long == "tokens" && env_set("LEADMAP_TOKENS".as_ref()));
        if on_command_line || by_env {
            continue;
        }
        let is_file = arg.get_value_names().is_some_and(|n| n.iter().any(|n| n.as_str().contains("FILE")));
        let values = match value {
            toml::Value::Array(items) => items.iter().map(|v| scalar(v, key, path)).collect::<Result<Vec<_>, _>>()?,
            v => vec![scalar(v, key, path)?],
        };
        for v in values {
            match v {
                Scalar::Flag(true) => extra.push(flag.clone().into()),
                Scalar::Flag(false) => {}
                Scalar::Text(t) => {
                    // `--key=value`: a value starting with `-` is a value, not an option.
                    let relative = is_file && !t.contains("://") && Path::new(&t).is_relative();
                    let mut a = OsString::from(format!("{flag}="));
                    a.push(if relative { dir.join(&t).into_os_string() } else { t.into() });
                    extra.push(a);
                }
            }
        }
    }
    let mut out = args;
    let tail = out.split_off(at + 1);
    out.extend(extra);
    out.extend(tail);
    Ok(out)
}

enum Scalar {
    Flag(bool),
    Text(String),
}

fn scalar(v: &toml::Value, key: &str, path: &Path) -> Result<Scalar, Error> {
    Ok(match v {
        toml::Value::Boolean(b) => Scalar::Flag(*b),
        toml::Value::String(s) => Scalar::Text(s.clone()),
        toml::Value::Integer(i) => Scalar::Text(i.to_string()),
        toml::Value::Float(f) => Scalar::Text(f.to_string()),
        toml::Value::Datetime(d) => Scalar::Text(d.to_string()),
        toml::Value::Array(_) | toml::Value::Table(_) => {
            return Err(Error::Usage(format!(
                "--config {}: {key}: give a value or a list of values, not a table or nested list",
                path.display()
            )));
        }
    })
}
