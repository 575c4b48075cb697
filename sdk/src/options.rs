//! Options maps -> typed parameter structs, via serde.
//!
//! Each step declares its options as a `#[derive(Deserialize)] #[serde(deny_unknown_fields)]`
//! struct (its "params" type, validated once). This module is a serde `Deserializer` over
//! `Value`, so a typo'd key is rejected with the list of valid keys, a wrong type names the
//! field, and `Tensor`/`Value` fields receive the script's handles without copying.
use crate::error::{Error, Result};
use crate::tensor::Tensor;
use crate::value::{tensor_from_nested, Map, Value};
use serde::de::{self, DeserializeOwned, IntoDeserializer, Visitor};
use serde::Deserialize;
use std::cell::RefCell;
use std::fmt;

/// Parse an options map into `T`, rejecting unknown keys.
pub fn parse<T: DeserializeOwned>(options: &Map) -> Result<T> {
    T::deserialize(ValueDe(Value::Map(options.clone())))
        .map_err(|e| Error::msg(format!("bad option: {}", e.0)))
}

/// Parse any Value into `T`.
pub fn from_value<T: DeserializeOwned>(v: &Value) -> Result<T> {
    T::deserialize(ValueDe(v.clone())).map_err(|e| Error::msg(e.0))
}

#[derive(Debug)]
/// An error reading a Value into a typed struct.
pub struct DeError(String);

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for DeError {}
impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError(msg.to_string())
    }
}

const TENSOR_MAGIC: &str = "$emoscope::Tensor";
const VALUE_MAGIC: &str = "$emoscope::Value";

thread_local! {
    // serde has no way to move non-serde data through a Deserializer, so handles travel through
    // this slot (the technique toml uses for datetimes): the deserializer parks the Value, the
    // Tensor/Value visitor takes it back, on the same thread, within one call.
    static PARKED: RefCell<Option<Value>> = const { RefCell::new(None) };
}

/// A serde Deserializer over a Value.
pub struct ValueDe(pub Value);

impl<'de> IntoDeserializer<'de, DeError> for ValueDe {
    type Deserializer = Self;
    fn into_deserializer(self) -> Self {
        self
    }
}

struct SeqDe(std::vec::IntoIter<Value>);
impl<'de> de::SeqAccess<'de> for SeqDe {
    type Error = DeError;
    fn next_element_seed<T: de::DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        self.0
            .next()
            .map(|v| seed.deserialize(ValueDe(v)))
            .transpose()
    }
}

struct MapDe {
    iter: std::collections::btree_map::IntoIter<String, Value>,
    value: Option<Value>,
}
impl<'de> de::MapAccess<'de> for MapDe {
    type Error = DeError;
    fn next_key_seed<K: de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        match self.iter.next() {
            Some((k, v)) => {
                self.value = Some(v);
                seed.deserialize(k.into_deserializer()).map(Some)
            }
            None => Ok(None),
        }
    }
    fn next_value_seed<V: de::DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, DeError> {
        seed.deserialize(ValueDe(self.value.take().unwrap_or_default()))
    }
}

