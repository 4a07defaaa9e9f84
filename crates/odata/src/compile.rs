//! Compilation of a parsed `$filter` [`Expr`] against an [`EntitySchema`] allow-list into a
//! parameterised SQL fragment, plus the bind-parameter context shared with `$search`.
//!
//! NULL semantics follow OData (a comparison against a NULL column is false, `ne` matches
//! NULL columns): `not(x)` compiles to `NOT (COALESCE((x), FALSE))`, which is correct on
//! PostgreSQL and SQLite ≥ 3.23 because `x` only ever combines comparisons with AND/OR.
//! `startsWith` compiles to a half-open range on the lowercased column, which needs the column
//! to compare bytewise (`COLLATE "C"` on PostgreSQL; SQLite's default `BINARY`).

use crate::parse::{is_guid, parse_datetime};
use crate::{
    CmpOp, Compiled, Dialect, EntitySchema, Expr, Field, FieldKind, Func, Literal, MAX_NODES, ODataError, Operand, Ops,
    Value,
};

/// Accumulates bind parameters, subquery aliases and the advanced-query flag.
pub(crate) struct Ctx<'s> {
    pub(crate) schema: &'s EntitySchema,
    params: Vec<Value>,
    next: usize,
    aliases: usize,
    pub(crate) advanced: bool,
}

impl<'s> Ctx<'s> {
    pub(crate) fn new(schema: &'s EntitySchema, first_param: usize) -> Self {
        Ctx { schema, params: Vec::new(), next: first_param.max(1), aliases: 0, advanced: false }
    }

    /// Records a bind value and returns its placeholder.
    pub(crate) fn bind(&mut self, value: Value) -> String {
        let placeholder = format!("${}", self.next);
        self.next += 1;
        self.params.push(value);
        placeholder
    }

    /// `EXISTS (...)` over a child table with a fresh alias; `pred` builds the inner predicate.
    pub(crate) fn exists(
        &mut self,
        table: &str,
        owner: &str,
        pred: impl FnOnce(&mut Self, &str) -> Result<Option<String>, ODataError>,
    ) -> Result<String, ODataError> {
        self.aliases += 1;
        let alias = format!("c{}", self.aliases);
        let inner = pred(self, &alias)?.map(|p| format!(" AND ({p})")).unwrap_or_default();
        let (t, id) = (self.schema.table, self.schema.id_column);
        Ok(format!("EXISTS (SELECT 1 FROM {table} {alias} WHERE {alias}.{owner} = {t}.{id}{inner})"))
    }

    pub(crate) fn finish(self, sql: String) -> Compiled {
        Compiled { sql, params: self.params, advanced: self.advanced }
    }
}

/// Escapes `\`, `%` and `_` for `LIKE ... ESCAPE '\'`.
pub(crate) fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The column(s) a comparison targets and how its literals are typed.
enum Col {
    Text { column: String, ci: String },
    Enum { column: String, values: &'static [&'static str] },
    Bool(String),
    Int(String),
    DateTime(String),
    Guid(String),
}

struct Target {
    /// Property name used in messages (the collection name inside a lambda).
    name: &'static str,
    col: Col,
    ops: Ops,
}

impl Target {
    /// Column used for value comparisons (lowercased copy for strings).
    fn cmp_column(&self) -> &str {
        match &self.col {
            Col::Text { ci, .. } => ci,
            Col::Enum { column, .. }
            | Col::Bool(column)
            | Col::Int(column)
            | Col::DateTime(column)
            | Col::Guid(column) => column,
        }
    }

    /// Column used for null checks (the original value for strings).
    fn null_column(&self) -> &str {
        match &self.col {
            Col::Text { column, .. } => column,
            _ => self.cmp_column(),
        }
    }

    fn type_name(&self) -> &'static str {
        match self.col {
            Col::Text { .. } | Col::Enum { .. } => "Edm.String",
            Col::Bool(_) => "Edm.Boolean",
            Col::Int(_) => "Edm.Int64",
            Col::DateTime(_) => "Edm.DateTimeOffset",
            Col::Guid(_) => "Edm.Guid",
        }
    }
}

