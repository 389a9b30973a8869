//! `check_replayer_procs`: a drop-in for `check_procs -c 1: -C replayer` that reads `/proc`
//! instead of forking `ps`. Same options, same first line and perfdata to the byte, same exit
//! code; stricter only where `check_procs` is wrong (an unparsable range is UNKNOWN, not 0).

use clap::parser::ValueSource;
use replayer_checks::cli::ProcsArgs as Args;
use replayer_checks::perfdata::{Perfdata, Threshold};
use replayer_checks::procs::{self, Filter};
use replayer_checks::{plugin, Outcome, State};

fn main() {
    plugin::run::<Args, _, _>(
        "PROCS",
        |args| {
            Outcome::new(
                State::Unknown,
                format!("plugin timed out after {} s", args.common.timeout),
            )
        },
        |args, ctx| {
            // Repeated options mean what they mean to check_procs: the first -C and -a
            // count, every -u is described but the last one filters, and (for every option
            // of the three plugins) the last -w/-c wins.
            let command = args.command.first().cloned().unwrap_or_default();
            let mut filter = Filter {
                command: Some(command.clone()),
                args: args.args.first().cloned(),
                uid: None,
            };
            // check_procs describes the filters in the order they were given; our default
            // `-C replayer` counts as given last, as in `check_procs ... -C replayer`.
            let positions = |id: &str| -> Vec<usize> {
                match ctx.matches.value_source(id) {
                    Some(ValueSource::CommandLine) => ctx
                        .matches
                        .indices_of(id)
                        .map(|i| i.collect())
                        .unwrap_or_default(),
                    _ => vec![usize::MAX],
                }
            };
            let mut described: Vec<(usize, String)> = Vec::new();
            for (user, at) in args.user.iter().zip(positions("user")) {
                let (uid, name) = procs::resolve_user(user)?;
                filter.uid = Some(uid);
                described.push((at, format!("UID = {uid} ({name})")));
            }
            if let (Some(a), Some(&at)) = (&filter.args, positions("args").first()) {
                described.push((at, format!("args '{a}'")));
            }
            if let Some(&at) = positions("command").first() {
                described.push((at, format!("command name '{command}'")));
            }
            described.sort_by_key(|(i, _)| *i);

            let verbose = args.common.verbose;
            let scan = procs::scan(&filter, verbose >= 2)?;
            let count = scan.matched.len();
            let warn = args.warning.as_ref().and_then(|w| w.range);
            let crit = args.critical.range;
            let state = State::from_thresholds(count as f64, warn.as_ref(), crit.as_ref());
            let noun = if count == 1 { "process" } else { "processes" };
            let with: Vec<String> = described.into_iter().map(|(_, d)| d).collect();
            let mut outcome =
                Outcome::new(state, format!("{count} {noun} with {}", with.join(", ")));
            outcome.perfdata = vec![Perfdata::new("procs", Some(count as f64))
                .thresholds(
                    args.warning
                        .as_ref()
                        .map(|w| Threshold::Verbatim(w.text.clone())),
                    Some(Threshold::Verbatim(args.critical.text.clone())),
                )
                .min(0.0)];
            if verbose >= 2 {
                for p in &scan.matched {
                    outcome.long.push(format!(
                        "matched: pid={} ppid={} stat={} prog={} args={}",
                        p.pid,
                        p.ppid,
                        p.state,
                        p.prog,
                        p.args.as_deref().unwrap_or("")
                    ));
                }
            }
            if verbose >= 3 {
                for (p, why) in &scan.excluded {
                    outcome.long.push(format!(
                        "not counted ({}): pid={} ppid={} prog={}",
                        why.as_str(),
                        p.pid,
                        p.ppid,
                        p.prog
                    ));
                }
            }
            Ok(outcome)
        },
    )
}
