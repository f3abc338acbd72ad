//! Setting configuration fields by name, as `train --set` and `sweep --set/--grid` do.
//!
//! A setting is `KEY=VALUE` (an axis of a sweep `KEY=V1,V2,…`). `KEY` is a dotted path into the
//! experiment configuration seen as a TOML tree (the base configuration with every default
//! filled in, as in a run's `config.toml`), or any unique suffix of such a path: `lr` is
//! `training.lr`, `surrogate` is `model.neuron.surrogate`. A key that matches several paths, or
//! none, is an error that names the candidates. A path whose last part does not exist yet is
//! created, provided its parent exists (`surrogate.slope` while the surrogate is
//! `{ kind = "atan", alpha = 2.0 }`). Elements of arrays of tables are addressed by index
//! (`layers.0.size`).
//!
//! Values are TOML literals (integers, floats, booleans, arrays such as `[64,64]`), and
//! anything else is a string: `surrogate=fast_sigmoid,atan` gives two strings. Commas inside
//! brackets or quotes do not split values. When the target is a tagged table (a table with a
//! `kind` key, e.g. a surrogate) a string sets the `kind` and drops the other keys, so
//! `surrogate=fast_sigmoid` with `surrogate.slope=5` gives `{ kind = "fast_sigmoid",
//! slope = 5 }`.

use crate::config::ExperimentConfig;

/// Why a setting or a sweep axis was refused.
#[derive(Debug, thiserror::Error)]
pub enum SettingError {
    /// An axis or setting is not `KEY=VALUES`.
    #[error("{spec:?}: {message}")]
    BadSpec {
        /// The text as given.
        spec: String,
        /// What is wrong.
        message: String,
    },
    /// A key matches no configuration field.
    #[error("unknown key {key:?} (no configuration field ends with it; {hint})")]
    UnknownKey {
        /// The key as given.
        key: String,
        /// Similar keys, or all of them.
        hint: String,
    },
    /// A key matches several configuration fields.
    #[error("ambiguous key {key:?}: it could be {candidates}; write more of the path")]
    AmbiguousKey {
        /// The key as given.
        key: String,
        /// The full paths it matches.
        candidates: String,
    },
    /// Two settings address the same field.
    #[error("{key}: set twice")]
    Repeated {
        /// The full path.
        key: String,
    },
    /// The configuration with this setting does not parse or is out of range.
    #[error("{setting}: {message}")]
    Invalid {
        /// The setting as given (`--set KEY=VALUE`).
        setting: String,
        /// The field and the problem.
        message: String,
    },
}

/// Applies `settings` (one value each) to the configuration tree `tree`, in order: each key
/// is resolved ([`resolve_key`]), its value set ([`set_path`], parsed by [`parse_value`]) and
/// the whole configuration checked again, so an error names the setting that broke it; the
/// tree is then rewritten from the configuration (a new neuron `kind` brings its own fields,
/// so `--set neuron.kind=synaptic --set neuron.alpha=0.5` works in that order).
/// Returns the full paths set, in order.
///
/// # Errors
/// A setting with several values, a key that matches no field or several, a field set twice,
/// or a value the configuration refuses.
pub fn apply_to_tree(
    tree: &mut toml::Value,
    settings: &[AxisSpec],
) -> Result<Vec<Vec<String>>, SettingError> {
    let mut paths: Vec<Vec<String>> = Vec::new();
    for s in settings {
        let [value] = s.values.as_slice() else {
            return Err(SettingError::BadSpec {
                spec: format!("{}={}", s.key, s.values.join(",")),
                message: "--set takes one value (use --grid for several)".into(),
            });
        };
        let path = resolve_key(tree, &s.key)?;
        if paths.contains(&path) {
            return Err(SettingError::Repeated {
                key: path.join("."),
            });
        }
        let invalid = |message: String| SettingError::Invalid {
            setting: format!("--set {}={value}", s.key),
            message,
        };
        let config = set_path(tree, &path, &parse_value(value))
            .and_then(|()| config_from_tree(tree))
            .map_err(invalid)?;
        // The tree of the configuration as it now is, so that a changed neuron `kind` brings
        // its own fields (at their defaults) for the next setting and drops the old kind's.
        *tree = toml::Value::try_from(&config).map_err(|e| invalid(e.to_string()))?;
        paths.push(path);
    }
    Ok(paths)
}

/// `config` with `settings` applied, as `spikeburn train --set KEY=VALUE` does (see
/// [`apply_to_tree`] and the [module docs](self) for keys and values).
///
/// # Errors
/// As [`apply_to_tree`].
pub fn apply_settings(
    config: &ExperimentConfig,
    settings: &[AxisSpec],
) -> Result<ExperimentConfig, SettingError> {
    let mut tree = toml::Value::try_from(config).map_err(|e| SettingError::Invalid {
        setting: "the base configuration".into(),
        message: e.to_string(),
    })?;
    apply_to_tree(&mut tree, settings)?;
    config_from_tree(&tree).map_err(|message| SettingError::Invalid {
        setting: "the base configuration".into(),
        message,
    })
}

