//! GitLab's CI/CD variable expressions, as `rules:if` and `workflow:rules:if` use them:
//! `$VAR` (set and not empty), `==` and `!=` between variables, quoted strings and
//! `null`, `&&` (binding tighter than `||`), `||`, and parentheses. A variable that is
//! not set compares equal to `null`, an empty one to `""`. `=~` and `!~` (regular
//! expressions) are refused with a clear error rather than guessed at.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (at character {at})")]
pub struct ExprError {
    pub message: String,
    /// 0-based character offset in the expression.
    pub at: usize,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Var(String),
    Str(String),
    Null,
    Eq,
    Ne,
    And,
    Or,
    Open,
    Close,
}

/// Checks an expression's syntax.
pub fn parse(text: &str) -> Result<(), ExprError> {
    evaluate(text, &|_| None).map(|_| ())
}

/// Evaluates an expression with `lookup` giving each variable's value.
pub fn evaluate(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<bool, ExprError> {
    let tokens = tokenize(text)?;
    let mut parser = Parser { tokens, pos: 0, lookup, len: text.chars().count() };
    let value = parser.or()?;
    match parser.tokens.get(parser.pos) {
        None => Ok(value),
        Some((_, at)) => Err(ExprError { message: "unexpected text after the expression".to_owned(), at: *at }),
    }
}

fn tokenize(text: &str) -> Result<Vec<(Token, usize)>, ExprError> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        let two: String = chars[i..chars.len().min(i + 2)].iter().collect();
        match c {
            ' ' | '\t' => {
                i += 1;
                continue;
            }
            '$' => {
                i += 1;
                let braced = chars.get(i) == Some(&'{');
                if braced {
                    i += 1;
                }
                let name_start = i;
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                if i == name_start {
                    return Err(ExprError { message: "`$` is not followed by a variable name".to_owned(), at: start });
                }
                let name: String = chars[name_start..i].iter().collect();
                if braced {
                    if chars.get(i) != Some(&'}') {
                        return Err(ExprError { message: "`${` is not closed by `}`".to_owned(), at: start });
                    }
                    i += 1;
                }
                tokens.push((Token::Var(name), start));
                continue;
            }
            '"' | '\'' => {
                let end = chars[i + 1..].iter().position(|&q| q == c).map(|p| i + 1 + p);
                let Some(end) = end else {
                    return Err(ExprError { message: "a quoted string is not closed".to_owned(), at: start });
                };
                tokens.push((Token::Str(chars[i + 1..end].iter().collect()), start));
                i = end + 1;
                continue;
            }
            '(' => tokens.push((Token::Open, start)),
            ')' => tokens.push((Token::Close, start)),
            _ => {}
        }
        if matches!(c, '(' | ')') {
            i += 1;
            continue;
        }
        let token = match two.as_str() {
            "==" => Token::Eq,
            "!=" => Token::Ne,
            "&&" => Token::And,
            "||" => Token::Or,
            "=~" | "!~" => {
                return Err(ExprError {
                    message: format!("`{two}` (a regular expression match) is not evaluated by the pipeline model"),
                    at: start,
                });
            }
            _ if text[char_offset(text, i)..].starts_with("null") => {
                i += 4;
                tokens.push((Token::Null, start));
                continue;
            }
            _ => return Err(ExprError { message: format!("unexpected `{c}`"), at: start }),
        };
        tokens.push((token, start));
        i += 2;
    }
    Ok(tokens)
}

fn char_offset(text: &str, chars: usize) -> usize {
    text.char_indices().nth(chars).map_or(text.len(), |(i, _)| i)
}

struct Parser<'a> {
    tokens: Vec<(Token, usize)>,
    pos: usize,
    lookup: &'a dyn Fn(&str) -> Option<String>,
    len: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos).map(|(t, _)| t)
    }

    fn at(&self) -> usize {
        self.tokens.get(self.pos).map_or(self.len, |(_, at)| *at)
    }

    fn or(&mut self) -> Result<bool, ExprError> {
        let mut value = self.and()?;
        while self.peek() == Some(&Token::Or) {
            self.pos += 1;
            let right = self.and()?;
            value = value || right;
        }
        Ok(value)
    }

    fn and(&mut self) -> Result<bool, ExprError> {
        let mut value = self.comparison()?;
        while self.peek() == Some(&Token::And) {
            self.pos += 1;
            let right = self.comparison()?;
            value = value && right;
        }
        Ok(value)
    }

    fn comparison(&mut self) -> Result<bool, ExprError> {
        if self.peek() == Some(&Token::Open) {
            self.pos += 1;
            let value = self.or()?;
            if self.peek() != Some(&Token::Close) {
                return Err(ExprError { message: "`(` is not closed by `)`".to_owned(), at: self.at() });
            }
            self.pos += 1;
            return Ok(value);
        }
        let left = self.operand()?;
        let op = match self.peek() {
            Some(Token::Eq) => true,
            Some(Token::Ne) => false,
            _ => return Ok(left.is_some_and(|v| !v.is_empty())),
        };
        self.pos += 1;
        let right = self.operand()?;
        Ok((left == right) == op)
    }

    /// A value: `Some(text)`, or `None` for `null` and a variable that is not set.
    fn operand(&mut self) -> Result<Option<String>, ExprError> {
        let at = self.at();
        let token = self.tokens.get(self.pos).map(|(t, _)| t.clone());
        self.pos += 1;
        match token {
            Some(Token::Var(name)) => Ok((self.lookup)(&name)),
            Some(Token::Str(text)) => Ok(Some(text)),
            Some(Token::Null) => Ok(None),
            _ => Err(ExprError { message: "expected a variable, a quoted string or `null`".to_owned(), at }),
        }
    }
}
