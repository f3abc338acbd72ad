//! The test harness of the tests that need something from outside the repository: a GPU
//! driver, the Python venv of the interop tests, a data set installed by a system package.
//!
//! Such a test must never pass by not running. Each test file that has them is a
//! `harness = false` target whose `main` lists its tests with [`trials!`], naming the
//! [`Requirement`] each one needs; this harness (libtest-mimic, which prints and filters like
//! libtest) then:
//!
//! - runs the test where its requirement is met;
//! - reports it **ignored** where it is not, and prints at the end which tests were ignored,
//!   why, and the command that sets the machine up (`scripts/test-setup.sh`);
//! - **fails** it instead where the environment says the requirement must be met:
//!   `SPIKEBURN_REQUIRE=all` or a comma-separated list of requirement names
//!   (`wgpu,interop,fashion-mnist`). `.ci/run` sets `SPIKEBURN_REQUIRE=all` after the set-up
//!   script, so CI fails when a test it prepared for would be skipped.
//!
//! Included by path (`#[macro_use] #[path = "…/tests/support/harness.rs"] mod harness;`) from each
//! crate's test files; it needs the dev-dependency `libtest-mimic`.

#![allow(dead_code)] // each test binary uses its own subset

use libtest_mimic::{Arguments, Failed, Trial};
use std::process::ExitCode;

/// Something a test needs that the repository does not hold.
pub struct Requirement {
    /// The name used in `SPIKEBURN_REQUIRE` (`wgpu`, `interop`, `fashion-mnist`).
    pub name: &'static str,
    /// Checks the machine: `Err` says what is missing.
    pub probe: fn() -> Result<(), String>,
}

impl Requirement {
    /// Whether `SPIKEBURN_REQUIRE` (`all`, or a comma-separated list) names this requirement.
    fn required(&self) -> bool {
        std::env::var("SPIKEBURN_REQUIRE").is_ok_and(|list| {
            list.split(',')
                .map(str::trim)
                .any(|n| n == "all" || n == self.name)
        })
    }
}

/// One test: its name, body, and what it needs (`None`: nothing from outside).
pub struct Test {
    pub name: String,
    pub body: Box<dyn FnOnce() + Send>,
    pub needs: Option<&'static Requirement>,
}

/// The tests of a file: `trials![plain_test, other; needs INTEROP => a, b; needs WGPU => c]`
/// (the module is declared `#[macro_use]`).
macro_rules! trials {
    ($($plain:ident),* $(,)? $(; needs $req:expr => $($f:ident),+ $(,)?)*) => {
        vec![
            $($crate::harness::Test {
                name: stringify!($plain).to_string(),
                body: Box::new($plain),
                needs: None,
            },)*
            $($($crate::harness::Test {
                name: stringify!($f).to_string(),
                body: Box::new($f),
                needs: Some(&$req),
            },)+)*
        ]
    };
}

/// Runs `tests` as libtest would (same arguments, output and exit code), with the policy of
/// the module docs for unmet requirements.
pub fn run(tests: Vec<Test>) -> ExitCode {
    run_with(Arguments::from_args(), tests)
}

/// [`run`], one test at a time in the order given, for tests where each uses what the ones
/// before it wrote.
pub fn run_in_order(tests: Vec<Test>) -> ExitCode {
    let mut args = Arguments::from_args();
    args.test_threads = Some(1);
    run_with(args, tests)
}

fn run_with(args: Arguments, tests: Vec<Test>) -> ExitCode {
    let mut unmet: Vec<(&'static str, String, Vec<String>)> = Vec::new();
    let mut trials = Vec::with_capacity(tests.len());
    for test in tests {
        let missing = test.needs.and_then(|req| {
            let entry = unmet.iter().position(|(name, ..)| *name == req.name);
            match entry {
                Some(i) => Some((req, i)),
                None => (req.probe)().err().map(|why| {
                    unmet.push((req.name, why, Vec::new()));
                    (req, unmet.len() - 1)
                }),
            }
        });
        let body = test.body;
        let trial = match missing {
            None => Trial::test(test.name, move || {
                body();
                Ok(())
            }),
            Some((req, i)) if req.required() => {
                let why = format!("SPIKEBURN_REQUIRE names `{}`, but {}", req.name, unmet[i].1);
                Trial::test(test.name, move || Err(Failed::from(why)))
            }
            Some((_, i)) => {
                let trial = Trial::test(test.name.clone(), move || {
                    body();
                    Ok(())
                })
                .with_ignored_flag(true);
                if !args.is_filtered_out(&trial) {
                    unmet[i].2.push(test.name);
                }
                trial
            }
        };
        trials.push(trial);
    }
    let conclusion = libtest_mimic::run(&args, trials);
    for (name, why, ignored) in unmet.iter().filter(|(.., ignored)| !ignored.is_empty()) {
        eprintln!(
            "\nIGNORED {} test(s) that need `{name}`: {why}.\n  Set the machine up with \
             `bash scripts/test-setup.sh` (see README.md); ignored: {}",
            ignored.len(),
            ignored.join(", ")
        );
    }
    conclusion.exit_code()
}
