//! The data-sync flag file (DESIGN.md §3). TODO: filled in by the checks work.
