//! `$filter` lexer and recursive-descent parser producing the [`Expr`] AST, plus the literal
//! grammar shared with the compiler (quoted strings, integers, GUIDs, DateTimeOffsets).
//!
//! Precedence, tightest first: `not`, comparison / `in`, `and`, `or`. `not` applies to the
//! following comparison, so `not displayName eq 'a'` means `not (displayName eq 'a')`.
//! Size limits ([`crate::MAX_INPUT_LEN`], [`MAX_NODES`], [`MAX_DEPTH`]) are enforced while parsing,
//! so no input can cause unbounded recursion.

use crate::{MAX_DEPTH, MAX_NODES, ODataError, check_len};

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CmpOp {
    fn from_keyword(word: &str) -> Option<CmpOp> {
        let ops = [
            ("eq", CmpOp::Eq),
            ("ne", CmpOp::Ne),
            ("gt", CmpOp::Gt),
            ("ge", CmpOp::Ge),
            ("lt", CmpOp::Lt),
            ("le", CmpOp::Le),
        ];
        ops.iter().find(|(k, _)| k.eq_ignore_ascii_case(word)).map(|(_, op)| *op)
    }

    /// The operator with its operands swapped (`5 lt x` is `x gt 5`).
    pub fn flip(self) -> CmpOp {
        match self {
            CmpOp::Gt => CmpOp::Lt,
            CmpOp::Ge => CmpOp::Le,
            CmpOp::Lt => CmpOp::Gt,
            CmpOp::Le => CmpOp::Ge,
            other => other,
        }
    }

    /// The SQL operator.
    pub fn sql(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "<>",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
        }
    }
}

/// Boolean functions recognised in `$filter` (`contains` is parsed but never compiled).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Func {
    StartsWith,
    EndsWith,
    Contains,
}

/// A literal value as written in the filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Null,
    Bool(bool),
    Int(i64),
    /// A quoted string with `''` escapes resolved.
    Str(String),
    /// A bare GUID, lowercased.
    Guid(String),
    /// A bare DateTimeOffset or date, as Unix epoch milliseconds.
    DateTime(i64),
}

impl Literal {
    /// The EDM type name used in messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Literal::Null => "null",
            Literal::Bool(_) => "Edm.Boolean",
            Literal::Int(_) => "Edm.Int64",
            Literal::Str(_) => "Edm.String",
            Literal::Guid(_) => "Edm.Guid",
            Literal::DateTime(_) => "Edm.DateTimeOffset",
        }
    }
}

/// A comparison operand.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// A property path, segments split on `/` (e.g. `c/issuer`), as written.
    Property(Vec<String>),
    Literal(Literal),
}

/// The `$filter` AST.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Compare {
        left: Operand,
        op: CmpOp,
        right: Operand,
    },
    In {
        operand: Operand,
        list: Vec<Literal>,
    },
    Call {
        func: Func,
        args: Vec<Operand>,
    },
    /// `collection/any(var: body)` or `collection/all(...)`; `predicate` is `None` for `any()`.
    Lambda {
        collection: Vec<String>,
        all: bool,
        predicate: Option<(String, Box<Expr>)>,
    },
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LParen,
    RParen,
    Comma,
    Slash,
    Colon,
    Ident(String),
    Lit(Literal),
    Eof,
}

struct Token {
    tok: Tok,
    /// Character (not byte) offset in the input.
    pos: usize,
}

fn syntax_error(input: &str, pos: usize) -> ODataError {
    match input.chars().nth(pos) {
        Some(c) => ODataError::bad_request(format!(
            "Syntax error: character '{c}' is not valid at position {pos} in '{input}'."
        )),
        None => {
            ODataError::bad_request(format!("Syntax error: unexpected end of input at position {pos} in '{input}'."))
        }
    }
}