/// An axis or setting as written: `KEY=V1,V2,…`.
#[derive(Clone, Debug, PartialEq)]
pub struct AxisSpec {
    /// The key as given (a path or a unique suffix of one).
    pub key: String,
    /// The values, as given (trimmed).
    pub values: Vec<String>,
}

impl std::str::FromStr for AxisSpec {
    type Err = SettingError;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let bad = |message: &str| SettingError::BadSpec {
            spec: spec.to_string(),
            message: message.to_string(),
        };
        let (key, values) = spec
            .split_once('=')
            .ok_or_else(|| bad("expected KEY=VALUE[,VALUE…]"))?;
        let key = key.trim();
        if key.is_empty() || key.split('.').any(|p| p.trim().is_empty()) {
            return Err(bad("the key is empty or has an empty part"));
        }
        let values = split_values(values);
        if values.iter().any(String::is_empty) {
            return Err(bad("empty value"));
        }
        let mut seen = std::collections::HashSet::new();
        if let Some(dup) = values.iter().find(|v| !seen.insert(v.as_str())) {
            return Err(bad(&format!("value {dup:?} is listed twice")));
        }
        Ok(AxisSpec {
            key: key.to_string(),
            values,
        })
    }
}

/// Splits `a,b,[1,2],"x,y"` at the commas outside brackets, braces and quotes.
fn split_values(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let (mut depth, mut quote, mut current) = (0i32, None, String::new());
    for c in text.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '[' | '{') => depth += 1,
            (None, ']' | '}') => depth -= 1,
            (None, ',') if depth == 0 => {
                out.push(current.trim().to_string());
                current.clear();
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    out.push(current.trim().to_string());
    out
}

