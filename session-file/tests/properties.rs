//! Invariants over arbitrary inputs: decoders never panic, encoders round-trip.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use herald_session_file::*;
use proptest::prelude::*;

fn credentials() -> impl Strategy<Value = SessionCredentials> {
    let ip = prop_oneof![
        any::<[u8; 4]>().prop_map(|o| IpAddr::V4(Ipv4Addr::from(o))),
        any::<[u8; 16]>().prop_map(|o| IpAddr::V6(Ipv6Addr::from(o))),
    ];
    (
        1i32..=5,
        ip,
        1u16..,
        proptest::collection::vec(any::<u8>(), 256),
    )
        .prop_map(|(dc_id, ip, port, key)| SessionCredentials {
            dc_id,
            server_address: ip.to_string(),
            port,
            auth_key: AuthKey::from_slice(&key).expect("256 bytes"),
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn string_session_round_trips(c in credentials()) {
        let s = to_telethon_string(&c).expect("encode");
        prop_assert_eq!(parse_telethon_string(&s).expect("parse"), c);
    }

    #[test]
    fn string_parse_never_panics(s in ".{0,400}") {
        let _ = parse_telethon_string(&s);
    }

    #[test]
    fn detect_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = detect_and_read(bytes.as_slice());
    }

    #[test]
    fn binary_decoder_never_panics(tail in proptest::collection::vec(any::<u8>(), 0..600)) {
        let mut bytes = 0xa73e_b8ceu32.to_le_bytes().to_vec();
        bytes.extend(tail);
        let _ = read_grammers_binary(&bytes);
    }
}

#[test]
fn telethon_file_round_trips_for_sampled_credentials() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(8));
    let n = std::sync::atomic::AtomicUsize::new(0);
    runner
        .run(&credentials(), |c| {
            let i = n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let path = dir.path().join(format!("{i}.session"));
            write_telethon(&path, &c).expect("write");
            prop_assert_eq!(read_telethon(&path).expect("read"), c);
            Ok(())
        })
        .expect("property");
}