/// True when `s` is a hyphenated 8-4-4-4-12 hex GUID.
pub(crate) fn is_guid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Parses `YYYY-MM-DD` (midnight UTC) or `YYYY-MM-DDThh:mm[:ss[.fff…]](Z|±hh:mm)` to Unix epoch
/// milliseconds (fractions beyond milliseconds are truncated).
pub(crate) fn parse_datetime(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        b.get(from..from + len)?
            .iter()
            .try_fold(0i64, |acc, &c| c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0')))
    };
    let sep = |at: usize, c: u8| b.get(at) == Some(&c);
    let (y, mo, d) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    if !sep(4, b'-') || !sep(7, b'-') || !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) {
        return None;
    }
    let day_ms = days_from_civil(y, mo, d) * 86_400_000;
    if b.len() == 10 {
        return Some(day_ms);
    }
    if !(sep(10, b'T') || sep(10, b't')) || !sep(13, b':') {
        return None;
    }
    let (h, mi) = (num(11, 2)?, num(14, 2)?);
    let (mut sec, mut frac, mut i) = (0, 0, 16);
    if sep(16, b':') {
        sec = num(17, 2)?;
        i = 19;
        if sep(19, b'.') {
            i = 20;
            let mut scale = 100;
            while let Some(c) = b.get(i).filter(|c| c.is_ascii_digit()) {
                frac += i64::from(c - b'0') * scale;
                scale /= 10;
                i += 1;
            }
            if i == 20 {
                return None;
            }
        }
    }
    if h > 23 || mi > 59 || sec > 59 {
        return None;
    }
    let offset_min = match b.get(i) {
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        Some(&sign @ (b'+' | b'-')) if i + 6 == b.len() && sep(i + 3, b':') => {
            let (oh, om) = (num(i + 1, 2)?, num(i + 4, 2)?);
            if oh > 23 || om > 59 {
                return None;
            }
            if sign == b'-' { -(oh * 60 + om) } else { oh * 60 + om }
        }
        _ => return None,
    };
    Some(day_ms + ((h * 60 + mi) * 60 + sec) * 1000 + frac - offset_min * 60_000)
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn lex(input: &str) -> Result<Vec<Token>, ODataError> {
    let chars: Vec<char> = input.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        let start = i;
        let take_while = |from: usize, pred: &dyn Fn(char) -> bool| {
            let len = chars[from..].iter().take_while(|c| pred(**c)).count();
            (chars[from..from + len].iter().collect::<String>(), from + len)
        };
        let tok = match c {
            c if c.is_whitespace() => {
                i += 1;
                continue;
            }
            '(' | ')' | ',' | '/' | ':' => {
                i += 1;
                match c {
                    '(' => Tok::LParen,
                    ')' => Tok::RParen,
                    ',' => Tok::Comma,
                    '/' => Tok::Slash,
                    _ => Tok::Colon,
                }
            }
            '\'' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => {
                            return Err(ODataError::bad_request(format!(
                                "Syntax error: unterminated string literal at position {start} in '{input}'."
                            )));
                        }
                        Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                            s.push('\'');
                            i += 2;
                        }
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some(&ch) => {
                            s.push(ch);
                            i += 1;
                        }
                    }
                }
                Tok::Lit(Literal::Str(s))
            }
            _ if chars.get(i..i + 36).is_some_and(|g| is_guid(&g.iter().collect::<String>()))
                && !chars.get(i + 36).is_some_and(|c| is_ident_char(*c)) =>
            {
                i += 36;
                Tok::Lit(Literal::Guid(chars[start..i].iter().collect::<String>().to_ascii_lowercase()))
            }
            _ if chars.get(i..i + 5).is_some_and(|p| p[..4].iter().all(char::is_ascii_digit) && p[4] == '-') => {
                let (text, end) = take_while(i, &|c| c.is_ascii_digit() || "-:.TtZz+".contains(c));
                i = end;
                let ms = parse_datetime(&text).ok_or_else(|| {
                    ODataError::bad_request(format!(
                        "'{text}' at position {start} is not a valid Edm.DateTimeOffset literal."
                    ))
                })?;
                Tok::Lit(Literal::DateTime(ms))
            }
            _ if c.is_ascii_digit() || (c == '-' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) => {
                let (digits, end) = take_while(i + 1, &|c| c.is_ascii_digit());
                i = end;
                let text = format!("{c}{digits}");
                let n = text.parse::<i64>().map_err(|_| {
                    ODataError::bad_request(format!("Integer literal '{text}' at position {start} is out of range."))
                })?;
                Tok::Lit(Literal::Int(n))
            }
            _ if c.is_ascii_alphabetic() || c == '_' => {
                let (word, end) = take_while(i, &is_ident_char);
                i = end;
                match word.to_ascii_lowercase().as_str() {
                    "true" => Tok::Lit(Literal::Bool(true)),
                    "false" => Tok::Lit(Literal::Bool(false)),
                    "null" => Tok::Lit(Literal::Null),
                    _ => Tok::Ident(word),
                }
            }
            _ => return Err(syntax_error(input, i)),
        };
        out.push(Token { tok, pos: start });
    }
    out.push(Token { tok: Tok::Eof, pos: chars.len() });
    Ok(out)
}

/// Functions from the OData spec that Graph directory queries do not support.
const UNSUPPORTED_FUNCTIONS: &str = "substringof tolower toupper length indexof substring trim \
    concat year month day hour minute second round floor ceiling matchespattern";

