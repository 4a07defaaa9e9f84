//! The `$orderby`, `$select` and `$search` query options.
//!
//! `$search` follows Graph's directory syntax: one or more `"property:term"` clauses (double
//! quotes required) joined by `AND` / `OR` (`AND` binds tighter). Each whitespace-separated word
//! of a term must match case-insensitively as a prefix of the value or of a word inside it,
//! where words are delimited by space, `.`, `@`, `-` or `_`.

use crate::compile::{Ctx, like_escape};
use crate::{Compiled, Dialect, EntitySchema, Field, FieldKind, MAX_NODES, ODataError, Value, check_len};

/// One `$orderby` item.
#[derive(Debug, Clone, Copy)]
pub struct OrderItem {
    pub field: &'static Field,
    pub descending: bool,
}

fn is_collection(field: &Field) -> bool {
    matches!(field.kind, FieldKind::TextCollection { .. } | FieldKind::ComplexCollection { .. })
}

/// Parses `$orderby` such as `displayName desc,userPrincipalName`. A blank value yields no
/// items. Unknown properties are BadRequest; properties without `ops.order` are Unsupported.
pub fn parse_orderby(input: &str, schema: &EntitySchema) -> Result<Vec<OrderItem>, ODataError> {
    check_len(input, "$orderby")?;
    let mut out: Vec<OrderItem> = Vec::new();
    if input.trim().is_empty() {
        return Ok(out);
    }
    for item in input.split(',') {
        let mut words = item.split_whitespace();
        let Some(name) = words.next() else {
            return Err(ODataError::bad_request(format!("Syntax error: empty item in $orderby '{input}'.")));
        };
        let descending = match words.next().map(str::to_ascii_lowercase).as_deref() {
            None | Some("asc") => false,
            Some("desc") => true,
            Some(_) => {
                return Err(ODataError::bad_request(format!(
                    "Syntax error: expected 'asc' or 'desc' after '{name}' in $orderby '{input}'."
                )));
            }
        };
        if words.next().is_some() {
            return Err(ODataError::bad_request(format!(
                "Syntax error: unexpected text after '{}' in $orderby '{input}'.",
                item.trim()
            )));
        }
        let field = schema.field(name).ok_or_else(|| schema.unknown_property(name))?;
        if !field.ops.order || is_collection(field) {
            return Err(ODataError::unsupported(format!(
                "Sorting by property '{}' of resource '{}' is not supported.",
                field.name, schema.entity
            )));
        }
        if out.iter().any(|o| std::ptr::eq(o.field, field)) {
            return Err(ODataError::bad_request(format!(
                "Property '{}' appears more than once in $orderby.",
                field.name
            )));
        }
        out.push(OrderItem { field, descending });
    }
    Ok(out)
}

/// Column to use in ORDER BY for a field: `ci_column` for Text, `column` otherwise. Collections
/// have no sort column (`parse_orderby` never returns them); for them this returns `""`.
pub fn order_column(field: &Field) -> &'static str {
    match field.kind {
        FieldKind::Text { ci_column, .. } => ci_column,
        FieldKind::Enum { column, .. }
        | FieldKind::Bool { column }
        | FieldKind::Int { column }
        | FieldKind::DateTime { column }
        | FieldKind::Guid { column } => column,
        FieldKind::TextCollection { .. } | FieldKind::ComplexCollection { .. } => "",
    }
}

/// Parses `$select` into canonical Graph names, deduplicated, in the given order. A blank
/// value yields no names. `id` is always selectable when the schema has it.
pub fn parse_select(input: &str, schema: &EntitySchema) -> Result<Vec<&'static str>, ODataError> {
    check_len(input, "$select")?;
    let mut out: Vec<&'static str> = Vec::new();
    if input.trim().is_empty() {
        return Ok(out);
    }
    for item in input.split(',') {
        let name = item.trim();
        if name.is_empty() {
            return Err(ODataError::bad_request(format!("Syntax error: empty property name in $select '{input}'.")));
        }
        let field = schema.field(name).ok_or_else(|| schema.unknown_property(name))?;
        if !field.selectable && !field.name.eq_ignore_ascii_case("id") {
            return Err(ODataError::unsupported(format!(
                "Property '{}' of resource '{}' cannot be selected.",
                field.name, schema.entity
            )));
        }
        if !out.contains(&field.name) {
            out.push(field.name);
        }
    }
    Ok(out)
}