impl<'de> de::Deserializer<'de> for ValueDe {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(b),
            Value::Int(i) => visitor.visit_i64(i),
            Value::Float(f) => visitor.visit_f64(f),
            Value::Str(s) => visitor.visit_string(s),
            Value::List(l) => visitor.visit_seq(SeqDe(l.into_iter())),
            Value::Map(m) => visitor.visit_map(MapDe {
                iter: m.into_iter(),
                value: None,
            }),
            Value::Tensor(t) => {
                // A tensor where plain data is expected: a 1-D tensor reads as a list of numbers.
                let int = !t.dtype().is_float();
                let v = t.to_vec_f64().map_err(|e| DeError(e.to_string()))?;
                if t.ndim() > 1 {
                    return Err(DeError(format!(
                        "expected a list, got a tensor of shape {:?}",
                        t.shape()
                    )));
                }
                let l = v
                    .into_iter()
                    .map(|x| {
                        if int {
                            Value::Int(x as i64)
                        } else {
                            Value::Float(x)
                        }
                    })
                    .collect::<Vec<_>>();
                visitor.visit_seq(SeqDe(l.into_iter()))
            }
            Value::Object(o) => Err(DeError(format!("unexpected {} object", o.type_name()))),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            v => visitor.visit_some(ValueDe(v)),
        }
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            Value::Int(i) => visitor.visit_f64(i as f64),
            v => ValueDe(v).deserialize_any(visitor),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match self.0 {
            Value::Str(s) => visitor.visit_enum(s.into_deserializer()),
            other => Err(DeError(format!(
                "expected a string naming a variant, got {}",
                other.type_name()
            ))),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        if name == TENSOR_MAGIC {
            let t = match &self.0 {
                Value::Tensor(_) => self.0,
                Value::List(_) | Value::Int(_) | Value::Float(_) => {
                    Value::Tensor(tensor_from_nested(&self.0).map_err(|e| DeError(e.to_string()))?)
                }
                other => {
                    return Err(DeError(format!(
                        "expected a tensor, got {}",
                        other.type_name()
                    )))
                }
            };
            PARKED.with(|p| *p.borrow_mut() = Some(t));
            return visitor.visit_unit();
        }
        if name == VALUE_MAGIC {
            PARKED.with(|p| *p.borrow_mut() = Some(self.0));
            return visitor.visit_unit();
        }
        let _ = fields;
        self.deserialize_any(visitor)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map identifier ignored_any
    }
}

fn take_parked<E: de::Error>() -> Result<Value, E> {
    PARKED
        .with(|p| p.borrow_mut().take())
        .ok_or_else(|| E::custom("tensors and values can only be read from emoscope Values"))
}

impl<'de> Deserialize<'de> for Tensor {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> std::result::Result<Tensor, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Tensor;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a tensor")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Tensor, E> {
                match take_parked::<E>()? {
                    Value::Tensor(t) => Ok(t),
                    other => Err(E::custom(format!(
                        "expected a tensor, got {}",
                        other.type_name()
                    ))),
                }
            }
        }
        d.deserialize_struct(TENSOR_MAGIC, &[], V)
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> std::result::Result<Value, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Value;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
                take_parked::<E>()
            }
        }
        d.deserialize_struct(VALUE_MAGIC, &[], V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vmap;

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    struct Params {
        #[serde(default = "default_lambda")]
        lambda: f64,
        #[serde(default)]
        dims: usize,
        #[serde(default)]
        alphas: Option<Tensor>,
        #[serde(default)]
        device: Option<String>,
    }
    fn default_lambda() -> f64 {
        0.004
    }

    fn map(v: Value) -> Map {
        v.as_map().unwrap().clone()
    }

    #[test]
    fn typed_options_with_defaults_and_tensors() {
        let t = Tensor::from_vec(vec![1.0f64, 10.0], &[2]).unwrap();
        let p: Params = parse(&map(vmap! {"dims" => 90i64, "alphas" => t.clone()})).unwrap();
        assert_eq!(p.lambda, 0.004);
        assert_eq!(p.dims, 90);
        assert!(p.alphas.unwrap().bit_equal(&t).unwrap());
        assert!(p.device.is_none());
        // ints widen to floats
        let p: Params = parse(&map(vmap! {"lambda" => 1i64})).unwrap();
        assert_eq!(p.lambda, 1.0);
    }

    #[test]
    fn unknown_key_lists_valid_ones() {
        let e = parse::<Params>(&map(vmap! {"lamda" => 0.1}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field `lamda`"), "{e}");
        assert!(e.contains("`lambda`") && e.contains("`dims`"), "{e}");
    }

    #[test]
    fn wrong_type_is_an_error() {
        let e = parse::<Params>(&map(vmap! {"dims" => "ninety"}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("invalid type"), "{e}");
    }
}
