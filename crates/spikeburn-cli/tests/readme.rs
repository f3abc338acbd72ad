//! The README's shell lines and configuration blocks, run as a user runs them, in README
//! order, with small limits: every ```` ```sh ```` line and every ```` ```toml ```` block of
//! `README.md` (its Rust blocks are doctests of the facade crate, `src/lib.rs`).
//!
//! The lines run with `bash` in one working folder that stands in for the repository root
//! (`datasets/`, `presets/`, `tests/` and `scripts/` linked from the checkout), with `spikeburn`
//! (the binary under test) and the interop venv's `python` on `PATH`, and `HOME` in the folder,
//! so `~/data/shd` is the generated SHD-format set written there first. The rewrites, each
//! kept small so that the line stays what the README documents:
//!
//! - `cargo run … -p spikeburn-cli -- ARGS` runs the binary under test with `ARGS` (a `cargo`
//!   stand-in on `PATH` checks the package name);
//! - `train` and `sweep` get one epoch on 200 training and 200 test samples (`--set epochs=1
//!   --set limit_train=200 --set limit_test=200`, replacing the README's own values of those
//!   keys); `eval` gets `--limit-test 200`;
//! - placeholders become runs written before: `RUN_DIR` the first `mnist-mlp` run, and
//!   `--run A --run B` two runs of the README's first sweep.
//!
//! A line succeeds when it exits with 0 and every file its comment says it writes
//! (`# writes runs/mnist-mlp/curves.{svg,png}`) exists. Two lines are not run, and each is
//! named when the test starts: the machine set-up script (root and apt; CI runs it before
//! this suite) and the test command (which is running this). A line or block this file does
//! not know fails the test, naming its README line, so a new README example cannot go
//! untested. Each README block is one test; a block that needs the interop venv, a wgpu
//! adapter or Fashion-MNIST is reported ignored with the reason where the machine lacks it
//! (a failure under `SPIKEBURN_REQUIRE`, as in CI): `tests/support/harness.rs`.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

#[path = "../../../tests/support/fashion.rs"]
mod fashion;
#[allow(unused_macros)] // `trials!`: these tests are built from the README
#[path = "../../../tests/support/harness.rs"]
mod harness;
#[path = "../../../tests/support/venv.rs"]
mod venv;
#[allow(dead_code)] // the requirement only
#[path = "../../../tests/support/wgpu.rs"]
mod wgpu;

use fashion::FASHION_MNIST;

/// Training and test samples of every `train` and `sweep` line.
const LIMIT: &str = "200";

/// The packages of the README's Python line (`tests/interop/load_safetensors_snntorch.py`) and
/// of the SHD-format and N-MNIST-format writers.
const INTEROP: harness::Requirement = harness::Requirement {
    name: "interop",
    probe: || venv::imports(&["h5py", "numpy", "torch", "snntorch", "safetensors.torch"]),
};

/// The checkout's root.
fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The folder the lines run in (the repository root's stand-in), under cargo's temporary
/// folder of this target so that what the lines wrote can be looked at after a failure.
fn work() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("readme")
}

/// A fenced block of the README: the line of its opening fence, its language, its lines.
struct Block {
    line: usize,
    lang: String,
    body: Vec<String>,
}

fn blocks(readme: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut open: Option<Block> = None;
    for (i, text) in readme.lines().enumerate() {
        match (open.take(), text.strip_prefix("```")) {
            (None, Some(lang)) => {
                open = Some(Block {
                    line: i + 1,
                    lang: lang.trim().to_string(),
                    body: Vec::new(),
                })
            }
            (Some(block), Some(_)) => blocks.push(block),
            (Some(mut block), None) => {
                block.body.push(text.to_string());
                open = Some(block);
            }
            (None, None) => {}
        }
    }
    assert!(open.is_none(), "README.md ends inside a fenced block");
    blocks
}

