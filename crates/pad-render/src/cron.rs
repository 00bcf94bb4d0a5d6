//! Schedules: Airflow's presets and five-field cron expressions, checked field by field
//! the way croniter (Airflow's parser) reads them.

/// The presets Airflow accepts as a schedule.
pub const PRESETS: &[&str] =
    &["@once", "@continuous", "@hourly", "@daily", "@weekly", "@monthly", "@quarterly", "@yearly", "@annually"];

const FIELDS: [(&str, u32, u32, &[&str]); 5] = [
    ("minute", 0, 59, &[]),
    ("hour", 0, 23, &[]),
    ("day of month", 1, 31, &[]),
    ("month", 1, 12, &["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]),
    // 0 and 7 are both Sunday.
    ("day of week", 0, 7, &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]),
];

/// A schedule that is not valid: what is wrong, and the byte offset in the text where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronError {
    pub offset: usize,
    pub message: String,
}

/// Checks a schedule: a preset, or five fields of `*`, numbers, names, ranges, lists
/// and steps (`*/15`, `1-5`, `MON-FRI`, `0,30`).
pub fn check_schedule(text: &str) -> Result<(), CronError> {
    if text.starts_with('@') {
        if PRESETS.contains(&text) {
            return Ok(());
        }
        return Err(CronError { offset: 0, message: format!("`{text}` is not a schedule preset") });
    }
    let fields: Vec<(usize, &str)> = split_whitespace_indices(text);
    if fields.len() != 5 {
        return Err(CronError {
            offset: 0,
            message: format!(
                "a cron expression has 5 fields (minute hour day month weekday), `{text}` has {}",
                fields.len()
            ),
        });
    }
    for ((offset, field), (name, min, max, names)) in fields.into_iter().zip(FIELDS) {
        check_field(field, name, min, max, names).map_err(|message| CronError { offset, message })?;
    }
    Ok(())
}

fn split_whitespace_indices(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        match (c.is_whitespace(), start) {
            (true, Some(s)) => {
                out.push((s, &text[s..i]));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, &text[s..]));
    }
    out
}

fn check_field(field: &str, name: &str, min: u32, max: u32, names: &[&str]) -> Result<(), String> {
    for part in field.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((range, step)) => (range, Some(step)),
            None => (part, None),
        };
        if let Some(step) = step {
            match step.parse::<u32>() {
                Ok(step) if step >= 1 && step <= max => {}
                _ => return Err(format!("`{part}`: the step of the {name} field must be a number from 1 to {max}")),
            }
        }
        if range == "*" {
            continue;
        }
        let value = |text: &str| -> Result<u32, String> {
            if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(text)) {
                return Ok(i as u32 + min);
            }
            match text.parse::<u32>() {
                Ok(v) if (min..=max).contains(&v) => Ok(v),
                _ => {
                    let named = if names.is_empty() {
                        String::new()
                    } else {
                        format!(" or {}-{}", names[0], names[names.len() - 1])
                    };
                    Err(format!("`{text}` is not a valid {name}: use {min}-{max}{named}"))
                }
            }
        };
        match range.split_once('-') {
            Some((low, high)) => {
                let (low, high) = (value(low)?, value(high)?);
                if low > high {
                    return Err(format!("`{range}`: the range of the {name} field runs backwards"));
                }
            }
            None => {
                value(range)?;
            }
        }
    }
    Ok(())
}
