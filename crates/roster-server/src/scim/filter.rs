//! The SCIM filter grammar (RFC 7644 §3.4.2.2) and PATCH paths (§3.5.2):
//! a recursive-descent parser into [`Filter`] and [`PatchPath`], and the
//! evaluation of a filter over a resource's JSON. Attribute names compare
//! ignoring case; string values ignoring case unless the attribute is
//! case-exact (`id`, `externalId`, references).
//!
//! Precedence, loosest first: `or`, `and`, `not`, then an attribute
//! expression, a value path (`emails[type eq "work"]`) or a parenthesised
//! filter. Entra's `emails[type eq "work"].value eq "x"` is read as
//! `emails[type eq "work" and value eq "x"]`.

use std::cmp::Ordering;

use serde_json::Value;

/// An attribute named in a filter or path: an optional schema URN, the
/// attribute, and an optional sub-attribute.
#[derive(Clone, Debug, PartialEq)]
pub struct AttrPath {
    pub urn: Option<String>,
    pub attr: String,
    pub sub: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Filter {
    Present(AttrPath),
    Compare(AttrPath, Op, Value),
    /// `attr[filter]`: some value of the multi-valued `attr` matches `filter`.
    ValuePath(AttrPath, Box<Filter>),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
}

/// A PATCH `path`: an attribute, optionally narrowed by a value filter and
/// then to a sub-attribute of the matching values (`members[value eq "x"]`,
/// `emails[type eq "work"].value`).
#[derive(Clone, Debug, PartialEq)]
pub struct PatchPath {
    pub attr: AttrPath,
    pub filter: Option<Filter>,
    pub sub: Option<String>,
}

/// Why a filter or path could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError(pub String);

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Open,
    Close,
    OpenBracket,
    CloseBracket,
    Str(String),
    Word(String),
}

const MAX_LEN: usize = 4096;
const MAX_DEPTH: usize = 32;

fn lex(input: &str) -> Result<Vec<Token>, ParseError> {
    if input.len() > MAX_LEN {
        return Err(ParseError(format!("longer than {MAX_LEN} bytes")));
    }
    let mut out = Vec::new();
    let mut chars = input.char_indices().peekable();
    while let Some(&(i, c)) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' | ')' | '[' | ']' => {
                chars.next();
                out.push(match c {
                    '(' => Token::Open,
                    ')' => Token::Close,
                    '[' => Token::OpenBracket,
                    _ => Token::CloseBracket,
                });
            }
            '"' => {
                // A JSON string: find its end, honouring escapes, and let serde decode it.
                chars.next();
                let mut end = None;
                let mut escaped = false;
                for (j, c) in chars.by_ref() {
                    if escaped {
                        escaped = false;
                    } else if c == '\\' {
                        escaped = true;
                    } else if c == '"' {
                        end = Some(j);
                        break;
                    }
                }
                let end = end.ok_or_else(|| ParseError("unterminated string".into()))?;
                let s: String = serde_json::from_str(&input[i..=end])
                    .map_err(|_| ParseError(format!("bad string literal {}", &input[i..=end])))?;
                out.push(Token::Str(s));
            }
            _ => {
                let start = i;
                let mut end = input.len();
                while let Some(&(j, c)) = chars.peek() {
                    if c.is_whitespace() || matches!(c, '(' | ')' | '[' | ']' | '"') {
                        end = j;
                        break;
                    }
                    chars.next();
                }
                out.push(Token::Word(input[start..end].to_owned()));
            }
        }
    }
    Ok(out)
}

