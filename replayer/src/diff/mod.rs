//! The comparison of production's answers with staging's. For now the part both sides share:
//! the body [`digest`], so a response is compared by a fixed-size summary of its body instead
//! of the body itself.

pub mod digest;