/// The range variable of the enclosing `any()` lambda.
struct Scope<'a> {
    var: &'a str,
    field: &'static Field,
    alias: &'a str,
}

fn bad(message: String) -> ODataError {
    ODataError::bad_request(message)
}

impl Ctx<'_> {
    fn unsupported(&self, name: &str) -> ODataError {
        self.schema.unsupported_clause(name)
    }

    fn resolve(&self, path: &[String], scope: Option<&Scope>) -> Result<Target, ODataError> {
        let joined = path.join("/");
        if let Some(sc) = scope {
            if path.first().map(String::as_str) != Some(sc.var) {
                return Err(ODataError::unsupported(format!(
                    "Only the range variable '{}' can be used inside the lambda on '{}'; found '{joined}'.",
                    sc.var, sc.field.name
                )));
            }
            let column = match (sc.field.kind, &path[1..]) {
                (FieldKind::TextCollection { value_ci_column, .. }, []) => value_ci_column,
                (FieldKind::ComplexCollection { props, .. }, [sub]) => props
                    .iter()
                    .find(|(name, _)| name.eq_ignore_ascii_case(sub))
                    .map(|(_, column)| *column)
                    .ok_or_else(|| self.schema.unknown_property(&format!("{}/{sub}", sc.field.name)))?,
                _ => return Err(self.schema.unknown_property(&joined)),
            };
            let column = format!("{}.{column}", sc.alias);
            return Ok(Target {
                name: sc.field.name,
                col: Col::Text { column: column.clone(), ci: column },
                ops: sc.field.ops,
            });
        }
        let field = self.schema.field(&joined).ok_or_else(|| self.schema.unknown_property(&joined))?;
        let col = match field.kind {
            FieldKind::Text { column, ci_column } => Col::Text { column: column.into(), ci: ci_column.into() },
            FieldKind::Enum { column, values } => Col::Enum { column: column.into(), values },
            FieldKind::Bool { column } => Col::Bool(column.into()),
            FieldKind::Int { column } => Col::Int(column.into()),
            FieldKind::DateTime { column } => Col::DateTime(column.into()),
            FieldKind::Guid { column } => Col::Guid(column.into()),
            FieldKind::TextCollection { .. } | FieldKind::ComplexCollection { .. } => {
                return Err(self.unsupported(field.name));
            }
        };
        Ok(Target { name: field.name, col, ops: field.ops })
    }

    /// Converts a literal to the bind value for `target`, or a type error.
    fn value(&self, target: &Target, lit: &Literal) -> Result<Value, ODataError> {
        let name = target.name;
        Ok(match (&target.col, lit) {
            (Col::Text { .. }, Literal::Str(s)) => Value::Text(s.to_lowercase()),
            (Col::Enum { values, .. }, Literal::Str(s)) => Value::Text(
                values.iter().find(|v| v.eq_ignore_ascii_case(s)).map_or_else(|| s.clone(), |v| v.to_string()),
            ),
            (Col::Bool(_), Literal::Bool(b)) => Value::Bool(*b),
            (Col::Int(_), Literal::Int(i)) => Value::Int(*i),
            (Col::DateTime(_), Literal::DateTime(ms)) => Value::Int(*ms),
            (Col::DateTime(_), Literal::Str(s)) => {
                Value::Int(parse_datetime(s).ok_or_else(|| {
                    bad(format!("'{s}' is not a valid Edm.DateTimeOffset value for property '{name}'."))
                })?)
            }
            (Col::Guid(_), Literal::Guid(g)) => Value::Text(g.clone()),
            (Col::Guid(_), Literal::Str(s)) if is_guid(s) => Value::Text(s.to_ascii_lowercase()),
            (Col::Guid(_), Literal::Str(s)) => {
                return Err(bad(format!("'{s}' is not a valid Edm.Guid value for property '{name}'.")));
            }
            (_, Literal::Null) => {
                return Err(bad(format!("null is not allowed here for property '{name}'.")));
            }
            _ => {
                return Err(bad(format!(
                    "A value of type {} cannot be compared with property '{name}' of type {}.",
                    lit.type_name(),
                    target.type_name()
                )));
            }
        })
    }

    fn expr(&mut self, e: &Expr, scope: Option<&Scope>, depth: usize) -> Result<String, ODataError> {
        if depth > MAX_NODES {
            return Err(bad(format!("The query filter is too complex: it has more than {MAX_NODES} nodes.")));
        }
        match e {
            Expr::And(a, b) => {
                Ok(format!("({}) AND ({})", self.expr(a, scope, depth + 1)?, self.expr(b, scope, depth + 1)?))
            }
            Expr::Or(a, b) => {
                Ok(format!("({}) OR ({})", self.expr(a, scope, depth + 1)?, self.expr(b, scope, depth + 1)?))
            }
            Expr::Not(inner) => {
                if let Some(sc) = scope {
                    return Err(self.unsupported(sc.field.name));
                }
                self.advanced = true;
                Ok(format!("NOT (COALESCE(({}), FALSE))", self.expr(inner, scope, depth + 1)?))
            }
            Expr::Compare { left, op, right } => self.compare(left, *op, right, scope),
            Expr::In { operand, list } => self.in_list(operand, list, scope),
            Expr::Call { func, args } => self.call(*func, args, scope),
            Expr::Lambda { collection, all, predicate } => {
                self.lambda(collection, *all, predicate.as_ref(), scope, depth)
            }
        }
    }

    fn compare(
        &mut self,
        left: &Operand,
        op: CmpOp,
        right: &Operand,
        scope: Option<&Scope>,
    ) -> Result<String, ODataError> {
        let (path, op, lit) = match (left, right) {
            (Operand::Property(p), Operand::Literal(l)) => (p, op, l),
            (Operand::Literal(l), Operand::Property(p)) => (p, op.flip(), l),
            (Operand::Property(a), Operand::Property(b)) => {
                return Err(bad(format!(
                    "Comparing property '{}' with property '{}' is not supported; compare a property with a literal.",
                    a.join("/"),
                    b.join("/")
                )));
            }
            (Operand::Literal(_), Operand::Literal(_)) => {
                return Err(bad("A comparison must have a property on one side.".into()));
            }
        };
        let target = self.resolve(path, scope)?;
        if op == CmpOp::Ne {
            self.advanced = true;
        }
        if *lit == Literal::Null {
            let sql = match op {
                CmpOp::Eq => "IS NULL",
                CmpOp::Ne => "IS NOT NULL",
                _ => {
                    return Err(bad(format!("null can only be compared with eq or ne (property '{}').", target.name)));
                }
            };
            if !target.ops.null {
                return Err(self.unsupported(target.name));
            }
            return Ok(format!("{} {sql}", target.null_column()));
        }
        let allowed = match op {
            CmpOp::Eq => target.ops.eq,
            CmpOp::Ne => target.ops.ne,
            _ => target.ops.range && matches!(target.col, Col::Text { .. } | Col::Int(_) | Col::DateTime(_)),
        };
        if !allowed {
            return Err(self.unsupported(target.name));
        }
        let value = self.value(&target, lit)?;
        let p = self.bind(value);
        let col = target.cmp_column();
        Ok(match op {
            CmpOp::Ne => format!("({col} <> {p} OR {col} IS NULL)"),
            _ => format!("{col} {} {p}", op.sql()),
        })
    }

    fn in_list(&mut self, operand: &Operand, list: &[Literal], scope: Option<&Scope>) -> Result<String, ODataError> {
        let Operand::Property(path) = operand else {
            return Err(bad("The left side of 'in' must be a property.".into()));
        };
        let target = self.resolve(path, scope)?;
        if !target.ops.in_ {
            return Err(self.unsupported(target.name));
        }
        let values = list.iter().map(|lit| self.value(&target, lit)).collect::<Result<Vec<_>, _>>()?;
        let placeholders: Vec<String> = values.into_iter().map(|v| self.bind(v)).collect();
        Ok(format!("{} IN ({})", target.cmp_column(), placeholders.join(", ")))
    }

    fn call(&mut self, func: Func, args: &[Operand], scope: Option<&Scope>) -> Result<String, ODataError> {
        if func == Func::Contains {
            return Err(ODataError::unsupported("The function 'contains' is not supported."));
        }
        let fname = if func == Func::StartsWith { "startsWith" } else { "endsWith" };
        let (Some(Operand::Property(path)), Some(Operand::Literal(lit))) = (args.first(), args.get(1)) else {
            return Err(bad(format!("{fname} requires a property and a string literal: {fname}(property,'value').")));
        };
        let target = self.resolve(path, scope)?;
        let allowed = if func == Func::StartsWith { target.ops.starts_with } else { target.ops.ends_with };
        if !allowed || !matches!(target.col, Col::Text { .. }) {
            return Err(self.unsupported(target.name));
        }
        let Literal::Str(s) = lit else {
            return Err(bad(format!(
                "The second argument of {fname} must be a string literal, found {}.",
                lit.type_name()
            )));
        };
        let s = s.to_lowercase();
        let col = target.cmp_column().to_string();
        if func == Func::EndsWith {
            self.advanced = true;
            let p = self.bind(Value::Text(format!("%{}", like_escape(&s))));
            return Ok(format!("{col} LIKE {p} ESCAPE '\\'"));
        }
        if s.is_empty() {
            return Ok(format!("{col} IS NOT NULL"));
        }
        let lo = self.bind(Value::Text(s.clone()));
        let hi = self.bind(Value::Text(format!("{s}\u{10FFFF}")));
        Ok(format!("({col} >= {lo} AND {col} < {hi})"))
    }

    fn lambda(
        &mut self,
        collection: &[String],
        all: bool,
        predicate: Option<&(String, Box<Expr>)>,
        scope: Option<&Scope>,
        depth: usize,
    ) -> Result<String, ODataError> {
        let joined = collection.join("/");
        if let Some(sc) = scope {
            return Err(ODataError::unsupported(format!(
                "Nested lambda '{joined}' inside the lambda on '{}' is not supported.",
                sc.field.name
            )));
        }
        let field = self.schema.field(&joined).ok_or_else(|| self.schema.unknown_property(&joined))?;
        let (table, owner) = match field.kind {
            FieldKind::TextCollection { table, owner_column, .. }
            | FieldKind::ComplexCollection { table, owner_column, .. } => (table, owner_column),
            _ => {
                return Err(bad(format!(
                    "Property '{}' is not a collection; any() requires a collection.",
                    field.name
                )));
            }
        };
        if all {
            return Err(ODataError::unsupported(format!(
                "The lambda operator 'all' is not supported on property '{}'.",
                field.name
            )));
        }
        if !field.ops.any {
            return Err(self.unsupported(field.name));
        }
        self.exists(table, owner, |ctx, alias| {
            predicate
                .map(|(var, body)| ctx.expr(body, Some(&Scope { var: var.as_str(), field, alias }), depth + 1))
                .transpose()
        })
    }
}

/// Compiles a parsed `$filter` against `schema`. Placeholders are numbered from `first_param`
/// (values below 1 are treated as 1). `dialect` does not change the output yet; the SQL is
/// valid for both SQLite and PostgreSQL.
pub fn compile_filter(
    expr: &Expr,
    schema: &EntitySchema,
    _dialect: Dialect,
    first_param: usize,
) -> Result<Compiled, ODataError> {
    let mut ctx = Ctx::new(schema, first_param);
    let sql = ctx.expr(expr, None, 0)?;
    Ok(ctx.finish(sql))
}