/// Reads `urn:...:attr.sub`, `attr.sub` or `attr`.
pub fn attr_path(word: &str) -> Result<AttrPath, ParseError> {
    let bad = || ParseError(format!("not an attribute path: {word}"));
    let (urn, rest) = match word.rfind(':') {
        Some(i) if word.to_ascii_lowercase().starts_with("urn:") => (Some(word[..i].to_owned()), &word[i + 1..]),
        Some(_) => return Err(bad()),
        None => (None, word),
    };
    let (attr, sub) = match rest.split_once('.') {
        Some((a, s)) => (a, Some(s)),
        None => (rest, None),
    };
    let name_ok = |n: &str| {
        let mut cs = n.chars();
        cs.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '$')
            && cs.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    };
    if !name_ok(attr) || sub.is_some_and(|s| !name_ok(s)) {
        return Err(bad());
    }
    Ok(AttrPath { urn, attr: attr.to_owned(), sub: sub.map(str::to_owned) })
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn keyword(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(kw))
    }

    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH { Err(ParseError("nested too deeply".into())) } else { Ok(()) }
    }

    fn or(&mut self) -> Result<Filter, ParseError> {
        self.enter()?;
        let mut left = self.and()?;
        while self.keyword("or") {
            self.pos += 1;
            left = Filter::Or(Box::new(left), Box::new(self.and()?));
        }
        self.depth -= 1;
        Ok(left)
    }

    fn and(&mut self) -> Result<Filter, ParseError> {
        let mut left = self.unary()?;
        while self.keyword("and") {
            self.pos += 1;
            left = Filter::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Filter, ParseError> {
        if self.keyword("not") && matches!(self.tokens.get(self.pos + 1), Some(Token::Open)) {
            self.pos += 1;
            return Ok(Filter::Not(Box::new(self.group()?)));
        }
        if matches!(self.peek(), Some(Token::Open)) {
            return self.group();
        }
        self.attr_expr()
    }

    fn group(&mut self) -> Result<Filter, ParseError> {
        self.next(); // '('
        let f = self.or()?;
        match self.next() {
            Some(Token::Close) => Ok(f),
            _ => Err(ParseError("expected ')'".into())),
        }
    }

    fn attr_expr(&mut self) -> Result<Filter, ParseError> {
        let word = match self.next() {
            Some(Token::Word(w)) => w,
            other => return Err(ParseError(format!("expected an attribute, found {}", describe(other.as_ref())))),
        };
        let path = attr_path(&word)?;
        if matches!(self.peek(), Some(Token::OpenBracket)) {
            if path.sub.is_some() {
                return Err(ParseError(format!("a value filter must follow an attribute, not {word}")));
            }
            self.next();
            self.enter()?;
            let inner = self.or()?;
            self.depth -= 1;
            if self.next() != Some(Token::CloseBracket) {
                return Err(ParseError("expected ']'".into()));
            }
            // `emails[type eq "work"].value eq "x"` (Entra).
            if let Some(Token::Word(w)) = self.peek()
                && let Some(sub) = w.strip_prefix('.')
            {
                let sub = attr_path(sub)?;
                self.next();
                let tail = self.comparison(AttrPath { urn: None, attr: sub.attr, sub: None })?;
                return Ok(Filter::ValuePath(path, Box::new(Filter::And(Box::new(inner), Box::new(tail)))));
            }
            return Ok(Filter::ValuePath(path, Box::new(inner)));
        }
        self.comparison(path)
    }

    fn comparison(&mut self, path: AttrPath) -> Result<Filter, ParseError> {
        let op = match self.next() {
            Some(Token::Word(w)) => w.to_ascii_lowercase(),
            other => return Err(ParseError(format!("expected an operator, found {}", describe(other.as_ref())))),
        };
        let op = match op.as_str() {
            "pr" => return Ok(Filter::Present(path)),
            "eq" => Op::Eq,
            "ne" => Op::Ne,
            "co" => Op::Co,
            "sw" => Op::Sw,
            "ew" => Op::Ew,
            "gt" => Op::Gt,
            "ge" => Op::Ge,
            "lt" => Op::Lt,
            "le" => Op::Le,
            _ => return Err(ParseError(format!("unknown operator {op}"))),
        };
        let value = match self.next() {
            Some(Token::Str(s)) => Value::String(s),
            Some(Token::Word(w)) => match w.as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                "null" => Value::Null,
                n => serde_json::from_str::<serde_json::Number>(n)
                    .map(Value::Number)
                    .map_err(|_| ParseError(format!("not a value: {n} (strings need double quotes)")))?,
            },
            other => return Err(ParseError(format!("expected a value, found {}", describe(other.as_ref())))),
        };
        if matches!(op, Op::Co | Op::Sw | Op::Ew) && !value.is_string() {
            return Err(ParseError("co, sw and ew compare strings".into()));
        }
        if matches!(op, Op::Gt | Op::Ge | Op::Lt | Op::Le) && (value.is_boolean() || value.is_null()) {
            return Err(ParseError("gt, ge, lt and le do not compare booleans or null".into()));
        }
        Ok(Filter::Compare(path, op, value))
    }
}

fn describe(t: Option<&Token>) -> String {
    match t {
        None => "the end".into(),
        Some(Token::Open) => "'('".into(),
        Some(Token::Close) => "')'".into(),
        Some(Token::OpenBracket) => "'['".into(),
        Some(Token::CloseBracket) => "']'".into(),
        Some(Token::Str(s)) => format!("\"{s}\""),
        Some(Token::Word(w)) => w.clone(),
    }
}

