//! `portico-odata`: Microsoft Graph OData query options for directory objects.
//!
//! This crate owns the shared vocabulary (schemas, bind values, errors, limits) and the
//! `filter` entry point; parsing lives in `parse`, `$filter` compilation in `compile`, and
//! `$orderby` / `$select` / `$search` in `query`.
//!
//! Every field a client may touch is declared in an [`EntitySchema`] allow-list. Compiled SQL
//! only ever contains column names from that schema, fixed keywords and `$N` placeholders;
//! every literal becomes a bind parameter in [`Compiled::params`]. The SQL is portable between
//! SQLite and PostgreSQL (both accept `$N` placeholders). Fragments are self-contained boolean
//! expressions meant to be embedded as `WHERE tenant_id = $1 AND (<fragment>)`.

mod compile;
mod parse;
mod query;

pub use compile::compile_filter;
pub use parse::{CmpOp, Expr, Func, Literal, Operand, parse_filter};
pub use query::{OrderItem, order_column, parse_orderby, parse_select, search};

/// Maximum length (in characters) of any query option value.
pub const MAX_INPUT_LEN: usize = 4096;
/// Maximum number of AST nodes (expressions, operands and `in` list items) in a `$filter`.
pub const MAX_NODES: usize = 100;
/// Maximum nesting depth (parentheses, `not`, lambdas) in a `$filter`.
pub const MAX_DEPTH: usize = 32;

/// Bind values.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Text(String),
}

