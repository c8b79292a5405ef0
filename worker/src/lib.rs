//! Herald's worker. So far: the cycle plan (which groups, from which session, how far apart).

pub mod plan;
