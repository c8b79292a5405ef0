//! `data/api_pairs.json`: the operator's Telegram API_ID / API_HASH pairs.
//!
//! A pair's index in `pairs` is its identity: sessions are bound to it by index in `users.json`, so
//! entries are never removed or reordered: a deleted pair is retired in place. `api_hash` is a
//! secret: it prints redacted, and only [`ApiHash::masked`] may reach a log or an API answer.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::document::Document;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ApiPairsDoc {
    #[serde(default)]
    pub pairs: Vec<ApiPair>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Document for ApiPairsDoc {
    type Encoder = crate::document::Pretty;

    fn validate(&self) -> Result<(), String> {
        for (index, pair) in self.pairs.iter().enumerate() {
            if pair.api_id.is_empty() || !pair.api_id.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!("pair {index}: api_id must be digits"));
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApiPair {
    /// Digits; the old backend wrote it as a string, some operators as a number: both are read.
    #[serde(deserialize_with = "digits")]
    pub api_id: String,
    pub api_hash: ApiHash,
    /// Herald's addition: a retired pair keeps its index and takes no new session.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub retired: bool,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A pair's api_hash: stored in the file, redacted everywhere else.
#[derive(Clone)]
pub struct ApiHash(SecretString);

impl ApiHash {
    pub fn new(hash: String) -> ApiHash {
        ApiHash(SecretString::from(hash))
    }

    /// The first four characters and an ellipsis, as the API shows it.
    pub fn masked(&self) -> String {
        let head: String = self.0.expose_secret().chars().take(4).collect();
        format!("{head}…")
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for ApiHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiHash([redacted])")
    }
}

impl Serialize for ApiHash {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Only ever serialized into api_pairs.json itself (mode 0600).
        s.serialize_str(self.0.expose_secret())
    }
}

impl<'de> Deserialize<'de> for ApiHash {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(ApiHash::new(String::deserialize(d)?))
    }
}

fn digits<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match Value::deserialize(d)? {
        Value::String(s) => Ok(s),
        Value::Number(n) if n.is_u64() => Ok(n.to_string()),
        other => Err(serde::de::Error::custom(format!(
            "api_id must be digits, found {other}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_never_print_and_mask_to_four_characters() {
        let doc: ApiPairsDoc = serde_json::from_str(
            r#"{"pairs": [{"api_id": 24881145, "api_hash": "d625c51e93f6b7367c1ff263cb5f7c89"}]}"#,
        )
        .unwrap();
        let pair = &doc.pairs[0];
        assert_eq!(pair.api_id, "24881145");
        assert_eq!(pair.api_hash.masked(), "d625…");
        assert!(!format!("{doc:?}").contains("d625c51e"));
        let written = serde_json::to_string(&doc).unwrap();
        assert!(written.contains("d625c51e93f6b7367c1ff263cb5f7c89"));
        assert!(!written.contains("retired"));
    }
}
