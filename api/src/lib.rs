//! Herald's HTTP API. For now: the token format (claims and minting) that the API will check.

pub mod claims;
