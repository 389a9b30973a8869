//! `cargo run -p xtask -- docs [--out DIR]`: man pages and shell completions for `replayer`
//! and the check plugins, generated from the same clap definitions that parse their command
//! lines (`replayer::cli`, `replayer::status_cmd`, `replayer_checks::cli`), so the pages can
//! never describe options the programs do not have. Written to `target/dist` by default
//! (never committed; the Debian package build runs this):
//!
//! ```text
//! DIR/man/man1/{replayer,replayer-status,replayer-diff,check_replayer_procs,check_replay_rate,check_replay_5xx,check_replay_diff}.1
//! DIR/completions/bash/NAME  DIR/completions/zsh/_NAME  DIR/completions/fish/NAME.fish
//! ```

use anyhow::{bail, Context, Result};
use clap_complete::Shell;
use std::path::{Path, PathBuf};

fn main() {
    if let Err(e) = run() {
        eprintln!("xtask: {e:#}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (task, rest) = args
        .split_first()
        .map_or(("", &[][..]), |(t, r)| (t.as_str(), r));
    if task != "docs" {
        bail!("usage: xtask docs [--out DIR]   (man pages and shell completions, default target/dist)");
    }
    let out = match rest {
        [] => workspace_root().join("target/dist"),
        [flag, dir] if flag == "--out" => PathBuf::from(dir),
        _ => bail!("usage: xtask docs [--out DIR]"),
    };
    let written = docs(&out)?;
    for path in written {
        println!("{}", path.display());
    }
    Ok(())
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

/// Every program's clap command, named as its binary. `replayer status` and `replayer diff`
/// are subcommands of `replayer` for completion and in the `replayer` page, and have their
/// own pages as well.
fn commands() -> Vec<clap::Command> {
    let status = replayer::status_cmd::command();
    let diff = <replayer::diff_cmd::DiffArgs as clap::CommandFactory>::command();
    let replayer = replayer::config::cli::command()
        .subcommand(status.clone().name("status"))
        .subcommand(diff.clone().name("diff"))
        .disable_help_subcommand(true);
    let mut all = vec![replayer, status, diff];
    all.extend(replayer_checks::cli::commands());
    all
}

/// Writes the man pages and completions under `out`; returns the files written.
pub fn docs(out: &Path) -> Result<Vec<PathBuf>> {
    let man_dir = out.join("man/man1");
    std::fs::create_dir_all(&man_dir).with_context(|| format!("creating {}", man_dir.display()))?;
    let mut written = Vec::new();
    for command in commands() {
        let name = command.get_name().to_string();
        let page = man_dir.join(format!("{name}.1"));
        let mut roff = Vec::new();
        clap_mangen::Man::new(command.clone())
            .section("1")
            .source(format!("replayer {}", env!("CARGO_PKG_VERSION")))
            .manual("replayer manual")
            .render(&mut roff)
            .with_context(|| format!("rendering the man page of {name}"))?;
        std::fs::write(&page, roff).with_context(|| format!("writing {}", page.display()))?;
        written.push(page);

        // `replayer status` and `replayer diff` complete as part of `replayer`.
        if name == "replayer-status" || name == "replayer-diff" {
            continue;
        }
        for (shell, dir, file) in [
            (Shell::Bash, "bash", name.clone()),
            (Shell::Zsh, "zsh", format!("_{name}")),
            (Shell::Fish, "fish", format!("{name}.fish")),
        ] {
            let dir = out.join("completions").join(dir);
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            let mut script = Vec::new();
            let mut command = command.clone();
            clap_complete::generate(shell, &mut command, name.clone(), &mut script);
            let path = dir.join(file);
            std::fs::write(&path, script).with_context(|| format!("writing {}", path.display()))?;
            written.push(path);
        }
    }
    Ok(written)
}