/// A TOML literal (integer, float, boolean, array, inline table, quoted string), else the text
/// as a string.
pub fn parse_value(text: &str) -> toml::Value {
    toml::from_str::<toml::Table>(&format!("v = {text}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(text.to_string()))
}

/// Every path of the tree, with whether it is a table.
fn tree_paths(value: &toml::Value, prefix: &mut Vec<String>, out: &mut Vec<(Vec<String>, bool)>) {
    match value {
        toml::Value::Table(t) => {
            for (k, v) in t {
                prefix.push(k.clone());
                out.push((prefix.clone(), v.is_table()));
                tree_paths(v, prefix, out);
                prefix.pop();
            }
        }
        toml::Value::Array(items) if items.iter().all(toml::Value::is_table) => {
            for (i, v) in items.iter().enumerate() {
                prefix.push(i.to_string());
                out.push((prefix.clone(), true));
                tree_paths(v, prefix, out);
                prefix.pop();
            }
        }
        _ => {}
    }
}

fn join_paths<'a>(paths: impl IntoIterator<Item = &'a Vec<String>>) -> String {
    paths
        .into_iter()
        .map(|p| p.join("."))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Resolves `key` (a dotted path or a unique suffix of one) against `tree`; see the module
/// documentation for the rules.
pub fn resolve_key(tree: &toml::Value, key: &str) -> Result<Vec<String>, SettingError> {
    let segs: Vec<String> = key.split('.').map(|s| s.trim().to_string()).collect();
    let mut paths = Vec::new();
    tree_paths(tree, &mut Vec::new(), &mut paths);
    if paths.iter().any(|(p, _)| *p == segs) {
        return Ok(segs);
    }
    let matches: Vec<&Vec<String>> = paths
        .iter()
        .filter(|(p, _)| p.ends_with(&segs))
        .map(|(p, _)| p)
        .collect();
    // A lone field name of a neuron kind that is not configured (`alpha` on a LIF network)
    // would otherwise resolve to another field of that name inside the neuron's table (the
    // surrogate's `alpha`); one elsewhere (`data.randman.alpha`) is what it says.
    let owners = neuron_kinds_with(&segs[segs.len() - 1]);
    match matches.as_slice() {
        [one]
            if segs.len() == 1
                && !owners.is_empty()
                && one.iter().any(|part| part == "neuron")
                && one.iter().rev().nth(1).map(String::as_str) != Some("neuron") =>
        {
            return Err(SettingError::AmbiguousKey {
                key: key.to_string(),
                candidates: format!(
                    "{} or the field of the {} neuron (set the kind first: --set \
                     neuron.kind={} --set neuron.{key}=…)",
                    one.join("."),
                    owners.join(", "),
                    owners[0]
                ),
            });
        }
        [one] => return Ok((*one).clone()),
        [] => {}
        many => {
            return Err(SettingError::AmbiguousKey {
                key: key.to_string(),
                candidates: join_paths(many.iter().copied()),
            });
        }
    }
    // A new field in an existing table.
    let (last, parent) = segs.split_last().unwrap_or((&segs[0], &[]));
    if !parent.is_empty() {
        let tables: Vec<&Vec<String>> = paths
            .iter()
            .filter(|(p, is_table)| *is_table && p.ends_with(parent))
            .map(|(p, _)| p)
            .collect();
        match tables.as_slice() {
            [one] => {
                let mut path = (*one).clone();
                path.push(last.clone());
                return Ok(path);
            }
            [] => {}
            many => {
                return Err(SettingError::AmbiguousKey {
                    key: key.to_string(),
                    candidates: join_paths(many.iter().copied()),
                });
            }
        }
    }
    let leaves: Vec<&Vec<String>> = paths
        .iter()
        .filter(|(_, is_table)| !is_table)
        .map(|(p, _)| p)
        .collect();
    let needle = last.to_ascii_lowercase();
    let similar: Vec<&Vec<String>> = leaves
        .iter()
        .copied()
        .filter(|p| {
            let name = p.last().map(|s| s.to_ascii_lowercase()).unwrap_or_default();
            name.contains(&needle) || needle.contains(&name)
        })
        .collect();
    let hint = if let Some(first) = owners.first() {
        format!(
            "`{last}` is a field of the {} neuron{} only: set the kind first, e.g. \
             --set neuron.kind={first} --set neuron.{last}=…",
            owners.join(", "),
            if owners.len() > 1 { "s" } else { "" }
        )
    } else if similar.is_empty() {
        format!("keys: {}", join_paths(leaves))
    } else {
        format!("did you mean {}?", join_paths(similar))
    };
    Err(SettingError::UnknownKey {
        key: key.to_string(),
        hint,
    })
}

/// The neuron kinds whose own parameters include `field` (`alpha`: synaptic, alpha,
/// conductance).
fn neuron_kinds_with(field: &str) -> Vec<String> {
    spikeburn_core::NeuronKind::ALL
        .iter()
        .filter(|k| k.default_table().contains_key(field))
        .map(|k| k.name())
        .collect()
}

/// Sets `path` in `tree` to `value`. A string on a tagged table (one with a `kind` key)
/// replaces the table by `{ kind = value }`.
pub fn set_path(
    tree: &mut toml::Value,
    path: &[String],
    value: &toml::Value,
) -> Result<(), String> {
    let (last, parents) = path.split_last().ok_or("empty path")?;
    let mut node = tree;
    for (i, seg) in parents.iter().enumerate() {
        let here = || path[..=i].join(".");
        node = match node {
            toml::Value::Table(t) => t
                .get_mut(seg)
                .ok_or_else(|| format!("{} does not exist", here()))?,
            toml::Value::Array(a) => seg
                .parse::<usize>()
                .ok()
                .and_then(|k| a.get_mut(k))
                .ok_or_else(|| format!("{} does not exist", here()))?,
            _ => return Err(format!("{} is not a table", path[..i].join("."))),
        };
    }
    let slot: &mut toml::Value = match node {
        toml::Value::Table(t) => t.entry(last.clone()).or_insert_with(|| value.clone()),
        toml::Value::Array(a) => last
            .parse::<usize>()
            .ok()
            .and_then(|k| a.get_mut(k))
            .ok_or_else(|| format!("{} does not exist", path.join(".")))?,
        _ => return Err(format!("{} is not a table", parents.join("."))),
    };
    let tagged = slot.as_table().is_some_and(|t| t.contains_key("kind"));
    *slot = match value {
        toml::Value::String(kind) if tagged => {
            let mut t = toml::Table::new();
            t.insert("kind".into(), toml::Value::String(kind.clone()));
            toml::Value::Table(t)
        }
        v => v.clone(),
    };
    Ok(())
}

/// The dotted path of the field at `span` in TOML `text` (for error messages): the last
/// table header above it and the key on its line.
fn field_at(text: &str, span: Option<std::ops::Range<usize>>) -> Option<String> {
    let at = span?.start.min(text.len());
    let before = &text[..at];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = text[line_start..].lines().next().unwrap_or("");
    let trimmed = line.trim();
    if trimmed.starts_with('[') {
        // The error is about a whole table.
        return Some(trimmed.trim_matches(|c| c == '[' || c == ']').to_string());
    }
    let header = before[..line_start]
        .lines()
        .rev()
        .find_map(|l| {
            let l = l.trim();
            l.strip_prefix('[')
                .and_then(|l| l.strip_suffix(']'))
                .map(|h| h.trim_matches(|c| c == '[' || c == ']').to_string())
        })
        .unwrap_or_default();
    let key = line
        .split_once('=')
        .map(|(k, _)| k.trim().trim_matches('"').to_string());
    match (header.is_empty(), key) {
        (_, None) if header.is_empty() => None,
        (_, None) => Some(header),
        (true, Some(k)) => Some(k),
        (false, Some(k)) => Some(format!("{header}.{k}")),
    }
}

/// Parses and validates a configuration tree.
pub fn config_from_tree(tree: &toml::Value) -> Result<ExperimentConfig, String> {
    let text = toml::to_string(tree).map_err(|e| e.to_string())?;
    let config: ExperimentConfig = toml::from_str(&text).map_err(|e| {
        let message = e.message().trim().to_string();
        match field_at(&text, e.span()) {
            Some(field) => format!("{field}: {message}"),
            None => message,
        }
    })?;
    config.validate().map_err(|e| e.to_string())?;
    Ok(config)
}

#[cfg(test)]
mod tests;
