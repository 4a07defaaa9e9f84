//! Listing with Graph's query options: scope, `$filter`, `$search`, `$orderby`, `$top`, `$count`
//! and opaque `$skiptoken` paging.
//!
//! Paging is keyset-based (stable under concurrent inserts, and as fast on page 100 as on page 1)
//! for the default order (`id`) and for a single `$orderby` property; several `$orderby`
//! properties fall back to an offset carried in the token.

use base64::Engine as _;
use portico_odata::{Compiled, Value};
use serde_json::json;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::db::{Store, StoreError, bind_value, dynamic};

/// A WHERE fragment with its own `$1..` numbering; [`List`] renumbers when it joins fragments.
#[derive(Debug, Clone)]
pub struct Cond {
    /// SQL text built only from allow-listed identifiers and placeholders.
    pub sql: String,
    /// Bind values for its placeholders, in order.
    pub params: Vec<Value>,
}

impl Cond {
    /// A fragment without parameters.
    pub fn plain(sql: impl Into<String>) -> Self {
        Cond { sql: sql.into(), params: vec![] }
    }
    /// A fragment with parameters.
    pub fn new(sql: impl Into<String>, params: Vec<Value>) -> Self {
        Cond { sql: sql.into(), params }
    }
}

impl From<Compiled> for Cond {
    fn from(c: Compiled) -> Self {
        Cond { sql: c.sql, params: c.params }
    }
}

/// A page of results.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// The rows.
    pub items: Vec<T>,
    /// The `$skiptoken` of the next page, when there is one.
    pub next: Option<String>,
    /// The total when `$count` was asked.
    pub count: Option<i64>,
}

/// A list query.
#[derive(Debug, Clone)]
pub struct List {
    /// FROM clause (a table name).
    pub table: &'static str,
    /// The select list.
    pub columns: &'static str,
    /// Conditions, joined with AND.
    pub conds: Vec<Cond>,
    /// `(column, descending)` sort keys; the id column breaks ties.
    pub order: Vec<(&'static str, bool)>,
    /// The id column.
    pub id_column: &'static str,
    /// Page size.
    pub top: usize,
    /// The token of the page to read.
    pub skiptoken: Option<String>,
    /// Whether to count all matches.
    pub count: bool,
}

/// Renumbers `$N` placeholders by `offset`. Safe because compiled SQL never contains literal text:
/// every value is a parameter, so every `$` followed by digits is a placeholder.
pub fn shift_params(sql: &str, offset: usize) -> String {
    if offset == 0 {
        return sql.to_string();
    }
    let mut out = String::with_capacity(sql.len() + 8);
    let bytes = sql.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'$' && i + 1 < bytes.len() && bytes[i + 1].is_ascii_digit() {
            let start = i + 1;
            let mut end = start;
            while end < bytes.len() && bytes[end].is_ascii_digit() {
                end += 1;
            }
            let n: usize = sql[start..end].parse().unwrap_or(0);
            out.push('$');
            out.push_str(&(n + offset).to_string());
            i = end;
        } else {
            let ch_len = sql[i..].chars().next().map_or(1, char::len_utf8);
            out.push_str(&sql[i..i + ch_len]);
            i += ch_len;
        }
    }
    out
}

/// The token is only a position; a token that does not decode is a client error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the $skiptoken is not valid for this request")]
pub struct BadSkipToken;

enum Position {
    Start,
    After(Vec<serde_json::Value>),
    Offset(i64),
}

fn decode_token(t: &str) -> Result<Position, BadSkipToken> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(t).map_err(|_| BadSkipToken)?;
    let v: serde_json::Value = serde_json::from_slice(&raw).map_err(|_| BadSkipToken)?;
    if let Some(o) = v.get("o").and_then(serde_json::Value::as_i64) {
        return if o >= 0 { Ok(Position::Offset(o)) } else { Err(BadSkipToken) };
    }
    match v.get("k").and_then(serde_json::Value::as_array) {
        Some(k) if !k.is_empty() => Ok(Position::After(k.clone())),
        _ => Err(BadSkipToken),
    }
}

fn encode_token(v: serde_json::Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
}

/// Whether a sort column holds integers. Instants (`*_at`) are the only integer sort keys; every
/// other sortable column is text.
fn integer_column(column: &str) -> bool {
    column.ends_with("_at")
}

/// A token key as a bind value of the column's type. The token comes from the client, so a key
/// of the wrong type (or text PostgreSQL cannot hold, such as NUL) is a bad token, never a query
/// the database would reject.
fn json_to_value(v: &serde_json::Value, column: &str) -> Result<Value, BadSkipToken> {
    match v {
        serde_json::Value::Number(n) if integer_column(column) => n.as_i64().map(Value::Int).ok_or(BadSkipToken),
        serde_json::Value::String(s) if !integer_column(column) && !s.contains('\0') && s.len() <= 1024 => {
            Ok(Value::Text(s.clone()))
        }
        _ => Err(BadSkipToken),
    }
}

/// Errors of listing.
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    /// A bad token.
    #[error(transparent)]
    Token(#[from] BadSkipToken),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for ListError {
    fn from(e: sqlx::Error) -> Self {
        ListError::Store(StoreError::Database(e))
    }
}

fn join(conds: &[Cond]) -> (String, Vec<Value>) {
    let mut sql = String::new();
    let mut params = Vec::new();
    for c in conds {
        if !sql.is_empty() {
            sql.push_str(" AND ");
        }
        sql.push('(');
        sql.push_str(&shift_params(&c.sql, params.len()));
        sql.push(')');
        params.extend(c.params.iter().cloned());
    }
    if sql.is_empty() {
        sql.push_str("1 = 1");
    }
    (sql, params)
}

