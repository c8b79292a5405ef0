//! Herald's HTTP API. So far: the token format (claims and minting) and the port through which
//! the API talks to the engine.

pub mod claims;
pub mod engine;
