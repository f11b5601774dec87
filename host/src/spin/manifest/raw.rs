//! The tables of a Spin manifest, version 2, as serde reads them: one struct per table, with
//! every key Spin defines (those edge-host refuses too, so that they get a message of their
//! own instead of "unknown key"). Values that `resolve` reports on are [`Spanned`], for their
//! position; the others are only checked for their type.
//!
//! Tables are read through [`Checked`], which sets unknown keys aside instead of failing, so
//! that every unknown key is reported and the rest of the table is still checked; the structs
//! deny unknown fields themselves, so that none is ever dropped silently.

use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{
    self, DeserializeSeed, Deserializer, IgnoredAny, IntoDeserializer, MapAccess, SeqAccess,
    Visitor,
};
use toml::{Spanned, Value};

/// `[application]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Application {
    pub name: Option<Spanned<String>>,
    pub version: Option<String>,
    #[expect(dead_code, reason = "checked for its type only")]
    pub description: Option<String>,
    #[expect(dead_code, reason = "checked for its type only")]
    pub authors: Option<Vec<String>>,
    pub trigger: Option<Checked<AppTriggers>>,
    #[expect(dead_code, reason = "checked for its type only")]
    pub tool: Option<toml::Table>,
}

/// `[application.trigger]`: the settings of each kind of trigger (the others are unknown keys).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AppTriggers {
    pub http: Option<Checked<AppHttp>>,
}

/// `[application.trigger.http]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AppHttp {
    pub base: Option<Spanned<String>>,
}

/// One `[variables]` entry.
#[derive(Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a table such as { default = \"...\" } or { required = true }"
)]
pub(super) struct Variable {
    pub default: Option<String>,
    pub required: Option<bool>,
    pub secret: Option<bool>,
}

/// One `[[trigger.http]]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Trigger {
    #[expect(dead_code, reason = "checked for its type only")]
    pub id: Option<String>,
    /// A component id, or (refused) an inline component table.
    pub component: Option<Spanned<Value>>,
    /// Middleware: refused unless empty.
    pub components: Option<Spanned<Value>>,
    pub route: Option<Spanned<Route>>,
    pub executor: Option<Spanned<Checked<Executor>>>,
    /// Refused.
    pub static_response: Option<Spanned<IgnoredAny>>,
}

/// The `route` of a trigger: `"/path"` or `{ private = true }`.
pub(super) enum Route {
    Path(String),
    Table(Checked<PrivateRoute>),
}

/// A `route` written as a table.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PrivateRoute {
    pub private: Option<Spanned<bool>>,
}

impl<'de> Deserialize<'de> for Route {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RouteVisitor;

        impl<'de> Visitor<'de> for RouteVisitor {
            type Value = Route;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a route string or { private = true }")
            }

            fn visit_str<E: de::Error>(self, route: &str) -> Result<Route, E> {
                Ok(Route::Path(route.to_owned()))
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Route, A::Error> {
                Checked::deserialize(de::value::MapAccessDeserializer::new(map)).map(Route::Table)
            }
        }

        deserializer.deserialize_any(RouteVisitor)
    }
}

/// A trigger's `executor`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Executor {
    #[serde(rename = "type")]
    pub kind: Option<Spanned<String>>,
}

/// One `[component.<id>]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Component {
    /// A path, or (refused) a remote or registry source table.
    pub source: Option<Spanned<Value>>,
    #[expect(dead_code, reason = "checked for its type only")]
    pub description: Option<String>,
    pub allowed_outbound_hosts: Option<Vec<Spanned<String>>>,
    pub key_value_stores: Option<Vec<Spanned<String>>>,
    pub sqlite_databases: Option<Vec<Spanned<String>>>,
    pub environment: Option<Entries<String>>,
    pub variables: Option<Entries<Spanned<String>>>,
    pub build: Option<Checked<Build>>,
    #[expect(dead_code, reason = "checked for its type only")]
    pub tool: Option<toml::Table>,
    // Refused unless empty (or false): edge-host has no such feature.
    pub files: Option<Spanned<Value>>,
    pub exclude_files: Option<Spanned<Value>>,
    pub allowed_http_hosts: Option<Spanned<Value>>,
    pub ai_models: Option<Spanned<Value>>,
    pub dependencies: Option<Spanned<Value>>,
    pub dependencies_inherit_configuration: Option<Spanned<bool>>,
}

