//! The architecture's rules that are only visible as something absent, checked on the
//! source: no module uses one above it, and only three modules start processes.

use std::path::{Path, PathBuf};

/// The server's top-level modules from the bottom up: each may use only those before it.
const LAYERS: &[&str] = &[
    "time_format",
    "secret_seed",
    "crypto",
    "rclone",
    "system_facts",
    "db",
    "auth",
    "providers",
    "credentials",
    "tasks",
    "logstore",
    "metrics",
    "notify",
    "runner",
    "scheduler",
    "oauth",
    "backup",
    "truenas",
    "public_urls",
    "rpc",
    "http",
    "config",
    "startup",
    "cli",
];

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let p = entry.path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// Each source file of `server/src` with its top-level module and its code outside
/// `#[cfg(test)]` (tests may reach anywhere).
fn modules() -> Vec<(String, String, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    files
        .into_iter()
        .map(|p| {
            let rel = p.strip_prefix(&src).unwrap().display().to_string();
            let top = rel.split('/').next().unwrap().trim_end_matches(".rs").to_string();
            let text = std::fs::read_to_string(&p).unwrap();
            let code = text.split("#[cfg(test)]").next().unwrap().to_string();
            (rel, top, code)
        })
        .collect()
}

#[test]
fn no_module_uses_one_above_it() {
    let rank = |m: &str| LAYERS.iter().position(|l| *l == m);
    let mut wrong = Vec::new();
    for (file, top, code) in modules() {
        let Some(mine) = rank(&top) else { continue };
        for used in code
            .split("crate::")
            .skip(1)
            .map(|rest| rest.split(|c: char| !c.is_alphanumeric() && c != '_').next().unwrap())
        {
            match rank(used) {
                Some(theirs) if theirs > mine => wrong.push(format!("{file} ({top}) uses {used}")),
                _ => {}
            }
        }
    }
    assert!(wrong.is_empty(), "layering broken:\n{}", wrong.join("\n"));
}

#[test]
fn every_module_has_a_layer() {
    let missing: Vec<String> = modules()
        .into_iter()
        .map(|(_, top, _)| top)
        .filter(|t| !["lib", "main"].contains(&t.as_str()) && !LAYERS.contains(&t.as_str()))
        .collect();
    assert!(missing.is_empty(), "add these to LAYERS where they belong: {missing:?}");
}

#[test]
fn only_rclone_process_scripts_and_the_embedded_database_start_processes() {
    let allowed = ["rclone/process.rs", "runner/scripts.rs", "db/embedded.rs"];
    let offenders: Vec<String> = modules()
        .into_iter()
        .filter(|(file, _, code)| code.contains("Command::new") && !allowed.contains(&file.as_str()))
        .map(|(file, _, _)| file)
        .collect();
    assert!(offenders.is_empty(), "processes started outside the allowed modules: {offenders:?}");
}

#[test]
fn the_rclone_module_is_a_leaf() {
    for (file, top, code) in modules() {
        if top == "rclone" {
            let outside: Vec<&str> = code
                .split("crate::")
                .skip(1)
                .map(|rest| rest.split(|c: char| !c.is_alphanumeric() && c != '_').next().unwrap())
                .filter(|m| *m != "rclone")
                .collect();
            assert!(outside.is_empty(), "{file} uses {outside:?}");
        }
    }
}