/// Word-prefix patterns: at the start, or after one of the separators ` . @ - _`.
fn word_predicates(ctx: &mut Ctx, column: &str, words: &[String]) -> String {
    let mut groups = Vec::new();
    for word in words {
        let e = like_escape(word);
        let patterns = [
            format!("{e}%"),
            format!("% {e}%"),
            format!("%.{e}%"),
            format!("%@{e}%"),
            format!("%-{e}%"),
            format!("%\\_{e}%"),
        ];
        let likes: Vec<String> =
            patterns.into_iter().map(|p| format!("{column} LIKE {} ESCAPE '\\'", ctx.bind(Value::Text(p)))).collect();
        groups.push(format!("({})", likes.join(" OR ")));
    }
    groups.join(" AND ")
}

fn search_clause(ctx: &mut Ctx, name: &str, words: &[String]) -> Result<String, ODataError> {
    let schema = ctx.schema;
    let field = schema.field(name).ok_or_else(|| schema.unknown_property(name))?;
    let unsupported = || {
        ODataError::unsupported(format!(
            "Searching on property '{}' of resource '{}' is not supported.",
            field.name, schema.entity
        ))
    };
    if !field.search {
        return Err(unsupported());
    }
    if words.is_empty() {
        return Err(ODataError::bad_request(format!("The $search term for property '{}' is empty.", field.name)));
    }
    match field.kind {
        FieldKind::Text { ci_column, .. } => Ok(word_predicates(ctx, ci_column, words)),
        FieldKind::TextCollection { table, owner_column, value_ci_column } => {
            ctx.exists(table, owner_column, |ctx, alias| {
                Ok(Some(word_predicates(ctx, &format!("{alias}.{value_ci_column}"), words)))
            })
        }
        _ => Err(unsupported()),
    }
}

fn join(parts: &[String], op: &str) -> String {
    match parts {
        [one] => one.clone(),
        _ => parts.iter().map(|p| format!("({p})")).collect::<Vec<_>>().join(op),
    }
}

/// Compiles a `$search` value such as `"displayName:al" OR "mail:al"` into a SQL fragment.
/// Only fields with `search: true` (Text or TextCollection) are allowed. `advanced` is always
/// true. `dialect` does not change the output yet.
pub fn search(
    input: &str,
    schema: &EntitySchema,
    _dialect: Dialect,
    first_param: usize,
) -> Result<Compiled, ODataError> {
    check_len(input, "$search")?;
    let chars: Vec<char> = input.chars().collect();
    let syntax = |pos: usize, what: &str| {
        ODataError::bad_request(format!("Syntax error: {what} at position {pos} in $search '{input}'."))
    };
    let skip_ws = |mut i: usize| {
        while chars.get(i).is_some_and(|c| c.is_whitespace()) {
            i += 1;
        }
        i
    };
    let mut ctx = Ctx::new(schema, first_param);
    ctx.advanced = true;
    let mut groups: Vec<Vec<String>> = vec![Vec::new()];
    let (mut i, mut nodes) = (0, 0);
    loop {
        i = skip_ws(i);
        if chars.get(i) != Some(&'"') {
            return Err(syntax(i, "expected a double-quoted \"property:value\" clause"));
        }
        let start = i;
        i += 1;
        let mut clause = String::new();
        loop {
            match chars.get(i) {
                None => return Err(syntax(start, "unterminated quoted clause")),
                Some('\\') if matches!(chars.get(i + 1), Some('"' | '\\')) => {
                    clause.extend(chars.get(i + 1));
                    i += 2;
                }
                Some('"') => {
                    i += 1;
                    break;
                }
                Some(&c) => {
                    clause.push(c);
                    i += 1;
                }
            }
        }
        let Some((name, term)) = clause.split_once(':') else {
            return Err(syntax(start, "a clause must have the form \"property:value\""));
        };
        let words: Vec<String> = term.to_lowercase().split_whitespace().map(str::to_string).collect();
        nodes += 1 + words.len();
        if nodes > MAX_NODES {
            return Err(ODataError::bad_request(format!(
                "The $search query is too complex: more than {MAX_NODES} terms."
            )));
        }
        let sql = search_clause(&mut ctx, name.trim(), &words)?;
        if let Some(group) = groups.last_mut() {
            group.push(sql);
        }
        i = skip_ws(i);
        if i >= chars.len() {
            break;
        }
        let word: String = chars[i..].iter().take_while(|c| c.is_ascii_alphabetic()).collect();
        match word.to_ascii_uppercase().as_str() {
            "AND" => {}
            "OR" => groups.push(Vec::new()),
            _ => return Err(syntax(i, "expected AND or OR")),
        }
        i += word.len();
    }
    let ors: Vec<String> = groups.iter().map(|g| join(g, " AND ")).collect();
    let sql = join(&ors, " OR ");
    Ok(ctx.finish(sql))
}