/// The commands of a shell block with their README line numbers: continued lines (`\`)
/// joined, blank and comment-only lines dropped.
fn commands(block: &Block) -> Vec<(usize, String)> {
    let mut out: Vec<(usize, String)> = Vec::new();
    let mut continued = false;
    for (i, text) in block.body.iter().enumerate() {
        let line = block.line + 1 + i;
        let text = text.trim_end();
        let (text, more) = match text.strip_suffix('\\') {
            Some(head) => (head, true),
            None => (text, false),
        };
        if continued {
            let last = out.last_mut().expect("a continued command");
            last.1.push(' ');
            last.1.push_str(text.trim());
        } else if !text.trim().is_empty() && !text.trim_start().starts_with('#') {
            out.push((line, text.trim().to_string()));
        }
        continued = more;
    }
    out
}

/// A README command, its line, and what the test does with it (`Err`: a command this file
/// does not know).
struct Step {
    line: usize,
    command: String,
    plan: Result<Plan, String>,
}

/// The steps of a shell block, planned once: the test's requirements are read from them
/// before it runs.
fn steps(block: &Block) -> Vec<Step> {
    commands(block)
        .into_iter()
        .map(|(line, command)| Step {
            plan: plan(line, &command),
            line,
            command,
        })
        .collect()
}

