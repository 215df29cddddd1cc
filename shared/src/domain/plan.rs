//! The sync plan: what to do in XOR so that it matches the feed. Pure: same input, same plan.
use std::collections::{HashMap, HashSet};

use serde::Serialize;

use super::ids::PostingId;
use super::job::{JobMapping, MappingStatus};

/// What the plan needs of a posting: its id and the hash of the body XOR would get.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostingDigest {
    pub id: PostingId,
    pub hash: String,
}

/// Closing this many jobs is never "mass": a connection with a few jobs closes them without
/// `--force` (3 of 4 jobs leaving the feed is ordinary for a small team).
pub const CLOSE_FLOOR: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GuardSettings {
    /// Closes within the window may take at most this share of its highest active count
    /// (0.0–1.0) unless forced…
    pub max_close_share: f64,
    /// …or this many jobs, whichever is larger.
    pub floor: usize,
    /// The most jobs active at once over the last day or so (`FeedState::peak`): the guard
    /// counts closes from there, so a feed that degrades over several runs is caught too.
    pub peak: usize,
    /// `--force`, or the connection's standing setting: let a large close through.
    pub force: bool,
}

impl Default for GuardSettings {
    fn default() -> Self {
        Self { max_close_share: 0.5, floor: CLOSE_FLOOR, peak: 0, force: false }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Create {
    pub posting_id: PostingId,
    /// 0 for a first create; the closed mapping's generation + 1 for a re-open.
    pub generation: u32,
    /// The closed mapping being re-opened, if any (its version guards the write).
    pub reopens_version: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Plan {
    pub creates: Vec<Create>,
    /// Active mappings whose posting changed.
    pub updates: Vec<PostingId>,
    pub unchanged: usize,
    /// Active mappings whose posting left the feed (empty when the guard held them back).
    pub closes: Vec<PostingId>,
    /// Why closes were held back, when the mass-close guard tripped.
    pub guard: Option<String>,
    /// How many closes the guard held back.
    pub held_closes: usize,
    /// Postings of the feed the connection's job filter holds back, each with why (`filtered:
    /// team "Finance" excluded`, `switched off by …`): set by the sync, not by [`plan`].
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub filtered: Vec<(PostingId, String)>,
}

impl Plan {
    pub fn writes(&self) -> usize {
        self.creates.len() + self.updates.len() + self.closes.len()
    }
}

/// Compares the feed with the stored mappings. `feed` holds each posting id at most once (the
/// parser keeps the first of a repeated id). `invalid`: postings the feed lists but that could
/// not be used (no title…): they are neither updated nor closed.
pub fn plan(feed: &[PostingDigest], invalid: &[PostingId], mappings: &[JobMapping], guard: GuardSettings) -> Plan {
    let by_id: HashMap<&PostingId, &JobMapping> = mappings.iter().map(|m| (&m.posting_id, m)).collect();
    let mut out = Plan::default();
    for p in feed {
        match by_id.get(&p.id) {
            None => out.creates.push(Create { posting_id: p.id.clone(), generation: 0, reopens_version: None }),
            Some(m) if m.status == MappingStatus::Closed => out.creates.push(Create {
                posting_id: p.id.clone(),
                generation: m.generation + 1,
                reopens_version: Some(m.version),
            }),
            Some(m) if m.content_hash != p.hash => out.updates.push(p.id.clone()),
            Some(_) => out.unchanged += 1,
        }
    }
    let in_feed: HashSet<&PostingId> = feed.iter().map(|p| &p.id).chain(invalid).collect();
    let mut closes: Vec<PostingId> = mappings
        .iter()
        .filter(|m| m.is_active() && !in_feed.contains(&m.posting_id))
        .map(|m| m.posting_id.clone())
        .collect();
    closes.sort();

    let active = mappings.iter().filter(|m| m.is_active()).count();
    // Closes are counted from the day's high: what earlier runs closed uses up the same allowance.
    let high = active.max(guard.peak);
    let allowed = guard.floor.max((guard.max_close_share * high as f64).floor() as usize);
    let closed_since = high - active;
    let budget = allowed.saturating_sub(closed_since);
    if !closes.is_empty() && !guard.force {
        let reason = if feed.is_empty() && invalid.is_empty() && closes.len() > guard.floor {
            Some(format!(
                "the feed has no jobs: closing all {active} active jobs needs --force (an empty feed is more often an outage than a hiring freeze)"
            ))
        } else if closes.len() > budget {
            Some(format!(
                "{} of {active} active jobs would close; with the {closed_since} closed since the last day's high of {high}, that is above the limit of {allowed} (the larger of {} jobs and {:.0}%): nothing was closed; run with --force if this is intended",
                closes.len(),
                guard.floor,
                100.0 * guard.max_close_share
            ))
        } else {
            None
        };
        if let Some(reason) = reason {
            out.held_closes = closes.len();
            out.guard = Some(reason);
            closes.clear();
        }
    }
    out.closes = closes;
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::ConnectionId;

    fn pid(s: &str) -> PostingId {
        PostingId::parse(s).unwrap()
    }
    fn digest(id: &str, hash: &str) -> PostingDigest {
        PostingDigest { id: pid(id), hash: hash.into() }
    }
    fn mapping(id: &str, hash: &str, status: MappingStatus) -> JobMapping {
        JobMapping {
            connection: ConnectionId::parse("acme").unwrap(),
            posting_id: pid(id),
            xor_job_id: format!("xj_{id}"),
            chatbot_url: None,
            webchat_url: None,
            location: None,
            title: id.into(),
            content_hash: hash.into(),
            status,
            generation: 2,
            version: 7,
            updated_at: 0,
        }
    }
    use MappingStatus::{Active, Closed};

    #[test]
    fn table() {
        struct Case {
            name: &'static str,
            feed: Vec<PostingDigest>,
            maps: Vec<JobMapping>,
            guard: GuardSettings,
            creates: Vec<(&'static str, u32)>,
            updates: Vec<&'static str>,
            unchanged: usize,
            closes: Vec<&'static str>,
            guarded: bool,
        }
        // The share rules, without the floor (its own test below).
        let g = GuardSettings { floor: 0, ..GuardSettings::default() };
        let forced = GuardSettings { force: true, ..g };
        let cases = vec![
            Case {
                name: "first run creates all",
                feed: vec![digest("a", "1"), digest("b", "2")],
                maps: vec![],
                guard: g,
                creates: vec![("a", 0), ("b", 0)],
                updates: vec![],
                unchanged: 0,
                closes: vec![],
                guarded: false,
            },
            Case {
                name: "unchanged feed does nothing",
                feed: vec![digest("a", "1")],
                maps: vec![mapping("a", "1", Active)],
                guard: g,
                creates: vec![],
                updates: vec![],
                unchanged: 1,
                closes: vec![],
                guarded: false,
            },
            Case {
                name: "changed hash updates",
                feed: vec![digest("a", "9")],
                maps: vec![mapping("a", "1", Active)],
                guard: g,
                creates: vec![],
                updates: vec!["a"],
                unchanged: 0,
                closes: vec![],
                guarded: false,
            },
            Case {
                name: "missing posting closes (within the share)",
                feed: vec![digest("a", "1"), digest("b", "2")],
                maps: vec![mapping("a", "1", Active), mapping("b", "2", Active), mapping("c", "3", Active)],
                guard: g,
                creates: vec![],
                updates: vec![],
                unchanged: 2,
                closes: vec!["c"],
                guarded: false,
            },
            Case {
                name: "closed mapping is not closed again",
                feed: vec![digest("a", "1")],
                maps: vec![mapping("a", "1", Active), mapping("z", "1", Closed)],
                guard: g,
                creates: vec![],
                updates: vec![],
                unchanged: 1,
                closes: vec![],
                guarded: false,
            },
            Case {
                name: "reappearing posting re-opens with the next generation",
                feed: vec![digest("z", "1")],
                maps: vec![mapping("z", "1", Closed)],
                guard: g,
                creates: vec![("z", 3)],
                updates: vec![],
                unchanged: 0,
                closes: vec![],
                guarded: false,
            },
            Case {
                name: "closing more than half trips the guard",
                feed: vec![digest("a", "1")],
                maps: vec![mapping("a", "1", Active), mapping("b", "1", Active), mapping("c", "1", Active)],
                guard: g,
                creates: vec![],
                updates: vec![],
                unchanged: 1,
                closes: vec![],
                guarded: true,
            },
            Case {
                name: "exactly half is allowed",
                feed: vec![digest("a", "1")],
                maps: vec![mapping("a", "1", Active), mapping("b", "1", Active)],
                guard: g,
                creates: vec![],
                updates: vec![],
                unchanged: 1,
                closes: vec!["b"],
                guarded: false,
            },
            Case {
                name: "an empty feed never closes everything, even under a 100% limit",
                feed: vec![],
                maps: vec![mapping("a", "1", Active)],
                guard: GuardSettings { max_close_share: 1.0, ..g },
                creates: vec![],
                updates: vec![],
                unchanged: 0,
                closes: vec![],
                guarded: true,
            },
            Case {
                name: "force lets the guard through",
                feed: vec![],
                maps: vec![mapping("a", "1", Active), mapping("b", "1", Active)],
                guard: forced,
                creates: vec![],
                updates: vec![],
                unchanged: 0,
                closes: vec!["a", "b"],
                guarded: false,
            },
            Case {
                name: "guard still lets creates and updates through",
                feed: vec![digest("n", "1"), digest("a", "2")],
                maps: vec![
                    mapping("a", "1", Active),
                    mapping("b", "1", Active),
                    mapping("c", "1", Active),
                    mapping("d", "1", Active),
                ],
                guard: g,
                creates: vec![("n", 0)],
                updates: vec!["a"],
                unchanged: 0,
                closes: vec![],
                guarded: true,
            },
        ];
        for c in cases {
            let p = plan(&c.feed, &[], &c.maps, c.guard);
            let creates: Vec<(&str, u32)> = p.creates.iter().map(|c| (c.posting_id.as_str(), c.generation)).collect();
            assert_eq!(creates, c.creates, "{}: creates", c.name);
            let updates: Vec<&str> = p.updates.iter().map(|u| u.as_str()).collect();
            assert_eq!(updates, c.updates, "{}: updates", c.name);
            assert_eq!(p.unchanged, c.unchanged, "{}: unchanged", c.name);
            let closes: Vec<&str> = p.closes.iter().map(|u| u.as_str()).collect();
            assert_eq!(closes, c.closes, "{}: closes", c.name);
            assert_eq!(p.guard.is_some(), c.guarded, "{}: guard {:?}", c.name, p.guard);
            if c.guarded {
                assert!(p.held_closes > 0, "{}: held closes counted", c.name);
            }
        }
    }

    fn closes_of(feed: &[&str], invalid: &[&str], active: usize, guard: GuardSettings) -> (Vec<String>, bool) {
        let feed: Vec<PostingDigest> = feed.iter().map(|id| digest(id, "1")).collect();
        let invalid: Vec<PostingId> = invalid.iter().map(|id| pid(id)).collect();
        let maps: Vec<JobMapping> = (0..active).map(|i| mapping(&format!("p{i}"), "1", Active)).collect();
        let p = plan(&feed, &invalid, &maps, guard);
        (p.closes.iter().map(|c| c.to_string()).collect(), p.guard.is_some())
    }

    #[test]
    fn a_small_connection_closes_up_to_the_floor_without_force() {
        let g = GuardSettings::default();
        assert_eq!(closes_of(&[], &[], 1, g), (vec!["p0".to_owned()], false), "its one job");
        assert_eq!(closes_of(&[], &[], 3, g).0.len(), 3, "three of three");
        assert_eq!(closes_of(&["p0"], &[], 4, g).0.len(), 3, "three of four");
        assert_eq!(closes_of(&[], &[], 4, g), (vec![], true), "an empty feed above the floor is held");
    }

    #[test]
    fn a_posting_the_feed_lists_but_cannot_use_is_never_closed() {
        let g = GuardSettings::default();
        assert_eq!(closes_of(&["p0"], &["p1"], 2, g), (vec![], false));
        assert_eq!(closes_of(&[], &["p0", "p1", "p2", "p3"], 4, g), (vec![], false), "not an empty feed either");
    }

    #[test]
    fn closes_count_from_the_day_s_high() {
        // 10 active earlier today, 6 now: 4 already closed of the 5 allowed.
        let g = GuardSettings { peak: 10, ..GuardSettings::default() };
        assert_eq!(closes_of(&["p0", "p1", "p2", "p3", "p4"], &[], 6, g).0.len(), 1, "one more may close");
        assert_eq!(closes_of(&["p0", "p1", "p2", "p3"], &[], 6, g), (vec![], true), "two more may not");
    }
}