struct Parser<'a> {
    input: &'a str,
    toks: Vec<Token>,
    pos: usize,
    depth: usize,
    nodes: usize,
}

/// A primary that is either an operand awaiting an operator or a complete boolean expression.
enum Primary {
    Operand(Operand),
    Bool(Expr),
}

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        self.toks.get(self.pos).map_or(&Tok::Eof, |t| &t.tok)
    }

    fn bump(&mut self) -> Tok {
        let tok = self.peek().clone();
        self.pos = (self.pos + 1).min(self.toks.len().saturating_sub(1));
        tok
    }

    fn keyword(&self) -> Option<String> {
        match self.peek() {
            Tok::Ident(w) => Some(w.to_ascii_lowercase()),
            _ => None,
        }
    }

    fn unexpected(&self) -> ODataError {
        let pos = self.toks.get(self.pos).map_or(0, |t| t.pos);
        syntax_error(self.input, pos)
    }

    fn expect(&mut self, tok: Tok) -> Result<(), ODataError> {
        if *self.peek() == tok {
            self.bump();
            Ok(())
        } else {
            Err(self.unexpected())
        }
    }

    fn node(&mut self) -> Result<(), ODataError> {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(ODataError::bad_request(format!(
                "The query filter is too complex: it has more than {MAX_NODES} nodes."
            )));
        }
        Ok(())
    }

    fn enter(&mut self) -> Result<(), ODataError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(ODataError::bad_request(format!(
                "The query filter is nested more than {MAX_DEPTH} levels deep."
            )));
        }
        Ok(())
    }

    fn or_expr(&mut self) -> Result<Expr, ODataError> {
        let mut left = self.and_expr()?;
        while self.keyword().as_deref() == Some("or") {
            self.bump();
            let right = self.and_expr()?;
            self.node()?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and_expr(&mut self) -> Result<Expr, ODataError> {
        let mut left = self.unary()?;
        while self.keyword().as_deref() == Some("and") {
            self.bump();
            let right = self.unary()?;
            self.node()?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, ODataError> {
        if self.keyword().as_deref() != Some("not") {
            return self.primary();
        }
        self.bump();
        self.enter()?;
        let inner = self.unary()?;
        self.depth -= 1;
        self.node()?;
        Ok(Expr::Not(Box::new(inner)))
    }

    fn primary(&mut self) -> Result<Expr, ODataError> {
        if *self.peek() == Tok::LParen {
            self.bump();
            self.enter()?;
            let inner = self.or_expr()?;
            self.expect(Tok::RParen)?;
            self.depth -= 1;
            return Ok(inner);
        }
        let operand = match self.operand_or_call()? {
            Primary::Bool(expr) => return Ok(expr),
            Primary::Operand(operand) => operand,
        };
        let word = self.keyword();
        if word.as_deref() == Some("in") {
            self.bump();
            self.expect(Tok::LParen)?;
            let mut list = vec![self.literal()?];
            while *self.peek() == Tok::Comma {
                self.bump();
                list.push(self.literal()?);
            }
            self.expect(Tok::RParen)?;
            self.node()?;
            return Ok(Expr::In { operand, list });
        }
        let Some(op) = word.as_deref().and_then(CmpOp::from_keyword) else {
            return Err(self.unexpected());
        };
        self.bump();
        let right = self.operand()?;
        self.node()?;
        Ok(Expr::Compare { left: operand, op, right })
    }

    fn literal(&mut self) -> Result<Literal, ODataError> {
        match self.peek().clone() {
            Tok::Lit(lit) => {
                self.bump();
                self.node()?;
                Ok(lit)
            }
            _ => Err(self.unexpected()),
        }
    }

    fn operand(&mut self) -> Result<Operand, ODataError> {
        match self.operand_or_call()? {
            Primary::Operand(operand) => Ok(operand),
            Primary::Bool(_) => {
                Err(ODataError::bad_request("A function call or lambda cannot be used as a comparison operand."))
            }
        }
    }

    fn operand_or_call(&mut self) -> Result<Primary, ODataError> {
        let first = match self.peek().clone() {
            Tok::Lit(lit) => {
                self.bump();
                self.node()?;
                return Ok(Primary::Operand(Operand::Literal(lit)));
            }
            Tok::Ident(name) => name,
            _ => return Err(self.unexpected()),
        };
        self.bump();
        let mut path = vec![first];
        while *self.peek() == Tok::Slash {
            self.bump();
            let Tok::Ident(seg) = self.peek().clone() else {
                return Err(self.unexpected());
            };
            self.bump();
            path.push(seg);
        }
        if *self.peek() != Tok::LParen {
            self.node()?;
            return Ok(Primary::Operand(Operand::Property(path)));
        }
        let last = path.last().map(|s| s.to_ascii_lowercase()).unwrap_or_default();
        if path.len() >= 2 && (last == "any" || last == "all") {
            path.pop();
            return self.lambda(path, last == "all").map(Primary::Bool);
        }
        if path.len() > 1 {
            return Err(self.unexpected());
        }
        let func = match last.as_str() {
            "startswith" => Func::StartsWith,
            "endswith" => Func::EndsWith,
            "contains" => Func::Contains,
            name if UNSUPPORTED_FUNCTIONS.split_whitespace().any(|f| f == name) => {
                return Err(ODataError::unsupported(format!("The function '{}' is not supported.", path[0])));
            }
            _ => {
                return Err(ODataError::bad_request(format!("Unknown function '{}'.", path[0])));
            }
        };
        self.bump();
        let mut args = vec![self.operand()?];
        while *self.peek() == Tok::Comma {
            self.bump();
            args.push(self.operand()?);
        }
        self.expect(Tok::RParen)?;
        if args.len() != 2 {
            return Err(ODataError::bad_request(format!("The function '{}' requires exactly 2 arguments.", path[0])));
        }
        self.node()?;
        Ok(Primary::Bool(Expr::Call { func, args }))
    }

    fn lambda(&mut self, collection: Vec<String>, all: bool) -> Result<Expr, ODataError> {
        self.expect(Tok::LParen)?;
        self.enter()?;
        let mut predicate = None;
        if *self.peek() != Tok::RParen {
            let Tok::Ident(var) = self.peek().clone() else {
                return Err(self.unexpected());
            };
            self.bump();
            self.expect(Tok::Colon)?;
            predicate = Some((var, Box::new(self.or_expr()?)));
        }
        self.expect(Tok::RParen)?;
        self.depth -= 1;
        self.node()?;
        Ok(Expr::Lambda { collection, all, predicate })
    }
}

/// Parses a `$filter` value into an [`Expr`].
pub fn parse_filter(input: &str) -> Result<Expr, ODataError> {
    check_len(input, "$filter")?;
    let toks = lex(input)?;
    let mut parser = Parser { input, toks, pos: 0, depth: 0, nodes: 0 };
    if *parser.peek() == Tok::Eof {
        return Err(ODataError::bad_request("The $filter query option is empty."));
    }
    let expr = parser.or_expr()?;
    if *parser.peek() != Tok::Eof {
        return Err(parser.unexpected());
    }
    Ok(expr)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prop(name: &str) -> Operand {
        Operand::Property(name.split('/').map(str::to_string).collect())
    }

    fn str_lit(s: &str) -> Operand {
        Operand::Literal(Literal::Str(s.to_string()))
    }

    fn cmp(name: &str, op: CmpOp, s: &str) -> Expr {
        Expr::Compare { left: prop(name), op, right: str_lit(s) }
    }

    #[test]
    fn datetimes_parse_to_exact_millis() {
        assert_eq!(parse_datetime("2024-01-02T03:04:05Z"), Some(1_704_164_645_000));
        assert_eq!(parse_datetime("2024-01-02T03:04:05.123+02:00"), Some(1_704_157_445_123));
        assert_eq!(parse_datetime("2024-01-02T03:04:05.5-01:30"), Some(1_704_164_645_500 + 5_400_000));
        assert_eq!(parse_datetime("2024-01-02T03:04:05.1239999Z"), Some(1_704_164_645_123));
        assert_eq!(parse_datetime("2024-01-02"), Some(1_704_153_600_000));
        assert_eq!(parse_datetime("2024-01-02T03:04Z"), Some(1_704_164_640_000));
        assert_eq!(parse_datetime("2024-02-29T12:00:00Z"), Some(1_709_208_000_000));
        assert_eq!(parse_datetime("1969-12-31T23:59:59Z"), Some(-1000));
        assert_eq!(parse_datetime("1970-01-01T00:00:00Z"), Some(0));
        for bad in [
            "2023-02-29",
            "2024-13-01",
            "2024-01-32",
            "2024-01-02T24:00:00Z",
            "2024-01-02T03:04:05",
            "2024-01-02T03:04:05.Z",
            "2024-01-02T03:04:05+2:00",
            "2024-1-02",
            "2024-01-02Z",
            "",
            "2024-01-02T03:04:05Zjunk",
            "2024-01-02T03:04:60Z",
            "2024-01-02T03:04:05+24:00",
        ] {
            assert_eq!(parse_datetime(bad), None, "{bad}");
        }
    }

    #[test]
    fn guid_shape() {
        assert!(is_guid("0f8fad5b-d9cb-469f-a165-70867728950e"));
        assert!(is_guid("0F8FAD5B-D9CB-469F-A165-70867728950E"));
        assert!(!is_guid("0f8fad5b-d9cb-469f-a165-70867728950"));
        assert!(!is_guid("0f8fad5bxd9cb-469f-a165-70867728950e"));
        assert!(!is_guid("0f8fad5b-d9cb-469f-a165-70867728950g"));
    }

    #[test]
    fn literals_lex() {
        let e = parse_filter("x eq 'O''Brien' or x eq -42 or x eq TRUE or x eq null").unwrap();
        let Expr::Or(l, r) = e else { panic!("{e:?}") };
        assert_eq!(*r, Expr::Compare { left: prop("x"), op: CmpOp::Eq, right: Operand::Literal(Literal::Null) });
        let Expr::Or(l, r) = *l else { panic!() };
        assert_eq!(*r, Expr::Compare { left: prop("x"), op: CmpOp::Eq, right: Operand::Literal(Literal::Bool(true)) });
        let Expr::Or(l, r) = *l else { panic!() };
        assert_eq!(*r, Expr::Compare { left: prop("x"), op: CmpOp::Eq, right: Operand::Literal(Literal::Int(-42)) });
        assert_eq!(*l, cmp("x", CmpOp::Eq, "O'Brien"));
        let e = parse_filter("id eq 0F8FAD5B-D9CB-469F-A165-70867728950E").unwrap();
        let guid = Literal::Guid("0f8fad5b-d9cb-469f-a165-70867728950e".into());
        assert_eq!(e, Expr::Compare { left: prop("id"), op: CmpOp::Eq, right: Operand::Literal(guid) });
        let e = parse_filter("d ge 2024-01-02T03:04:05Z").unwrap();
        let dt = Literal::DateTime(1_704_164_645_000);
        assert_eq!(e, Expr::Compare { left: prop("d"), op: CmpOp::Ge, right: Operand::Literal(dt) });
    }

    #[test]
    fn precedence_not_over_and_over_or() {
        let a = || cmp("a", CmpOp::Eq, "1");
        let b = || cmp("b", CmpOp::Eq, "2");
        let c = || cmp("c", CmpOp::Eq, "3");
        let e = parse_filter("not a eq '1' and b eq '2' or c eq '3'").unwrap();
        let expected = Expr::Or(Box::new(Expr::And(Box::new(Expr::Not(Box::new(a()))), Box::new(b()))), Box::new(c()));
        assert_eq!(e, expected);
        let e = parse_filter("a eq '1' AND (b eq '2' Or c eq '3')").unwrap();
        let expected = Expr::And(Box::new(a()), Box::new(Expr::Or(Box::new(b()), Box::new(c()))));
        assert_eq!(e, expected);
    }

    #[test]
    fn functions_and_lambdas() {
        let e = parse_filter("STARTSWITH(displayName,'a')").unwrap();
        assert_eq!(e, Expr::Call { func: Func::StartsWith, args: vec![prop("displayName"), str_lit("a")] });
        let e = parse_filter("identities/any(c:c/issuer eq 'x')").unwrap();
        let body = cmp("c/issuer", CmpOp::Eq, "x");
        let expected = Expr::Lambda {
            collection: vec!["identities".into()],
            all: false,
            predicate: Some(("c".into(), Box::new(body))),
        };
        assert_eq!(e, expected);
        let e = parse_filter("otherMails/ALL()").unwrap();
        assert_eq!(e, Expr::Lambda { collection: vec!["otherMails".into()], all: true, predicate: None });
        assert!(matches!(parse_filter("contains(a,'b')"), Ok(Expr::Call { func: Func::Contains, .. })));
    }

    #[test]
    fn lex_errors() {
        let err = parse_filter("a eq 'abc").unwrap_err();
        assert_eq!(err.message, "Syntax error: unterminated string literal at position 5 in 'a eq 'abc'.");
        let err = parse_filter("a eq 99999999999999999999").unwrap_err();
        assert!(err.message.contains("out of range"), "{}", err.message);
        let err = parse_filter("a eq 2024-99-01").unwrap_err();
        assert!(err.message.contains("'2024-99-01' at position 5"), "{}", err.message);
        let err = parse_filter("naïve eq 'x'").unwrap_err();
        assert_eq!(err.message, "Syntax error: character 'ï' is not valid at position 2 in 'naïve eq 'x''.");
    }
}
