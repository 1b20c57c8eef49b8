//! What a flow attempt gets beyond its command: its variables (SPEC §2),
//! the file its log goes to, and the `MAESTRO_OUTPUT` file it leaves.

use std::fs;
use std::path::Path;

use foldhash::HashMap as FastMap;

use crate::graph::Graph;
use crate::plan::Grant;

/// The `MAESTRO_OUTPUT` pairs of succeeded instances, of those that left
/// any (a map: most leave none, and a big run has many instances).
pub type Results = FastMap<usize, Vec<(String, String)>>;

/// The variables every attempt of `instance` gets, then the task's own:
/// `outputs` holds the `MAESTRO_OUTPUT` pairs of succeeded instances.
pub fn environment(
    graph: &Graph,
    instance: usize,
    run_id: u64,
    grant: &Grant,
    output_file: &Path,
    outputs: &Results,
) -> Vec<(String, String)> {
    let inst = &graph.instances[instance];
    let mut env = vec![
        ("MAESTRO_TASK".to_string(), inst.name.to_string()),
        ("MAESTRO_RUN".to_string(), run_id.to_string()),
        ("MAESTRO_SLOT".to_string(), grant.slots.first().copied().unwrap_or(1).to_string()),
        ("MAESTRO_CPUS".to_string(), graph.settings_of(instance).cpus.to_string()),
        ("MAESTRO_OUTPUT".to_string(), output_file.display().to_string()),
    ];
    for (resource, ids) in &grant.units {
        let name = env_name(&graph.resources[*resource].name);
        let ids: Vec<String> = ids.iter().map(u32::to_string).collect();
        env.push((format!("MAESTRO_RESOURCE_{name}"), ids.join(",")));
    }
    for dep in graph.each_dep(instance) {
        for (key, value) in outputs.get(&dep).into_iter().flatten() {
            let dep_name = env_name(&graph.instances[dep].name);
            env.push((format!("MAESTRO_DEP_{dep_name}_{}", env_name(key)), value.clone()));
        }
    }
    env.extend(inst.env.iter().cloned());
    env
}

/// An instance's name as a file name: `/` and `%` are percent-encoded, so
/// distinct names never share a log.
pub fn log_file_stem(name: &str) -> String {
    name.replace('%', "%25").replace('/', "%2F")
}

/// `gpu-big` -> `GPU_BIG`: a name fit for an environment variable.
fn env_name(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' })
        .collect()
}

/// Parses a `MAESTRO_OUTPUT` file: `key=value` lines; blank lines and `#`
/// comments are ignored. A missing file means no outputs.
pub fn read_outputs(path: &Path) -> Result<Vec<(String, String)>, String> {
    let text = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("cannot be read: {e}")),
    };
    let text = String::from_utf8(text).map_err(|_| "is not UTF-8".to_string())?;
    let mut pairs: Vec<(String, String)> = Vec::new();
    for (number, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(format!("line {}: expected key=value, got '{line}'", number + 1));
        };
        let key = key.trim();
        let valid = key.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(format!(
                "line {}: '{key}' is not a valid key (letters, digits, _)",
                number + 1
            ));
        }
        // A key written twice keeps its last value, as in a shell.
        pairs.retain(|(k, _)| k != key);
        pairs.push((key.to_string(), value.to_string()));
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_file_parses_pairs_and_rejects_garbage() {
        let dir = std::env::temp_dir().join(format!("maestro-outputs-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("o");
        fs::write(&path, "a=1\n\n# note\nb = x=y\na=2\n").unwrap();
        assert_eq!(
            read_outputs(&path).unwrap(),
            vec![("b".into(), " x=y".into()), ("a".into(), "2".into())]
        );
        fs::write(&path, "novalue\n").unwrap();
        assert_eq!(read_outputs(&path).unwrap_err(), "line 1: expected key=value, got 'novalue'");
        fs::write(&path, "1x=2\n").unwrap();
        assert_eq!(
            read_outputs(&path).unwrap_err(),
            "line 1: '1x' is not a valid key (letters, digits, _)"
        );
        assert_eq!(read_outputs(&dir.join("missing")).unwrap(), vec![]);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn names_become_safe_files_and_variables() {
        assert_eq!(log_file_stem("analyze:x/in%"), "analyze:x%2Fin%25");
        assert_eq!(env_name("gpu-big.0"), "GPU_BIG_0");
    }
}