impl List {
    /// Runs the query and maps rows with `map`.
    pub async fn run<T>(
        &self,
        store: &Store,
        map: impl Fn(&AnyRow) -> Result<T, sqlx::Error>,
    ) -> Result<Page<T>, ListError> {
        let position = match &self.skiptoken {
            Some(t) => decode_token(t)?,
            None => Position::Start,
        };
        let keyset = self.order.len() <= 1;
        let (where_sql, mut params) = join(&self.conds);

        let count = if self.count {
            let q = format!("SELECT COUNT(*) FROM {} WHERE {}", self.table, where_sql);
            let mut query = dynamic(q);
            for p in &params {
                query = bind_value(query, p);
            }
            let row = query.fetch_one(store.pool()).await?;
            Some(row.try_get::<i64, _>(0)?)
        } else {
            None
        };

        let id = self.id_column;
        let (sort_cols, desc): (Vec<&str>, bool) = match self.order.as_slice() {
            [] => (vec![id], false),
            [(c, d)] => (vec![c, id], *d),
            many => (many.iter().map(|(c, _)| *c).chain([id]).collect(), false),
        };
        let mut sql =
            format!("SELECT {}, {} FROM {} WHERE {}", self.columns, sort_select(&sort_cols), self.table, where_sql);
        let mut offset = 0i64;
        match position {
            Position::Start => {}
            Position::After(k) if keyset && k.len() == sort_cols.len() => {
                let cmp = if desc { "<" } else { ">" };
                let lhs = sort_cols.join(", ");
                let rhs: Vec<String> = (0..k.len()).map(|i| format!("${}", params.len() + i + 1)).collect();
                if sort_cols.len() == 1 {
                    sql.push_str(&format!(" AND {lhs} {cmp} {}", rhs[0]));
                } else {
                    sql.push_str(&format!(" AND ({lhs}) {cmp} ({})", rhs.join(", ")));
                }
                for (v, col) in k.iter().zip(&sort_cols) {
                    params.push(json_to_value(v, col)?);
                }
            }
            Position::Offset(o) if !keyset => offset = o,
            _ => return Err(BadSkipToken.into()),
        }
        let dir = if desc { " DESC" } else { "" };
        let order_sql = if keyset {
            sort_cols.iter().map(|c| format!("{c}{dir}")).collect::<Vec<_>>().join(", ")
        } else {
            self.order
                .iter()
                .map(|(c, d)| format!("{c}{}", if *d { " DESC" } else { "" }))
                .chain([id.to_string()])
                .collect::<Vec<_>>()
                .join(", ")
        };
        sql.push_str(&format!(" ORDER BY {order_sql} LIMIT {} OFFSET {offset}", self.top + 1));

        let mut query = dynamic(sql);
        for p in &params {
            query = bind_value(query, p);
        }
        let rows = query.fetch_all(store.pool()).await?;
        let more = rows.len() > self.top;
        let mut items = Vec::with_capacity(rows.len().min(self.top));
        let mut last_key = None;
        for row in rows.iter().take(self.top) {
            items.push(map(row)?);
            if keyset {
                let mut key = Vec::with_capacity(sort_cols.len());
                for i in 0..sort_cols.len() {
                    let name = format!("sort_key_{i}");
                    let v = match row.try_get::<Option<i64>, _>(name.as_str()) {
                        Ok(Some(n)) => json!(n),
                        _ => json!(row.try_get::<Option<String>, _>(name.as_str())?.unwrap_or_default()),
                    };
                    key.push(v);
                }
                last_key = Some(key);
            }
        }
        let next = if more {
            Some(if keyset {
                encode_token(json!({ "k": last_key.unwrap_or_default() }))
            } else {
                encode_token(json!({ "o": offset + self.top as i64 }))
            })
        } else {
            None
        };
        Ok(Page { items, next, count })
    }
}

fn sort_select(cols: &[&str]) -> String {
    cols.iter().enumerate().map(|(i, c)| format!("{c} AS sort_key_{i}")).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_renumbered_and_text_kept() {
        assert_eq!(shift_params("a = $1 AND b IN ($2, $10)", 3), "a = $4 AND b IN ($5, $13)");
        assert_eq!(shift_params("x LIKE $1 ESCAPE '\\' -- é", 1), "x LIKE $2 ESCAPE '\\' -- é");
        assert_eq!(shift_params("cost $ 5", 2), "cost $ 5");
    }

    #[test]
    fn token_keys_must_match_their_column_type() {
        assert_eq!(json_to_value(&json!("abc"), "display_name_ci"), Ok(Value::Text("abc".into())));
        assert_eq!(json_to_value(&json!(5), "activity_at"), Ok(Value::Int(5)));
        assert_eq!(json_to_value(&json!(5), "id"), Err(BadSkipToken));
        assert_eq!(json_to_value(&json!("5"), "activity_at"), Err(BadSkipToken));
        assert_eq!(json_to_value(&json!("a\u{0}b"), "id"), Err(BadSkipToken));
        assert_eq!(json_to_value(&json!(null), "id"), Err(BadSkipToken));
    }

    #[test]
    fn tokens_round_trip_and_garbage_is_refused() {
        let t = encode_token(json!({"k": ["abc", "id-1"]}));
        assert!(matches!(decode_token(&t), Ok(Position::After(k)) if k.len() == 2));
        assert!(matches!(decode_token(&encode_token(json!({"o": 200}))), Ok(Position::Offset(200))));
        assert!(decode_token("not base64 !!").is_err());
        assert!(decode_token(&encode_token(json!({"o": -1}))).is_err());
        assert!(decode_token(&encode_token(json!({"k": []}))).is_err());
    }
}
