//! A serde deserializer over a route's path parameters, for [`Path`](super::Path): one
//! parameter into a scalar, all of them into a tuple or sequence (in route order) or into a
//! struct or map (by name). Values are percent-decoded before they are parsed.

use std::borrow::Cow;
use std::fmt;

use serde::de::{
    self, DeserializeSeed, Deserializer, IntoDeserializer, MapAccess, SeqAccess, Visitor,
};
use serde::forward_to_deserialize_any;

/// Why path parameters did not fit.
#[derive(Debug)]
pub(super) struct PathError(pub(super) String);

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PathError {}

impl de::Error for PathError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Self(msg.to_string())
    }
}

/// Deserializer methods that hand a scalar request to the route's one parameter.
macro_rules! to_the_one {
    ($($method:ident)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PathError> {
                self.one()?.$method(visitor)
            }
        )*
    };
}

/// The parameters, decoded: `(name, value)` in route order.
pub(super) struct Params<'a>(pub(super) &'a [(String, Cow<'a, str>)]);

impl<'de, 'a: 'de> Deserializer<'de> for Params<'a> {
    type Error = PathError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PathError> {
        self.deserialize_map(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PathError> {
        visitor.visit_map(Map {
            params: self.0.iter(),
            value: None,
        })
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, PathError> {
        self.deserialize_map(visitor)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PathError> {
        visitor.visit_seq(Seq(self.0.iter()))
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, PathError> {
        if self.0.len() != len {
            return Err(PathError(format!(
                "the route has {} path parameters, {len} were expected",
                self.0.len()
            )));
        }
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, PathError> {
        self.deserialize_tuple(len, visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, PathError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PathError> {
        visitor.visit_some(self)
    }

    // A scalar: the route's one parameter.
    to_the_one! {
        deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64
        deserialize_u128 deserialize_f32 deserialize_f64 deserialize_char deserialize_str
        deserialize_string deserialize_bytes deserialize_byte_buf deserialize_unit
        deserialize_identifier deserialize_ignored_any
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, PathError> {
        self.one()?.deserialize_unit_struct(name, visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, PathError> {
        self.one()?.deserialize_enum(name, variants, visitor)
    }
}

impl<'a> Params<'a> {
    /// The one parameter, for a scalar target.
    fn one(&self) -> Result<Value<'a>, PathError> {
        match self.0 {
            [(name, value)] => Ok(Value { name, value }),
            params => Err(PathError(format!(
                "the route has {} path parameters, one was expected",
                params.len()
            ))),
        }
    }
}

struct Map<'a, I> {
    params: I,
    value: Option<&'a (String, Cow<'a, str>)>,
}

impl<'de, 'a: 'de, I> MapAccess<'de> for Map<'a, I>
where
    I: Iterator<Item = &'a (String, Cow<'a, str>)>,
{
    type Error = PathError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, PathError> {
        match self.params.next() {
            Some(param) => {
                self.value = Some(param);
                let key: de::value::StrDeserializer<'de, PathError> =
                    param.0.as_str().into_deserializer();
                seed.deserialize(key).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, PathError> {
        let (name, value) = self
            .value
            .take()
            .ok_or_else(|| PathError("a value without its name".to_owned()))?;
        seed.deserialize(Value { name, value })
    }
}

struct Seq<I>(I);

impl<'de, 'a: 'de, I> SeqAccess<'de> for Seq<I>
where
    I: Iterator<Item = &'a (String, Cow<'a, str>)>,
{
    type Error = PathError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, PathError> {
        match self.0.next() {
            Some((name, value)) => seed.deserialize(Value { name, value }).map(Some),
            None => Ok(None),
        }
    }
}

/// One decoded parameter: a string that parses into whatever scalar is asked for.
struct Value<'a> {
    name: &'a str,
    value: &'a Cow<'a, str>,
}

impl Value<'_> {
    fn parse<T: std::str::FromStr>(&self, what: &str) -> Result<T, PathError> {
        self.value.parse().map_err(|_| {
            PathError(format!(
                "path parameter `{}` = {:?} is not {what}",
                self.name, self.value
            ))
        })
    }
}

macro_rules! parse_scalar {
    ($($method:ident => $visit:ident: $ty:ty, $what:literal;)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PathError> {
                visitor.$visit(self.parse::<$ty>($what)?)
            }
        )*
    };
}

impl<'de, 'a: 'de> Deserializer<'de> for Value<'a> {
    type Error = PathError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PathError> {
        visitor.visit_borrowed_str(self.value)
    }

    parse_scalar! {
        deserialize_bool => visit_bool: bool, "true or false";
        deserialize_i8 => visit_i8: i8, "an integer from -128 to 127";
        deserialize_i16 => visit_i16: i16, "an integer from -32768 to 32767";
        deserialize_i32 => visit_i32: i32, "a 32-bit integer";
        deserialize_i64 => visit_i64: i64, "a 64-bit integer";
        deserialize_i128 => visit_i128: i128, "an integer";
        deserialize_u8 => visit_u8: u8, "an integer from 0 to 255";
        deserialize_u16 => visit_u16: u16, "an integer from 0 to 65535";
        deserialize_u32 => visit_u32: u32, "a non-negative 32-bit integer";
        deserialize_u64 => visit_u64: u64, "a non-negative integer";
        deserialize_u128 => visit_u128: u128, "a non-negative integer";
        deserialize_f32 => visit_f32: f32, "a number";
        deserialize_f64 => visit_f64: f64, "a number";
        deserialize_char => visit_char: char, "one character";
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PathError> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, PathError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, PathError> {
        let variant: de::value::StrDeserializer<'de, PathError> =
            (&**self.value).into_deserializer();
        variant.deserialize_enum("", &[], visitor)
    }

    forward_to_deserialize_any! {
        str string bytes byte_buf unit unit_struct seq tuple tuple_struct map struct identifier
        ignored_any
    }
}
