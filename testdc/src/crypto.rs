//! Server-side MTProto 2.0 encryption: the half grammers-crypto does not provide.
//!
//! Owns key ids, msg_key checks and the AES-IGE key derivation for both directions
//! (grammers fixes its encrypt to x=0 and its decrypt to x=8, and keeps `calc_key`
//! private). Must never create or log a key: keys are pre-shared, and a server cannot
//! make new ones without Telegram's RSA private keys.

use rand::RngCore;
use sha1::Sha1;
use sha2::{Digest, Sha256};

use crate::error::ProtocolError;

/// An MTProto permanent authorization key.
pub(crate) type AuthKeyBytes = [u8; 256];

/// `x` of the key derivation: 0 for client-to-server messages, 8 for server-to-client.
const FROM_CLIENT: usize = 0;
const FROM_SERVER: usize = 8;

/// key_id = the lower 64 bits of SHA1(auth_key), i.e. bytes 12..20, little-endian.
pub(crate) fn key_id(key: &AuthKeyBytes) -> i64 {
    let sha: [u8; 20] = Sha1::digest(key).into();
    let mut id = [0u8; 8];
    id.copy_from_slice(&sha[12..20]);
    i64::from_le_bytes(id)
}

fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize().into()
}

/// aes_key and aes_iv from msg_key (core.telegram.org/mtproto/description).
fn aes_key_iv(key: &AuthKeyBytes, msg_key: &[u8; 16], x: usize) -> ([u8; 32], [u8; 32]) {
    let a = sha256(&[msg_key, &key[x..x + 36]]);
    let b = sha256(&[&key[40 + x..40 + x + 36], msg_key]);
    let mut aes_key = [0u8; 32];
    aes_key[..8].copy_from_slice(&a[..8]);
    aes_key[8..24].copy_from_slice(&b[8..24]);
    aes_key[24..].copy_from_slice(&a[24..]);
    let mut aes_iv = [0u8; 32];
    aes_iv[..8].copy_from_slice(&b[..8]);
    aes_iv[8..24].copy_from_slice(&a[8..24]);
    aes_iv[24..].copy_from_slice(&b[24..]);
    (aes_key, aes_iv)
}

/// msg_key = SHA256(auth_key[88+x..120+x] ++ plaintext-with-padding)[8..24].
fn msg_key(key: &AuthKeyBytes, plaintext: &[u8], x: usize) -> [u8; 16] {
    let large = sha256(&[&key[88 + x..120 + x], plaintext]);
    let mut out = [0u8; 16];
    out.copy_from_slice(&large[8..24]);
    out
}

/// Decrypts `key_id ++ msg_key ++ ciphertext` from a client and checks its msg_key.
///
/// The caller has matched the key_id already. Returns the plaintext with its padding.
pub(crate) fn decrypt_from_client(
    key: &AuthKeyBytes,
    packet: &[u8],
) -> Result<Vec<u8>, ProtocolError> {
    if packet.len() < 24 + 32 || !(packet.len() - 24).is_multiple_of(16) {
        return Err(ProtocolError::Crypto("length is not 24 + a multiple of 16"));
    }
    let mut their_key = [0u8; 16];
    their_key.copy_from_slice(&packet[8..24]);
    let (aes_key, aes_iv) = aes_key_iv(key, &their_key, FROM_CLIENT);
    let mut plaintext = packet[24..].to_vec();
    grammers_crypto::aes::ige_decrypt(&mut plaintext, &aes_key, &aes_iv);
    if msg_key(key, &plaintext, FROM_CLIENT) != their_key {
        return Err(ProtocolError::Crypto(
            "msg_key does not match the plaintext",
        ));
    }
    Ok(plaintext)
}

/// Pads and encrypts a plaintext (a multiple of 4 bytes) for the client: returns
/// `key_id ++ msg_key ++ ciphertext`.
pub(crate) fn encrypt_for_client(key: &AuthKeyBytes, plaintext: &[u8]) -> Vec<u8> {
    // 12 to 1024 bytes of random padding bring the length to a multiple of 16; a random
    // number of extra blocks (the spec allows them) keeps lengths from being exact.
    let mut rng = rand::rng();
    let to_block = (16 - (plaintext.len() + 12) % 16) % 16;
    let extra_blocks = (rng.next_u32() % 4) as usize;
    let padding = 12 + to_block + 16 * extra_blocks;
    let mut body = Vec::with_capacity(plaintext.len() + padding);
    body.extend_from_slice(plaintext);
    let start = body.len();
    body.resize(start + padding, 0);
    rng.fill_bytes(&mut body[start..]);

    let key_msg = msg_key(key, &body, FROM_SERVER);
    let (aes_key, aes_iv) = aes_key_iv(key, &key_msg, FROM_SERVER);
    grammers_crypto::aes::ige_encrypt(&mut body, &aes_key, &aes_iv);
    let mut packet = Vec::with_capacity(24 + body.len());
    packet.extend_from_slice(&key_id(key).to_le_bytes());
    packet.extend_from_slice(&key_msg);
    packet.extend_from_slice(&body);
    packet
}

#[cfg(test)]
mod tests {
    use grammers_crypto::{AuthKey, DequeBuffer, decrypt_data_v2, encrypt_data_v2};

    use super::*;

    fn test_key() -> AuthKeyBytes {
        let mut key = [0u8; 256];
        key.iter_mut().enumerate().for_each(|(i, b)| *b = i as u8);
        key
    }

    #[test]
    fn key_id_matches_grammers() {
        // grammers' own test vector for this key: [50, 209, 88, 110, 164, 87, 223, 200].
        assert_eq!(
            key_id(&test_key()).to_le_bytes(),
            [50, 209, 88, 110, 164, 87, 223, 200]
        );
    }

    #[test]
    fn reads_what_the_grammers_client_encrypts() {
        let key = test_key();
        let mut buffer = DequeBuffer::with_capacity(64, 32);
        let message: Vec<u8> = (0..48u8).collect();
        buffer.extend(&message);
        encrypt_data_v2(&mut buffer, &AuthKey::from_bytes(key));
        let plaintext = decrypt_from_client(&key, &buffer[..]).expect("decrypts");
        assert_eq!(&plaintext[..48], &message[..]);
    }

    #[test]
    fn the_grammers_client_reads_what_the_server_encrypts() {
        let key = test_key();
        for len in [32usize, 36, 44, 100, 1000] {
            let message: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let mut packet = encrypt_for_client(&key, &message);
            let padding = packet.len() - 24 - len;
            assert!((12..=1024).contains(&padding), "padding {padding}");
            let plaintext = decrypt_data_v2(&mut packet, &AuthKey::from_bytes(key)).expect("ok");
            assert_eq!(&plaintext[..len], &message[..]);
        }
    }

    #[test]
    fn a_tampered_packet_is_refused() {
        let key = test_key();
        let mut buffer = DequeBuffer::with_capacity(64, 32);
        buffer.extend(&[7u8; 48]);
        encrypt_data_v2(&mut buffer, &AuthKey::from_bytes(key));
        let mut bytes = buffer[..].to_vec();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert!(decrypt_from_client(&key, &bytes).is_err());
        assert!(decrypt_from_client(&key, &bytes[..30]).is_err());
    }
}
