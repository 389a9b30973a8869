//! `replayer`: the command-line entry point. Kept thin; the work is in the library.

fn main() {
    eprintln!("replayer: not built yet");
    std::process::exit(2);
}
