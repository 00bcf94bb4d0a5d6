//! The pipelines a project runs: for a merge request, a push to the default branch, and
//! a tag; with the predefined variables GitLab sets for each (the subset the rules and
//! the jobs here read).

use std::collections::BTreeMap;

/// What started a pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A merge request's pipeline, from its source branch.
    MergeRequest {
        branch: String,
        iid: u32,
    },
    /// A push to a branch (the default one or another).
    Push {
        branch: String,
    },
    Tag {
        tag: String,
    },
}

impl Event {
    /// The three pipelines every repository has, on a default branch named `main`.
    pub fn canonical(default_branch: &str) -> [Event; 3] {
        [
            Event::MergeRequest { branch: "feature-x".to_owned(), iid: 1 },
            Event::Push { branch: default_branch.to_owned() },
            Event::Tag { tag: "v1.0.0".to_owned() },
        ]
    }

    /// Short, for messages: "a merge request pipeline".
    pub fn describe(&self, default_branch: &str) -> String {
        match self {
            Event::MergeRequest { .. } => "a merge request pipeline".to_owned(),
            Event::Push { branch } if branch == default_branch => {
                format!("a pipeline on the default branch `{branch}`")
            }
            Event::Push { branch } => format!("a pipeline on branch `{branch}`"),
            Event::Tag { tag } => format!("a tag pipeline (`{tag}`)"),
        }
    }

    /// GitLab's predefined variables for this pipeline (see GitLab's "Predefined CI/CD
    /// variables reference"); `sha` is the commit's full SHA.
    pub fn variables(&self, default_branch: &str, sha: &str) -> BTreeMap<String, String> {
        let mut vars = BTreeMap::new();
        let mut set = |k: &str, v: &str| {
            vars.insert(k.to_owned(), v.to_owned());
        };
        set("CI", "true");
        set("GITLAB_CI", "true");
        set("CI_DEFAULT_BRANCH", default_branch);
        set("CI_COMMIT_SHA", sha);
        set("CI_COMMIT_SHORT_SHA", &sha[..sha.len().min(8)]);
        let (source, ref_name) = match self {
            Event::MergeRequest { branch, iid } => {
                set("CI_MERGE_REQUEST_IID", &iid.to_string());
                set("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", branch);
                set("CI_MERGE_REQUEST_TARGET_BRANCH_NAME", default_branch);
                ("merge_request_event", branch.clone())
            }
            Event::Push { branch } => {
                set("CI_COMMIT_BRANCH", branch);
                ("push", branch.clone())
            }
            Event::Tag { tag } => {
                set("CI_COMMIT_TAG", tag);
                ("push", tag.clone())
            }
        };
        set("CI_PIPELINE_SOURCE", source);
        set("CI_COMMIT_REF_NAME", &ref_name);
        set("CI_COMMIT_REF_SLUG", &ref_slug(&ref_name));
        vars
    }
}

/// `CI_COMMIT_REF_SLUG`: the ref lowercased, shortened to 63 bytes, everything but
/// `0-9` and `a-z` replaced with `-`, no leading or trailing `-`.
pub fn ref_slug(name: &str) -> String {
    let lowered: String = name
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_lowercase() || c.is_ascii_digit() { c } else { '-' })
        .collect();
    let cut: String = lowered.chars().take(63).collect();
    cut.trim_matches('-').to_owned()
}
