//! Output for people (aligned tables, `label  value` lists, sizes and durations in
//! units) and for scripts (JSON), and the parsers of the units people type.

use std::io::{self, Write};

use serde::Serialize;

/// An aligned text table: a header row, then rows; columns separated by two
/// spaces, numbers right-aligned, the last column not padded.
pub struct Table {
    headers: Vec<&'static str>,
    right: Vec<bool>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// Columns named `headers`; a name starting with `>` is right-aligned (the `>`
    /// is not printed).
    pub fn new(headers: &[&'static str]) -> Table {
        Table {
            right: headers.iter().map(|h| h.starts_with('>')).collect(),
            headers: headers.iter().map(|h| h.trim_start_matches('>')).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, row: Vec<String>) {
        self.rows.push(row);
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn write(&self, out: &mut impl Write) -> io::Result<()> {
        let columns = self.headers.len();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let header: Vec<String> = self.headers.iter().map(|h| h.to_string()).collect();
        for row in std::iter::once(&header).chain(&self.rows) {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate().take(columns) {
                let width = widths.get(i).copied().unwrap_or(0);
                let pad = width.saturating_sub(cell.chars().count());
                let last = i + 1 == columns.min(row.len());
                if i > 0 {
                    line.push_str("  ");
                }
                if self.right.get(i).copied().unwrap_or(false) {
                    line.extend(std::iter::repeat_n(' ', pad));
                    line.push_str(cell);
                } else {
                    line.push_str(cell);
                    if !last {
                        line.extend(std::iter::repeat_n(' ', pad));
                    }
                }
            }
            writeln!(out, "{}", line.trim_end())?;
        }
        Ok(())
    }
}

/// `label  value` lines, values aligned.
pub fn write_fields(out: &mut impl Write, fields: &[(&str, String)]) -> io::Result<()> {
    let width = fields.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
    for (label, value) in fields {
        writeln!(out, "{label:<width$}  {value}")?;
    }
    Ok(())
}

/// One JSON document, pretty-printed, on stdout.
pub fn write_json<T: Serialize>(out: &mut impl Write, value: &T) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value).map_err(io::Error::from)?;
    writeln!(out)
}

/// `1536` → `1.5 KiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    let name = UNITS.get(unit).copied().unwrap_or("B");
    format!("{value:.1} {name}")
}

/// Milliseconds in the largest unit that divides them: `604800000` → `7d`.
pub fn duration_ms(ms: u64) -> String {
    for (unit, size) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
    ] {
        if ms >= size && ms.is_multiple_of(size) {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{ms}ms")
}

/// An uptime: `93784.2` seconds → `1d 2h 3m 4s`.
pub fn uptime(seconds: f64) -> String {
    let total = seconds.max(0.0) as u64;
    let (d, h, m, s) = (
        total / 86_400,
        total / 3600 % 24,
        total / 60 % 60,
        total % 60,
    );
    let mut parts = Vec::new();
    if d > 0 {
        parts.push(format!("{d}d"));
    }
    if d > 0 || h > 0 {
        parts.push(format!("{h}h"));
    }
    if d > 0 || h > 0 || m > 0 {
        parts.push(format!("{m}m"));
    }
    parts.push(format!("{s}s"));
    parts.join(" ")
}

/// `Some(n)` as text, `None` as `-`.
pub fn opt<T: ToString>(value: Option<T>) -> String {
    value.map_or_else(|| "-".to_string(), |v| v.to_string())
}

/// A duration as people write it: a number with `ms`, `s`, `m`, `h` or `d`
/// (`7d`, `12h`, `500ms`); a bare number is milliseconds. Returns milliseconds.
pub fn parse_duration_ms(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration (e.g. 500ms, 30s, 15m, 12h, 7d)"))?;
    let scale = match unit {
        "" | "ms" => 1,
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => {
            return Err(format!(
                "unknown unit {unit:?} in {text:?}: use ms, s, m, h or d"
            ))
        }
    };
    number
        .checked_mul(scale)
        .ok_or_else(|| format!("{text:?} is too long"))
}

/// A size: a number of bytes, optionally with `KiB`/`MiB`/`GiB`/`TiB` (powers of
/// 1024) or `KB`/`MB`/`GB`/`TB` (powers of 1000); case does not matter.
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a size (e.g. 1048576, 512MiB, 1GB)"))?;
    let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kib" | "k" => 1 << 10,
        "mib" | "m" => 1 << 20,
        "gib" | "g" => 1 << 30,
        "tib" | "t" => 1 << 40,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        _ => {
            return Err(format!(
                "unknown unit {unit:?} in {text:?}: use KiB, MiB, GiB, TiB or KB, MB, GB, TB"
            ))
        }
    };
    number
        .checked_mul(scale)
        .ok_or_else(|| format!("{text:?} is too large"))
}

/// An fsync policy (`always`, `everysec`, `<N>ms`, `never`), checked here with the
/// server's own parser and passed on as typed.
pub fn parse_fsync(text: &str) -> Result<String, String> {
    text.parse::<brook_model::Durability>()
        .map(|_| text.to_string())
        .map_err(|error| error.to_string())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_and_right_align_numbers() {
        let mut table = Table::new(&["NAME", ">N", "NOTE"]);
        table.row(vec!["orders".into(), "3".into(), "x".into()]);
        table.row(vec!["a".into(), "1200".into(), "".into()]);
        let mut out = Vec::new();
        table.write(&mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "NAME       N  NOTE\norders     3  x\na       1200\n"
        );
    }

    #[test]
    fn durations_parse_and_print() {
        assert_eq!(parse_duration_ms("7d").unwrap(), 604_800_000);
        assert_eq!(parse_duration_ms("12h").unwrap(), 43_200_000);
        assert_eq!(parse_duration_ms("15m").unwrap(), 900_000);
        assert_eq!(parse_duration_ms("30s").unwrap(), 30_000);
        assert_eq!(parse_duration_ms("250ms").unwrap(), 250);
        assert_eq!(parse_duration_ms("250").unwrap(), 250);
        for bad in ["", "d", "7w", "1.5h", "-1s", "99999999999999999999d"] {
            assert!(parse_duration_ms(bad).is_err(), "{bad:?}");
        }
        assert_eq!(duration_ms(604_800_000), "7d");
        assert_eq!(duration_ms(90_000), "90s");
        assert_eq!(duration_ms(1500), "1500ms");
        assert_eq!(duration_ms(0), "0ms");
        assert_eq!(uptime(93_784.2), "1d 2h 3m 4s");
        assert_eq!(uptime(5.0), "5s");
    }

    #[test]
    fn sizes_parse_and_print() {
        assert_eq!(parse_bytes("4096").unwrap(), 4096);
        assert_eq!(parse_bytes("512MiB").unwrap(), 512 << 20);
        assert_eq!(parse_bytes("1gb").unwrap(), 1_000_000_000);
        assert_eq!(parse_bytes("2 KiB").unwrap(), 2048);
        for bad in ["", "MiB", "1.5GiB", "1PB", "99999999999TiB"] {
            assert!(parse_bytes(bad).is_err(), "{bad:?}");
        }
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(3 << 30), "3.0 GiB");
    }

    #[test]
    fn fsync_policies_are_checked() {
        for good in ["always", "everysec", "100ms", "never", "no"] {
            assert_eq!(parse_fsync(good).unwrap(), good);
        }
        assert!(parse_fsync("sometimes").is_err());
    }
}