/// Target SQL engine. Currently every construct compiles identically for both engines (the
/// parameter exists so that dialect-specific forms such as `ILIKE` can be added later).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// How a Graph property is stored.
#[derive(Debug, Clone, Copy)]
pub enum FieldKind {
    /// String. `column` holds the value as given; `ci_column` holds `to_lowercase()` of it
    /// (NULL when the value is NULL). Comparisons use `ci_column` with lowercased literals.
    Text { column: &'static str, ci_column: &'static str },
    /// String with a closed set of canonical `values`, matched case-insensitively. Only
    /// eq, ne, in and null checks are ever allowed.
    Enum { column: &'static str, values: &'static [&'static str] },
    /// Boolean.
    Bool { column: &'static str },
    /// 64-bit integer.
    Int { column: &'static str },
    /// DateTimeOffset stored as i64 Unix epoch milliseconds. Literals are bare
    /// (`2024-01-02T03:04:05Z`, `2024-01-02`); a quoted form is also accepted.
    DateTime { column: &'static str },
    /// GUID stored as lowercase hyphenated text.
    Guid { column: &'static str },
    /// Collection of strings in a child table (lowercased values in `value_ci_column`).
    TextCollection { table: &'static str, owner_column: &'static str, value_ci_column: &'static str },
    /// Collection of complex objects in a child table; `props` maps Graph sub-property name to
    /// the column holding the lowercased value.
    ComplexCollection {
        table: &'static str,
        owner_column: &'static str,
        props: &'static [(&'static str, &'static str)],
    },
}

/// Operator capabilities of a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ops {
    pub eq: bool,
    pub ne: bool,
    pub in_: bool,
    pub starts_with: bool,
    pub ends_with: bool,
    /// `gt ge lt le`.
    pub range: bool,
    /// `eq null` / `ne null`.
    pub null: bool,
    /// `any()` lambdas (collections only).
    pub any: bool,
    /// Usable in `$orderby`.
    pub order: bool,
}

impl Ops {
    /// Nothing allowed.
    pub const NONE: Ops = Ops {
        eq: false,
        ne: false,
        in_: false,
        starts_with: false,
        ends_with: false,
        range: false,
        null: false,
        any: false,
        order: false,
    };
    /// `eq` and `in` only.
    pub const EQ_IN: Ops = Ops { eq: true, in_: true, ..Ops::NONE };
    /// `eq`, `ne`, `in` and null checks.
    pub const EQUALITY: Ops = Ops { eq: true, ne: true, in_: true, null: true, ..Ops::NONE };
    /// Typical Graph string property: equality, `startsWith`, `endsWith`, null checks, sortable.
    pub const STRING_DEFAULT: Ops = Ops { starts_with: true, ends_with: true, order: true, ..Ops::EQUALITY };
    /// Typical Graph date/number property: equality, ranges, null checks, sortable.
    pub const RANGE_DEFAULT: Ops = Ops { range: true, order: true, ..Ops::EQUALITY };
    /// Typical string collection: `any()` with `eq`, `in` and `startsWith` on the element.
    pub const COLLECTION: Ops = Ops { any: true, eq: true, in_: true, starts_with: true, ..Ops::NONE };

    /// The same capabilities plus `$orderby`.
    pub const fn with_order(self) -> Ops {
        Ops { order: true, ..self }
    }
}

/// One Graph property of an entity.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    /// Graph camelCase name; matched case-insensitively.
    pub name: &'static str,
    pub kind: FieldKind,
    pub ops: Ops,
    /// Usable in `$search`.
    pub search: bool,
    /// Usable in `$select`.
    pub selectable: bool,
}

impl Field {
    /// A selectable field that is not usable in `$search`.
    pub const fn new(name: &'static str, kind: FieldKind, ops: Ops) -> Field {
        Field { name, kind, ops, search: false, selectable: true }
    }

    /// The same field, usable in `$search`.
    pub const fn searchable(self) -> Field {
        Field { search: true, ..self }
    }

    /// The same field, excluded from `$select`.
    pub const fn hidden(self) -> Field {
        Field { selectable: false, ..self }
    }
}

/// The allow-list of queryable properties of one entity type.
#[derive(Debug, Clone, Copy)]
pub struct EntitySchema {
    /// Graph entity name, e.g. `User`, used in messages.
    pub entity: &'static str,
    pub table: &'static str,
    pub id_column: &'static str,
    pub fields: &'static [Field],
}

impl EntitySchema {
    /// Looks a field up by Graph name, case-insensitively.
    pub fn field(&self, name: &str) -> Option<&'static Field> {
        self.fields.iter().find(|f| f.name.eq_ignore_ascii_case(name))
    }

    /// The OData type name, e.g. `microsoft.graph.user` for entity `User`.
    pub fn type_name(&self) -> String {
        let mut chars = self.entity.chars();
        let first = chars.next().map(|c| c.to_lowercase().collect::<String>()).unwrap_or_default();
        format!("microsoft.graph.{first}{}", chars.as_str())
    }

    pub(crate) fn unknown_property(&self, name: &str) -> ODataError {
        ODataError::bad_request(format!("Could not find a property named '{name}' on type '{}'.", self.type_name()))
    }

    pub(crate) fn unsupported_clause(&self, name: &str) -> ODataError {
        ODataError::unsupported(format!(
            "Unsupported or invalid query filter clause specified for property '{name}' of resource '{}'.",
            self.entity
        ))
    }
}

/// Error category: a malformed request (HTTP 400) or a valid but unsupported query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ODataErrorKind {
    BadRequest,
    Unsupported,
}

/// A query option error with a client-facing message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ODataError {
    pub kind: ODataErrorKind,
    pub message: String,
}

impl ODataError {
    /// A [`ODataErrorKind::BadRequest`] error.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self { kind: ODataErrorKind::BadRequest, message: message.into() }
    }

    /// A [`ODataErrorKind::Unsupported`] error.
    pub fn unsupported(message: impl Into<String>) -> Self {
        Self { kind: ODataErrorKind::Unsupported, message: message.into() }
    }
}

impl std::fmt::Display for ODataError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ODataError {}

/// A compiled SQL boolean fragment with its bind parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Compiled {
    /// SQL text using `$N` placeholders numbered from the caller's `first_param`.
    pub sql: String,
    /// Values for the placeholders, in order.
    pub params: Vec<Value>,
    /// True when the query uses a Graph "advanced query" feature (`ne`, `not`, `endsWith`,
    /// `$search`), which Graph gates behind `ConsistencyLevel: eventual`.
    pub advanced: bool,
}

/// Parses and compiles a `$filter` value. `first_param` is the number of the first
/// placeholder (values below 1 are treated as 1).
pub fn filter(
    input: &str,
    schema: &EntitySchema,
    dialect: Dialect,
    first_param: usize,
) -> Result<Compiled, ODataError> {
    compile_filter(&parse_filter(input)?, schema, dialect, first_param)
}

pub(crate) fn check_len(input: &str, option: &str) -> Result<(), ODataError> {
    if input.chars().count() > MAX_INPUT_LEN {
        return Err(ODataError::bad_request(format!(
            "The {option} query option exceeds the maximum length of {MAX_INPUT_LEN} characters."
        )));
    }
    Ok(())
}
