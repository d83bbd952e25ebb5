//! Floats in JSON that keep their infinities: JSON has no NaN or ∞, and
//! serde_json writes both as `null`, so an infinite KL or coverage (the
//! policy leaves the data's support) would read back like a diverged NaN.
//! Here +∞ and −∞ are the strings `"inf"` and `"-inf"`, NaN stays `null`;
//! readers accept numbers, `null` and those strings.
//! Use with `#[serde(with = "json_float")]` (or `json_float::option`).

use serde::de::{self, Deserializer, Visitor};
use serde::ser::Serializer;
use std::fmt;

pub fn serialize<S: Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
    match *x {
        f64::INFINITY => s.serialize_str("inf"),
        f64::NEG_INFINITY => s.serialize_str("-inf"),
        x if x.is_nan() => s.serialize_none(),
        x => s.serialize_f64(x),
    }
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(d.deserialize_any(FloatVisitor)?.unwrap_or(f64::NAN))
}

/// Whether a field is NaN: optional metrics (a Monte-Carlo standard
/// error) are left out of a line where they do not apply.
#[allow(clippy::trivially_copy_pass_by_ref)] // serde's `skip_serializing_if` passes a reference
pub fn is_nan(x: &f64) -> bool {
    x.is_nan()
}

/// NaN, the default of a field that older files lack (`default = "json_float::nan"`).
pub fn nan() -> f64 {
    f64::NAN
}

/// `Option<f64>`: `None` is `null`, and so is `Some(NaN)`.
pub mod option {
    use super::{Deserializer, FloatVisitor, Serializer};

    pub fn serialize<S: Serializer>(x: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
        super::serialize(&x.unwrap_or(f64::NAN), s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        d.deserialize_any(FloatVisitor)
    }
}

/// `Vec<f64>`, each element as [`serialize`] writes one (a landscape's
/// max_a Q, where a diverged learner's values are infinite or NaN).
pub mod vec {
    use super::{FloatVisitor, Serializer};
    use serde::de::{Deserializer, SeqAccess, Visitor};
    use serde::ser::SerializeSeq;
    use std::fmt;

    pub fn serialize<S: Serializer>(xs: &[f64], s: S) -> Result<S::Ok, S::Error> {
        struct One(f64);
        impl serde::Serialize for One {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                super::serialize(&self.0, s)
            }
        }
        let mut seq = s.serialize_seq(Some(xs.len()))?;
        for &x in xs {
            seq.serialize_element(&One(x))?;
        }
        seq.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
        struct One(f64);
        impl<'de> serde::Deserialize<'de> for One {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                Ok(One(d.deserialize_any(FloatVisitor)?.unwrap_or(f64::NAN)))
            }
        }
        struct Seq;
        impl<'de> Visitor<'de> for Seq {
            type Value = Vec<f64>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of numbers")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<f64>, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 16));
                while let Some(One(x)) = seq.next_element()? {
                    out.push(x);
                }
                Ok(out)
            }
        }
        d.deserialize_seq(Seq)
    }
}

/// A number, `null` (None), or `"inf"` / `"-inf"`.
struct FloatVisitor;

impl<'de> Visitor<'de> for FloatVisitor {
    type Value = Option<f64>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(r#"a number, null, "inf" or "-inf""#)
    }
    fn visit_f64<E>(self, x: f64) -> Result<Self::Value, E> {
        Ok(Some(x))
    }
    fn visit_i64<E>(self, x: i64) -> Result<Self::Value, E> {
        Ok(Some(x as f64))
    }
    fn visit_u64<E>(self, x: u64) -> Result<Self::Value, E> {
        Ok(Some(x as f64))
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        match text {
            "inf" => Ok(Some(f64::INFINITY)),
            "-inf" => Ok(Some(f64::NEG_INFINITY)),
            _ => Err(E::invalid_value(de::Unexpected::Str(text), &self)),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Serialize, Deserialize)]
    struct Both {
        #[serde(with = "super")]
        x: f64,
        #[serde(default, with = "super::option")]
        y: Option<f64>,
    }

    fn round_trip(x: f64, y: Option<f64>) -> (String, Both) {
        let line = serde_json::to_string(&Both { x, y }).unwrap();
        let back = serde_json::from_str(&line).unwrap();
        (line, back)
    }

    #[test]
    fn infinities_round_trip_as_strings_and_nan_as_null() {
        let (line, back) = round_trip(f64::INFINITY, Some(f64::NEG_INFINITY));
        assert_eq!(line, r#"{"x":"inf","y":"-inf"}"#);
        assert_eq!((back.x, back.y), (f64::INFINITY, Some(f64::NEG_INFINITY)));
        let (line, back) = round_trip(f64::NAN, None);
        assert_eq!(line, r#"{"x":null,"y":null}"#);
        assert!(back.x.is_nan() && back.y.is_none());
        let (line, back) = round_trip(-2.5e300, Some(3.0));
        assert_eq!(line, r#"{"x":-2.5e+300,"y":3.0}"#);
        assert_eq!((back.x, back.y), (-2.5e300, Some(3.0)));
        // Older files: integers, a missing optional field; bad strings fail.
        let old: Both = serde_json::from_str(r#"{"x":7}"#).unwrap();
        assert_eq!((old.x, old.y), (7.0, None));
        let e = serde_json::from_str::<Both>(r#"{"x":"infinity"}"#).unwrap_err();
        assert!(e.to_string().contains(r#""inf" or "-inf""#), "{e}");
    }
}
