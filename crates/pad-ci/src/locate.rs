//! Where things are in the file's text: the line of a top-level key, of a key inside a
//! job, of a script line. The YAML value tree carries no positions, and a line found by
//! its text is what a person looks for anyway.

pub(crate) struct Locator {
    lines: Vec<String>,
}

impl Locator {
    pub(crate) fn new(text: &str) -> Locator {
        Locator { lines: text.lines().map(str::to_owned).collect() }
    }

    /// The 1-based line of `key:` at column 0 (0 when absent).
    pub(crate) fn top_key(&self, key: &str) -> usize {
        self.lines.iter().position(|line| is_key_line(line, key) && !line.starts_with([' ', '\t'])).map_or(0, |i| i + 1)
    }

    /// The lines of a top-level job's block: after its key, up to the next line at
    /// column 0 that is not a comment.
    fn job_block(&self, job: &str) -> std::ops::Range<usize> {
        let start = self.top_key(job);
        if start == 0 {
            return 0..0;
        }
        let end = self.lines[start..]
            .iter()
            .position(|line| !line.is_empty() && !line.starts_with([' ', '\t', '#']))
            .map_or(self.lines.len(), |i| start + i);
        start..end
    }

    /// The 1-based line of `key:` inside `job`'s block (the job's own line when the key
    /// came from a template).
    pub(crate) fn key_in_job(&self, job: &str, key: &str) -> usize {
        let block = self.job_block(job);
        self.lines[block.clone()]
            .iter()
            .position(|line| is_key_line(line.trim_start().trim_start_matches("- "), key))
            .map_or(self.top_key(job), |i| block.start + i + 1)
    }

    /// The 1-based line holding the first line of `text` inside `job`'s block, else
    /// anywhere in the file (a template's script), else 0.
    pub(crate) fn text_in_job(&self, job: &str, text: &str) -> usize {
        let needle = text.lines().next().unwrap_or_default().trim();
        if needle.is_empty() {
            return 0;
        }
        let block = self.job_block(job);
        self.lines[block.clone()]
            .iter()
            .position(|line| line.contains(needle))
            .map(|i| block.start + i + 1)
            .unwrap_or_else(|| self.text_anywhere(text))
    }

    /// The 1-based line holding the first line of `text`, else 0.
    pub(crate) fn text_anywhere(&self, text: &str) -> usize {
        let needle = text.lines().next().unwrap_or_default().trim();
        if needle.is_empty() {
            return 0;
        }
        self.lines.iter().position(|line| line.contains(needle)).map_or(0, |i| i + 1)
    }

    /// How many spaces line `line` (1-based) starts with.
    pub(crate) fn indent(&self, line: usize) -> usize {
        self.lines.get(line.wrapping_sub(1)).map_or(0, |l| l.len() - l.trim_start().len())
    }
}

fn is_key_line(line: &str, key: &str) -> bool {
    let line = line.trim_start();
    [format!("{key}:"), format!("\"{key}\":"), format!("'{key}':")].iter().any(|k| line.starts_with(k.as_str()))
}
