//! The values a scenario's fields hold: durations written as text with a unit, and integers bounded at both
//! ends, each with an error that quotes the value and says what would do.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::time::Duration;

/// A duration written as text: `"30s"`, `"250ms"`, `"1m 30s"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Dur(pub Duration);

impl Serialize for Dur {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&humantime::format_duration(self.0).to_string())
    }
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DurText;
        impl serde::de::Visitor<'_> for DurText {
            type Value = String;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration written as text with a unit, like \"30s\" or \"250ms\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<String, E> {
                Ok(v.to_string())
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<String, E> {
                Err(E::custom(format!(
                    "`{v}` is a bare number; write durations as text with a unit, like \"{v}s\" or \"{v}ms\""
                )))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<String, E> {
                self.visit_i64(v as i64)
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<String, E> {
                Err(E::custom(format!("`{v}` is a bare number; write durations as text with a unit, like \"1500ms\"")))
            }
        }
        let text = deserializer.deserialize_any(DurText)?;
        if text.trim_start().starts_with('-') {
            return Err(serde::de::Error::custom(format!("`{text}` is negative; durations are zero or more")));
        }
        humantime::parse_duration(&text).map(Dur).map_err(|e| {
            serde::de::Error::custom(format!("`{text}` is not a duration ({e}); write it like \"30s\" or \"250ms\""))
        })
    }
}

/// A freshness bound, as `[invariants] fresh_view_latency_max` gives it: a duration, or `"fair-share"`, derived
/// for each seed from its cluster and its load (see `oracle::fairness::derive`), so that a scenario whose
/// cluster a `[swarm]` table draws per seed is held to a bound that fits the cluster it drew.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FreshBound {
    Fixed(Dur),
    FairShare,
}

impl Serialize for FreshBound {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            FreshBound::Fixed(d) => d.serialize(serializer),
            FreshBound::FairShare => serializer.serialize_str("fair-share"),
        }
    }
}

impl<'de> Deserialize<'de> for FreshBound {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Text;
        impl serde::de::Visitor<'_> for Text {
            type Value = String;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration written as text with a unit, like \"2s\", or \"fair-share\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<String, E> {
                Ok(v.to_string())
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<String, E> {
                Err(E::custom(format!(
                    "`{v}` is a bare number; write a duration with a unit, like \"{v}s\", or \"fair-share\""
                )))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<String, E> {
                self.visit_i64(v as i64)
            }
        }
        let text = deserializer.deserialize_any(Text)?;
        if text == "fair-share" {
            return Ok(FreshBound::FairShare);
        }
        let parsed: Result<Dur, serde::de::value::Error> =
            Dur::deserialize(serde::de::value::StrDeserializer::new(&text));
        parsed.map(FreshBound::Fixed).map_err(|e| serde::de::Error::custom(format!("{e}, or \"fair-share\"")))
    }
}

impl fmt::Display for FreshBound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FreshBound::Fixed(d) => d.fmt(f),
            FreshBound::FairShare => f.write_str("fair-share"),
        }
    }
}

/// An integer that must lie in `MIN..=MAX`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Bounded<const MIN: u64, const MAX: u64>(pub u64);

impl<const MIN: u64, const MAX: u64> Bounded<MIN, MAX> {
    pub fn get(self) -> u64 {
        self.0
    }
}

impl<'de, const MIN: u64, const MAX: u64> Deserialize<'de> for Bounded<MIN, MAX> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = i64::deserialize(deserializer)?;
        if value < MIN as i64 || value > MAX as i64 {
            return Err(serde::de::Error::custom(format!("{value} is out of range; expected {MIN} to {MAX}")));
        }
        Ok(Bounded(value as u64))
    }
}

impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}
