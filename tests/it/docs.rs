//! `maestro completions` and `maestro man`: loaded by the real shell, read
//! by the real formatter.

use std::process::Command;

use crate::support::Project;

/// What bash completes after `words` (the last one being completed),
/// with maestro's completion script loaded.
fn bash_completes(p: &Project, words: &[&str]) -> Vec<String> {
    let script = p.maestro(&["completions", "bash"]);
    assert_eq!(script.code, 0, "{}", script.stderr);
    p.file("maestro.bash", &script.stdout);
    let line = words.join(" ");
    let words_array: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let driver = format!(
        "source ./maestro.bash\n\
         COMP_WORDS=({})\n\
         COMP_CWORD={}\n\
         COMP_LINE='{line}'\n\
         COMP_POINT=${{#COMP_LINE}}\n\
         _maestro maestro '{}' '{}'\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        words_array.join(" "),
        words.len() - 1,
        words[words.len() - 1],
        words[words.len().saturating_sub(2)],
    );
    let output = Command::new("bash").arg("-c").arg(driver).current_dir(&p.dir).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).lines().map(str::to_string).collect()
}

#[test]
#[cfg_attr(no_bash, ignore = "needs bash (apt-get install bash)")]
fn bash_completes_commands_and_flags() {
    let p = Project::new();
    let commands = bash_completes(&p, &["maestro", "r"]);
    assert!(
        commands.contains(&"run".to_string()) && commands.contains(&"report".to_string()),
        "{commands:?}"
    );
    let flags = bash_completes(&p, &["maestro", "run", "--j"]);
    assert!(
        flags.contains(&"--jobs".to_string()) && flags.contains(&"--json".to_string()),
        "{flags:?}"
    );
    let formats = bash_completes(&p, &["maestro", "graph", "--format", ""]);
    assert_eq!(formats, ["dot", "mermaid"], "{formats:?}");
}

#[test]
fn zsh_and_fish_scripts_name_every_command() {
    let p = Project::new();
    for shell in ["zsh", "fish"] {
        let script = p.maestro(&["completions", shell]);
        assert_eq!(script.code, 0, "{}", script.stderr);
        for command in
            ["par", "run", "map", "history", "log", "report", "graph", "completions", "man"]
        {
            assert!(script.stdout.contains(command), "{shell} lacks {command}");
        }
    }
    let bad = p.maestro(&["completions", "tcsh"]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
}

#[test]
#[cfg_attr(no_groff, ignore = "needs groff (apt-get install groff-base)")]
fn the_man_pages_format_without_warnings() {
    let p = Project::new();
    for (args, expect) in [
        (&["man"][..], "maestro-run(1)"),
        (&["man", "run"][..], "--keep-going"),
        (&["man", "map"][..], "--joblog"),
    ] {
        let page = p.maestro(args);
        assert_eq!(page.code, 0, "{}", page.stderr);
        p.file("page.1", &page.stdout);
        // -ww: every warning; -P-cbou: plain text, no overstriking.
        let output = Command::new("groff")
            .args(["-man", "-Tutf8", "-P-cbou", "-ww", "page.1"])
            .current_dir(&p.dir)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success() && stderr.is_empty(), "{args:?}: {stderr}");
        let text = String::from_utf8_lossy(&output.stdout)
            .replace("\u{2010}", "-")
            .replace("\u{2212}", "-");
        assert!(text.contains(expect), "{args:?} lacks {expect}:\n{text}");
    }
    let missing = p.maestro(&["man", "nope"]);
    assert_eq!(missing.code, 2);
    assert!(missing.stderr.contains("no command 'nope'"), "{}", missing.stderr);
}

/// The `layers` block of docs/ARCHITECTURE.md: module names, top first.
fn layers() -> Vec<String> {
    let doc = std::fs::read_to_string(repo().join("docs/ARCHITECTURE.md")).unwrap();
    let block = doc.split("```layers\n").nth(1).expect("a ```layers block").split("```").next();
    block
        .unwrap()
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(String::from)
        .collect()
}

fn repo() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.rs` file under `dir`.
fn sources(dir: &std::path::Path, files: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

#[test]
fn the_layers_in_architecture_md_hold() {
    let layers = layers();
    let rank = |module: &str| layers.iter().position(|m| m == module);
    let src = repo().join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut wrong = Vec::new();
    for file in files {
        let relative = file.strip_prefix(&src).unwrap().to_string_lossy().into_owned();
        let module = relative.split(['/', '.']).next().unwrap().to_string();
        if module == "lib" || module == "main" {
            continue;
        }
        let Some(own) = rank(&module) else {
            wrong.push(format!("{relative}: module '{module}' is not in the layers"));
            continue;
        };
        let text = std::fs::read_to_string(&file).unwrap();
        // Test code may reach anywhere: only what is above its first
        // `#[cfg(test)]` counts (and a file that is test code counts not).
        let code = text.split("#[cfg(test)]").next().unwrap();
        if relative == "runner/tests.rs" || relative == "runner/fake.rs" {
            continue;
        }
        for (number, line) in code.lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            for after in line.split("crate::").skip(1) {
                // `crate::a::b`, or `crate::{a, b::c}`.
                let names: Vec<&str> = match after.strip_prefix('{') {
                    Some(group) => group.split('}').next().unwrap().split(',').collect(),
                    None => vec![after],
                };
                for name in names {
                    let used: String = name
                        .trim()
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    if used == module {
                        continue;
                    }
                    match rank(&used) {
                        Some(theirs) if theirs > own => {}
                        _ => wrong
                            .push(format!("{relative}:{}: '{module}' uses '{used}'", number + 1)),
                    }
                }
            }
        }
    }
    assert!(wrong.is_empty(), "layers broken (docs/ARCHITECTURE.md):\n{}", wrong.join("\n"));
}

#[test]
fn every_test_the_readme_s_guarantees_name_exists() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let section = readme.split("## Guarantees").nth(1).expect("a Guarantees section");
    let table = section.split("\n## ").next().unwrap();
    let mut named = 0;
    for cell in table.lines().filter_map(|line| line.rsplit('|').nth(1)) {
        for quoted in cell.split('`').skip(1).step_by(2) {
            let path: Vec<&str> = quoted.split("::").collect();
            let (module, name) = (path[0], *path.last().unwrap());
            let file = if path.len() == 3 {
                repo().join(format!("src/{module}.rs"))
            } else {
                repo().join(format!("tests/it/{module}.rs"))
            };
            let text = std::fs::read_to_string(&file)
                .unwrap_or_else(|_| panic!("{quoted}: no {}", file.display()));
            assert!(
                name == "*" || text.contains(&format!("fn {name}()")),
                "{quoted}: no such test"
            );
            named += 1;
        }
    }
    assert!(named >= 10, "{named} tests named");
}
