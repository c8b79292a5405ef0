//! Herald's worker. So far: the cycle plan (which groups, from which session, how far apart) and
//! the outcome policy (what each Telegram class makes the worker do and count).

pub mod outcome;
pub mod plan;