/// What the test does with a README command.
enum Plan {
    /// Run this (rewritten) command line.
    Run(String),
    /// Not run, for this reason.
    Skip(&'static str),
}

/// The command without its trailing `# comment` (none of the README's commands quote a `#`).
fn split_comment(command: &str) -> (&str, &str) {
    match command.find(" #") {
        Some(at) => (command[..at].trim_end(), command[at + 2..].trim()),
        None => (command, ""),
    }
}

/// Sets `--set KEY=VALUE` in a `train` or `sweep` line: replaces the line's own value of `KEY`,
/// or appends the setting.
fn set(command: &mut String, key: &str, value: &str) {
    let option = format!("--set {key}=");
    match command.find(&option) {
        Some(at) => {
            let start = at + option.len();
            let end = command[start..]
                .find(char::is_whitespace)
                .map_or(command.len(), |n| start + n);
            command.replace_range(start..end, value);
        }
        None => command.push_str(&format!(" {option}{value}")),
    }
}

/// What to do with the command of README line `line`; `Err` names a command this file does
/// not know.
fn plan(line: usize, command: &str) -> Result<Plan, String> {
    let (command, _) = split_comment(command);
    if command.starts_with("bash scripts/test-setup.sh") {
        return Ok(Plan::Skip(
            "the machine set-up (root, apt); CI runs it before this suite",
        ));
    }
    if command.starts_with("cargo test ") {
        return Ok(Plan::Skip(
            "the test suite itself, which is running this test",
        ));
    }
    let mut run = command
        .replace("--run A --run B", &format!("--run {RUN_A} --run {RUN_B}"))
        .replace("RUN_DIR", RUN_DIR);
    let words: Vec<&str> = command.split_whitespace().collect();
    let subcommand = match words.as_slice() {
        ["spikeburn", sub, ..] => *sub,
        ["cargo", "run", ..] => {
            let args = words.iter().position(|w| *w == "--");
            args.and_then(|i| words.get(i + 1).copied()).unwrap_or("")
        }
        ["python", ..] => "python",
        _ => {
            return Err(format!(
                "README.md line {line}: `{command}` is not a command this test knows how to \
                 run; teach crates/spikeburn-cli/tests/readme.rs"
            ));
        }
    };
    match subcommand {
        "train" | "sweep" => {
            set(&mut run, "epochs", "1");
            set(&mut run, "limit_train", LIMIT);
            set(&mut run, "limit_test", LIMIT);
        }
        "eval" => run.push_str(&format!(" --limit-test {LIMIT}")),
        _ => {}
    }
    Ok(Plan::Run(run))
}

/// The run that stands for `RUN_DIR`: the README's first `mnist-mlp` run.
const RUN_DIR: &str = "runs/mnist-mlp";

/// The two runs that stand for `A` and `B` in `plot curves --run A --run B`: runs of the
/// README's first sweep.
const RUN_A: &str = "sweeps/surrogates/runs/surrogate=fast_sigmoid+surrogate.slope=1/seed-42";
const RUN_B: &str = "sweeps/surrogates/runs/surrogate=sigmoid+surrogate.slope=1/seed-42";

/// The files a command's comment says it writes: the comment's words that hold a `{…}`
/// alternation or end in `/`, with `RUN_DIR` replaced and the braces expanded.
fn promised_files(command: &str) -> Vec<String> {
    let (_, comment) = split_comment(command);
    let comment = comment.replace("RUN_DIR", RUN_DIR).replace(", ", ",");
    comment
        .split_whitespace()
        .map(|w| w.trim_end_matches([':', ',', ';', ')']))
        .filter(|w| w.contains('{') || (w.ends_with('/') && w.len() > 1))
        .flat_map(expand)
        .collect()
}

/// Expands `a{b,c}d{e,f}` into `abde`, `abdf`, `acde`, `acdf`.
fn expand(word: &str) -> Vec<String> {
    let (Some(open), Some(close)) = (word.find('{'), word.find('}')) else {
        return vec![word.to_string()];
    };
    let (head, alternatives, tail) = (&word[..open], &word[open + 1..close], &word[close + 1..]);
    alternatives
        .split(',')
        .flat_map(|alt| expand(&format!("{head}{alt}{tail}")))
        .collect()
}

/// Runs one command line with `bash` in the working folder; panics with its output on failure.
fn bash(line: usize, command: &str) {
    let work = work();
    let path = format!(
        "{}:{}:{}",
        work.join("bin").display(),
        venv::venv().join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    eprintln!("README.md line {line}: {command}");
    let out = Command::new("bash")
        .args(["-e", "-c", command])
        .current_dir(&work)
        .env("PATH", path)
        .env("HOME", work.join("home"))
        .env("SPIKEBURN_VENV", venv::venv())
        .env_remove("RUST_LOG")
        .output()
        .expect("run bash");
    assert!(
        out.status.success(),
        "README.md line {line} failed ({}): {command}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs a shell block's commands in order.
fn run_shell(steps: Vec<Step>) {
    for Step {
        line,
        command,
        plan,
    } in steps
    {
        match plan.unwrap_or_else(|e| panic!("{e}")) {
            Plan::Skip(_) => {}
            Plan::Run(run) => {
                if run.contains("~/data/") {
                    event_data();
                }
                bash(line, &run);
                for file in promised_files(&command) {
                    assert!(
                        work().join(&file).exists(),
                        "README.md line {line} says it writes {file}, which is missing: {command}"
                    );
                }
            }
        }
    }
}

/// Runs a configuration block: the full configuration file as `train --config`, the
/// `[data.events]` table in place of the `shd-rsnn` preset's.
fn run_toml(block: &Block) {
    let text = block.body.join("\n");
    let first = block.body.first().map_or("", |l| l.trim());
    let line = block.line;
    if first == "[data]" && text.contains("[training]") {
        std::fs::write(work().join("readme-config.toml"), &text).expect("write config");
        let mut command = "spikeburn train --config readme-config.toml".to_string();
        set(&mut command, "limit_train", LIMIT);
        set(&mut command, "limit_test", LIMIT);
        bash(line, &command);
        assert!(work().join("runs/readme-config/model.bpk").is_file());
    } else if first == "[data.events]" {
        // The preset's table, replaced by the README's; 700 channels downsampled by 5.
        let preset = std::fs::read_to_string(repo().join("presets/shd-rsnn.toml")).expect("preset");
        let own = "[data.events]\nframes = { by = \"fixed_duration\", bins = 100, duration_us = 1000000 }\n";
        assert!(
            preset.contains(own),
            "presets/shd-rsnn.toml changed its [data.events]"
        );
        let config = preset
            .replace(own, &format!("{text}\n"))
            .replace("input = [700]", "input = [140]");
        std::fs::write(work().join("readme-events.toml"), config).expect("write config");
        event_data();
        let mut command =
            "spikeburn train --config readme-events.toml --data-dir ~/data/shd".to_string();
        set(&mut command, "epochs", "1");
        bash(line, &command);
        assert!(work().join("runs/readme-events/model.bpk").is_file());
    } else {
        panic!(
            "README.md line {line}: a TOML block this test does not know ({first}); teach \
             crates/spikeburn-cli/tests/readme.rs"
        );
    }
}

/// `~/data/shd` (20 classes, as SHD) and `~/data/nmnist`, written once by the independent
/// writers of `tests/interop/` in the published formats.
fn event_data() {
    let data = work().join("home/data");
    let shd = data.join("shd");
    if !shd.is_dir() {
        std::fs::create_dir_all(&shd).expect("mkdir");
        for (file, samples, seed) in [("shd_train.h5", "60", "1"), ("shd_test.h5", "40", "2")] {
            let path = shd.join(file);
            venv::run_python(
                &venv::python(),
                [
                    venv::script("shd_like.py").as_os_str(),
                    path.as_os_str(),
                    "--samples".as_ref(),
                    samples.as_ref(),
                    "--seed".as_ref(),
                    seed.as_ref(),
                ],
            );
        }
    }
    let nmnist = data.join("nmnist");
    if !nmnist.is_dir() {
        venv::run_python(
            &venv::python(),
            [
                venv::script("nmnist_like.py").as_os_str(),
                repo().join("datasets/mnist").as_os_str(),
                nmnist.as_os_str(),
                "--train".as_ref(),
                "60".as_ref(),
                "--test".as_ref(),
                "40".as_ref(),
            ],
        );
    }
}

/// The working folder: the checkout's `datasets`, `presets`, `tests` and `scripts` linked,
/// `bin/spikeburn` the binary under test, `bin/cargo` the stand-in for `cargo run`.
fn prepare() {
    let work = work();
    if work.exists() {
        std::fs::remove_dir_all(&work).expect("clear the working folder");
    }
    let bin = work.join("bin");
    std::fs::create_dir_all(&bin).expect("mkdir");
    std::fs::create_dir_all(work.join("home")).expect("mkdir");
    for dir in ["datasets", "presets", "tests", "scripts"] {
        std::os::unix::fs::symlink(repo().join(dir), work.join(dir)).expect("link");
    }
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_spikeburn"), bin.join("spikeburn"))
        .expect("link");
    let cargo = "#!/bin/sh\n\
        # `cargo run [OPTIONS] -p spikeburn-cli -- ARGS` of the README: the binary under test.\n\
        case \" $* \" in *' -p spikeburn-cli '*) ;; *) echo \"cargo stand-in: not -p spikeburn-cli: $*\" >&2; exit 2;; esac\n\
        while [ $# -gt 0 ] && [ \"$1\" != -- ]; do shift; done\n\
        [ $# -gt 0 ] || { echo 'cargo stand-in: no -- ARGS' >&2; exit 2; }\n\
        shift\n\
        exec spikeburn \"$@\"\n";
    let shim = bin.join("cargo");
    std::fs::write(&shim, cargo).expect("write");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

fn main() -> ExitCode {
    let readme = std::fs::read_to_string(repo().join("README.md")).expect("README.md");
    let mut tests = Vec::new();
    for block in blocks(&readme) {
        let line = block.line;
        let (needs, body): (
            Option<&'static harness::Requirement>,
            Box<dyn FnOnce() + Send>,
        ) = match block.lang.as_str() {
            "sh" => {
                let steps = steps(&block);
                let mut needs = None;
                for Step {
                    line,
                    command,
                    plan,
                } in &steps
                {
                    match plan {
                        Err(_) => {} // the test fails with the reason
                        Ok(Plan::Skip(why)) => {
                            eprintln!("README.md line {line} is not run ({why}): {command}")
                        }
                        Ok(Plan::Run(run)) => {
                            let req = if run.contains("--backend wgpu") {
                                Some(&wgpu::WGPU)
                            } else if run.contains("python ") || run.contains("~/data/") {
                                Some(&INTEROP)
                            } else if run.contains("fashion") {
                                Some(&FASHION_MNIST)
                            } else {
                                None
                            };
                            needs = needs.or(req);
                        }
                    }
                }
                (needs, Box::new(move || run_shell(steps)))
            }
            "toml" => {
                let needs = block
                    .body
                    .first()
                    .is_some_and(|l| l.starts_with("[data.events]"))
                    .then_some(&INTEROP);
                (needs, Box::new(move || run_toml(&block)))
            }
            _ => continue, // Rust blocks are doctests (src/lib.rs); text blocks are output
        };
        tests.push(harness::Test {
            name: format!("readme_line_{line:03}"),
            body,
            needs,
        });
    }
    prepare();
    harness::run_in_order(tests)
}