/// `[component.<id>.build]`: what `edge-host build` runs (and the hint when the component
/// file is missing).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Build {
    pub command: Option<Spanned<Command>>,
    pub workdir: Option<String>,
    pub watch: Option<Vec<String>>,
    pub environment: Option<Entries<String>>,
}

/// A build `command`: one command, or a list of them (joined with ` && `).
pub(super) struct Command(pub String);

impl<'de> Deserialize<'de> for Command {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CommandVisitor;

        impl<'de> Visitor<'de> for CommandVisitor {
            type Value = Command;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a command or a list of commands")
            }

            fn visit_str<E: de::Error>(self, command: &str) -> Result<Command, E> {
                Ok(Command(command.to_owned()))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Command, A::Error> {
                let commands =
                    Vec::<String>::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
                Ok(Command(commands.join(" && ")))
            }
        }

        deserializer.deserialize_any(CommandVisitor)
    }
}

/// A table of `V`s in file order, with the spans of their keys.
pub(super) struct Entries<V>(pub Vec<(Spanned<String>, V)>);

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Entries<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntriesVisitor<V>(PhantomData<V>);

        impl<'de, V: Deserialize<'de>> Visitor<'de> for EntriesVisitor<V> {
            type Value = Entries<V>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a table")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries<V>, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    entries.push(entry);
                }
                Ok(Entries(entries))
            }
        }

        deserializer.deserialize_map(EntriesVisitor(PhantomData))
    }
}

/// The struct `T` read from a table whose keys `T` does not have are set aside in
/// [`Self::unknown`] rather than failing.
pub(super) struct Checked<T> {
    pub value: T,
    /// The keys `T` does not have, in file order.
    pub unknown: Vec<Spanned<String>>,
    /// The keys `T` has.
    pub known: &'static [&'static str],
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Checked<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut unknown = Vec::new();
        let mut known: &'static [&'static str] = &[];
        let value = T::deserialize(SetAside {
            inner: deserializer,
            unknown: &mut unknown,
            known: &mut known,
        })?;
        Ok(Self {
            value,
            unknown,
            known,
        })
    }
}

/// A deserializer that hands a struct only the keys it knows (serde's derive names them in
/// `deserialize_struct`) and sets the others aside.
struct SetAside<'a, D> {
    inner: D,
    unknown: &'a mut Vec<Spanned<String>>,
    known: &'a mut &'static [&'static str],
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for SetAside<'_, D> {
    type Error = D::Error;

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        *self.known = fields;
        let visitor = SetAside {
            inner: visitor,
            unknown: self.unknown,
            known: self.known,
        };
        self.inner.deserialize_struct(name, fields, visitor)
    }

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.inner.deserialize_any(visitor)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

/// As the struct's visitor: a table only, its keys filtered.
impl<'de, V: Visitor<'de>> Visitor<'de> for SetAside<'_, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.expecting(f)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        let map = SetAside {
            inner: map,
            unknown: self.unknown,
            known: self.known,
        };
        self.inner.visit_map(map)
    }
}

/// As the table: the known keys, the others set aside with their values skipped.
impl<'de, A: MapAccess<'de>> MapAccess<'de> for SetAside<'_, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        while let Some(key) = self.inner.next_key::<Spanned<String>>()? {
            if self.known.contains(&key.get_ref().as_str()) {
                return seed
                    .deserialize(key.into_inner().into_deserializer())
                    .map(Some);
            }
            self.inner.next_value::<IgnoredAny>()?;
            self.unknown.push(key);
        }
        Ok(None)
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, A::Error> {
        self.inner.next_value_seed(seed)
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}