/// Parses a whole filter expression.
pub fn parse(input: &str) -> Result<Filter, ParseError> {
    let mut p = Parser { tokens: lex(input)?, pos: 0, depth: 0 };
    if p.tokens.is_empty() {
        return Err(ParseError("empty filter".into()));
    }
    let f = p.or()?;
    match p.peek() {
        None => Ok(f),
        Some(t) => Err(ParseError(format!("unexpected {}", describe(Some(t))))),
    }
}

/// Parses a PATCH path: `attr`, `attr.sub`, `urn:...:attr`, a bare schema
/// URN, `attr[filter]` or `attr[filter].sub`.
pub fn parse_path(input: &str) -> Result<PatchPath, ParseError> {
    let input = input.trim();
    let Some(open) = input.find('[') else {
        return Ok(PatchPath { attr: attr_path(input)?, filter: None, sub: None });
    };
    let close = input.rfind(']').ok_or_else(|| ParseError("expected ']'".into()))?;
    if close < open {
        return Err(ParseError("expected ']'".into()));
    }
    let attr = attr_path(&input[..open])?;
    if attr.sub.is_some() {
        return Err(ParseError("a value filter must follow an attribute".into()));
    }
    let filter = parse(&input[open + 1..close])?;
    let rest = &input[close + 1..];
    let sub = match rest {
        "" => None,
        r => {
            let s = r.strip_prefix('.').ok_or_else(|| ParseError(format!("unexpected {r}")))?;
            let p = attr_path(s)?;
            if p.sub.is_some() {
                return Err(ParseError(format!("unexpected {r}")));
            }
            Some(p.attr)
        }
    };
    Ok(PatchPath { attr, filter: Some(filter), sub })
}

impl Filter {
    /// Every attribute path the filter names, value filters resolved against
    /// their attribute (`emails[type eq "x"]` names `emails.type`).
    pub fn paths(&self) -> Vec<AttrPath> {
        let mut out = Vec::new();
        self.collect(None, &mut out);
        out
    }

    fn collect(&self, parent: Option<&AttrPath>, out: &mut Vec<AttrPath>) {
        let resolve = |p: &AttrPath| match parent {
            Some(parent) => AttrPath { urn: parent.urn.clone(), attr: parent.attr.clone(), sub: Some(p.attr.clone()) },
            None => p.clone(),
        };
        match self {
            Filter::Present(p) | Filter::Compare(p, _, _) => out.push(resolve(p)),
            Filter::ValuePath(p, inner) => {
                let p = resolve(p);
                out.push(p.clone());
                inner.collect(Some(&p), out);
            }
            Filter::And(a, b) | Filter::Or(a, b) => {
                a.collect(parent, out);
                b.collect(parent, out);
            }
            Filter::Not(a) => a.collect(parent, out),
        }
    }

    /// The conjuncts of a top-level `and` chain.
    pub fn conjuncts(&self) -> Vec<&Filter> {
        match self {
            Filter::And(a, b) => {
                let mut v = a.conjuncts();
                v.extend(b.conjuncts());
                v
            }
            f => vec![f],
        }
    }
}

/// How an attribute compares: case-exact or not.
pub trait CaseRule {
    fn case_exact(&self, path: &AttrPath) -> bool;
}

/// Looks `name` up in a JSON object ignoring case.
pub fn get_ci<'a>(obj: &'a Value, name: &str) -> Option<&'a Value> {
    obj.as_object()?.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v)
}

/// The object an attribute path starts in: the resource itself, or the
/// extension object named by the path's URN.
fn scope<'a>(resource: &'a Value, path: &AttrPath, core_urn: &str) -> Option<&'a Value> {
    match &path.urn {
        Some(urn) if !urn.eq_ignore_ascii_case(core_urn) => get_ci(resource, urn),
        _ => Some(resource),
    }
}

/// The values the path reaches (multi-valued attributes spread out).
fn values<'a>(resource: &'a Value, path: &AttrPath, core_urn: &str) -> Vec<&'a Value> {
    let Some(v) = scope(resource, path, core_urn).and_then(|s| get_ci(s, &path.attr)) else {
        return Vec::new();
    };
    let items: Vec<&Value> = match v {
        Value::Array(a) => a.iter().collect(),
        v => vec![v],
    };
    match &path.sub {
        Some(sub) => items.into_iter().filter_map(|i| get_ci(i, sub)).collect(),
        // A complex multi-valued attribute compares through its `value`.
        None => items.into_iter().map(|i| if i.is_object() { get_ci(i, "value").unwrap_or(i) } else { i }).collect(),
    }
}

fn present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        _ => true,
    }
}

