//! End-to-end tests: Herald's real grammers adapter against the test DC over loopback
//! TCP, and the tests' own raw client reading what the DC puts on the wire.

mod faults;
mod helpers;
mod lifecycle;
mod load;
mod posting;
mod protocol;
mod raw;
mod sessions;
