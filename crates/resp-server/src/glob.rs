//! Redis's glob-style pattern matching (`KEYS`, `SCAN MATCH`, `CONFIG GET`), as
//! `stringmatchlen` does it: `*`, `?`, `[abc]`, `[^a]`, `[a-z]`, `\x` escapes.

/// Whether `s` matches `pattern`. Iterative with backtracking on the last `*`, so it
/// is linear-ish and cannot blow the stack.
pub fn matches(pattern: &[u8], s: &[u8], nocase: bool) -> bool {
    let eq = |a: u8, b: u8| {
        if nocase {
            a.eq_ignore_ascii_case(&b)
        } else {
            a == b
        }
    };
    let (mut p, mut i) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    loop {
        if let Some(&pc) = pattern.get(p) {
            match pc {
                b'*' => {
                    while pattern.get(p) == Some(&b'*') {
                        p += 1;
                    }
                    if p == pattern.len() {
                        return true;
                    }
                    star = Some((p, i));
                    continue;
                }
                b'?' if i < s.len() => {
                    p += 1;
                    i += 1;
                    continue;
                }
                b'[' if i < s.len() => {
                    if let Some((matched, next_p)) =
                        class(pattern, p, s.get(i).copied().unwrap_or(0), nocase)
                    {
                        if matched {
                            p = next_p;
                            i += 1;
                            continue;
                        }
                    }
                }
                b'\\' if pattern.get(p + 1).is_some() && i < s.len() => {
                    if let (Some(&e), Some(&c)) = (pattern.get(p + 1), s.get(i)) {
                        if eq(e, c) {
                            p += 2;
                            i += 1;
                            continue;
                        }
                    }
                }
                c if i < s.len()
                    && c != b'?'
                    && c != b'['
                    && s.get(i).is_some_and(|&sc| eq(c, sc)) =>
                {
                    p += 1;
                    i += 1;
                    continue;
                }
                _ => {}
            }
        } else if i == s.len() {
            return true;
        }
        // Mismatch: backtrack to the last star, letting it eat one more byte.
        match star {
            Some((sp, si)) if si < s.len() => {
                star = Some((sp, si + 1));
                p = sp;
                i = si + 1;
            }
            _ => return false,
        }
    }
}

/// Matches a `[...]` class at `pattern[p]`; returns (matched, position after `]`).
fn class(pattern: &[u8], p: usize, c: u8, nocase: bool) -> Option<(bool, usize)> {
    let mut j = p + 1;
    let negate = pattern.get(j) == Some(&b'^');
    if negate {
        j += 1;
    }
    let lower = |b: u8| if nocase { b.to_ascii_lowercase() } else { b };
    let c = lower(c);
    let mut matched = false;
    loop {
        let &b = pattern.get(j)?;
        if b == b']' {
            break;
        }
        if b == b'\\' {
            if let Some(&e) = pattern.get(j + 1) {
                matched |= lower(e) == c;
                j += 2;
                continue;
            }
        }
        if pattern.get(j + 1) == Some(&b'-') {
            if let Some(&end) = pattern.get(j + 2) {
                if end != b']' {
                    let (lo, hi) = if b <= end { (b, end) } else { (end, b) };
                    matched |= (lower(lo)..=lower(hi)).contains(&c);
                    j += 3;
                    continue;
                }
            }
        }
        matched |= lower(b) == c;
        j += 1;
    }
    Some((matched != negate, j + 1))
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn redis_glob_cases() {
        assert!(matches(b"*", b"anything", false));
        assert!(matches(b"h?llo", b"hello", false));
        assert!(matches(b"h*llo", b"heeeello", false));
        assert!(matches(b"h[ae]llo", b"hallo", false));
        assert!(!matches(b"h[ae]llo", b"hillo", false));
        assert!(matches(b"h[^e]llo", b"hallo", false));
        assert!(!matches(b"h[^e]llo", b"hello", false));
        assert!(matches(b"h[a-b]llo", b"hbllo", false));
        assert!(matches(b"events:*", b"events:orders", false));
        assert!(!matches(b"events:*", b"event", false));
        assert!(matches(b"a\\*b", b"a*b", false));
        assert!(!matches(b"a\\*b", b"axb", false));
        assert!(matches(b"*o*", b"foo", false));
        assert!(matches(b"STREAM-*", b"stream-node-max-entries", true));
        assert!(!matches(b"abc", b"abcd", false));
        assert!(matches(b"", b"", false));
    }
}