fn compare(actual: &Value, op: Op, expected: &Value, exact: bool) -> bool {
    let fold = |s: &str| if exact { s.to_owned() } else { s.to_lowercase() };
    match (actual, expected) {
        (Value::String(a), Value::String(e)) => {
            let (a, e) = (fold(a), fold(e));
            match op {
                Op::Eq => a == e,
                Op::Ne => a != e,
                Op::Co => a.contains(&e),
                Op::Sw => a.starts_with(&e),
                Op::Ew => a.ends_with(&e),
                Op::Gt => a > e,
                Op::Ge => a >= e,
                Op::Lt => a < e,
                Op::Le => a <= e,
            }
        }
        (Value::Number(a), Value::Number(e)) => {
            let ord = a.as_f64().partial_cmp(&e.as_f64());
            match op {
                Op::Eq => ord == Some(Ordering::Equal),
                Op::Ne => ord != Some(Ordering::Equal),
                Op::Gt => ord == Some(Ordering::Greater),
                Op::Ge => matches!(ord, Some(Ordering::Greater | Ordering::Equal)),
                Op::Lt => ord == Some(Ordering::Less),
                Op::Le => matches!(ord, Some(Ordering::Less | Ordering::Equal)),
                Op::Co | Op::Sw | Op::Ew => false,
            }
        }
        (Value::Bool(a), Value::Bool(e)) => match op {
            Op::Eq => a == e,
            Op::Ne => a != e,
            _ => false,
        },
        (a, e) => match op {
            Op::Ne => a != e,
            _ => false,
        },
    }
}

/// Whether `resource` (a SCIM JSON resource whose core schema is
/// `core_urn`) matches `filter`.
pub fn matches(filter: &Filter, resource: &Value, core_urn: &str, rule: &dyn CaseRule) -> bool {
    match filter {
        Filter::Present(p) => values(resource, p, core_urn).into_iter().any(present),
        Filter::Compare(p, op, expected) => {
            let vals = values(resource, p, core_urn);
            if expected.is_null() {
                let any = vals.into_iter().any(present);
                return if *op == Op::Ne { any } else { !any };
            }
            let exact = rule.case_exact(p);
            match op {
                // "not equal" holds when no value is equal (an absent attribute included).
                Op::Ne => !vals.into_iter().any(|v| compare(v, Op::Eq, expected, exact)),
                _ => vals.into_iter().any(|v| compare(v, *op, expected, exact)),
            }
        }
        Filter::ValuePath(p, inner) => {
            let Some(v) = scope(resource, p, core_urn).and_then(|s| get_ci(s, &p.attr)) else {
                return false;
            };
            let items: Vec<&Value> = match v {
                Value::Array(a) => a.iter().collect(),
                v => vec![v],
            };
            items.into_iter().any(|item| matches_item(inner, item, p, rule))
        }
        Filter::And(a, b) => matches(a, resource, core_urn, rule) && matches(b, resource, core_urn, rule),
        Filter::Or(a, b) => matches(a, resource, core_urn, rule) || matches(b, resource, core_urn, rule),
        Filter::Not(a) => !matches(a, resource, core_urn, rule),
    }
}

/// Evaluates a value filter on one value of a multi-valued attribute
/// (its paths name sub-attributes of `parent`).
pub fn matches_item(filter: &Filter, item: &Value, parent: &AttrPath, rule: &dyn CaseRule) -> bool {
    let sub_path =
        |p: &AttrPath| AttrPath { urn: parent.urn.clone(), attr: parent.attr.clone(), sub: Some(p.attr.clone()) };
    match filter {
        Filter::Present(p) => get_ci(item, &p.attr).is_some_and(present),
        Filter::Compare(p, op, expected) => {
            let v = get_ci(item, &p.attr);
            if expected.is_null() {
                let any = v.is_some_and(present);
                return if *op == Op::Ne { any } else { !any };
            }
            let exact = rule.case_exact(&sub_path(p));
            match (op, v) {
                (Op::Ne, None) => true,
                (Op::Ne, Some(v)) => !compare(v, Op::Eq, expected, exact),
                (_, Some(v)) => compare(v, *op, expected, exact),
                (_, None) => false,
            }
        }
        Filter::ValuePath(..) => false,
        Filter::And(a, b) => matches_item(a, item, parent, rule) && matches_item(b, item, parent, rule),
        Filter::Or(a, b) => matches_item(a, item, parent, rule) || matches_item(b, item, parent, rule),
        Filter::Not(a) => !matches_item(a, item, parent, rule),
    }
}

#[cfg(test)]
mod tests;
