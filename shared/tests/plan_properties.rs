//! Properties of the sync plan and its mass-close guard, for any stored state and any feed
//! (proptest): applying a plan then planning again changes nothing; a posting the feed lists
//! (usable or not) is never closed; no run closes more than the guard's bound.
use proptest::prelude::*;
use xor_lever_shared::domain::*;

/// A stored mapping: (posting number, hash, active).
type Stored = Vec<(u8, u8, bool)>;
/// The feed: (posting number, hash), and posting numbers listed but unusable.
type Feed = (Vec<(u8, u8)>, Vec<u8>);

fn pid(n: u8) -> PostingId {
    PostingId::parse(&format!("p-{n}")).unwrap()
}

fn mappings(stored: &Stored) -> Vec<JobMapping> {
    let mut seen = std::collections::HashSet::new();
    stored
        .iter()
        .filter(|(n, _, _)| seen.insert(*n))
        .map(|(n, h, active)| JobMapping {
            connection: ConnectionId::parse("acme").unwrap(),
            posting_id: pid(*n),
            xor_job_id: format!("xj_{n}"),
            chatbot_url: None,
            webchat_url: None,
            title: String::new(),
            location: None,
            content_hash: h.to_string(),
            status: if *active { MappingStatus::Active } else { MappingStatus::Closed },
            generation: 0,
            version: 1,
            updated_at: 0,
        })
        .collect()
}

fn feed_of(feed: &Feed) -> (Vec<PostingDigest>, Vec<PostingId>) {
    let mut seen = std::collections::HashSet::new();
    let digests: Vec<PostingDigest> = feed
        .0
        .iter()
        .filter(|(n, _)| seen.insert(*n))
        .map(|(n, h)| PostingDigest { id: pid(*n), hash: h.to_string() })
        .collect();
    let invalid = feed.1.iter().filter(|n| seen.insert(**n)).map(|n| pid(*n)).collect();
    (digests, invalid)
}

/// What the sync does with a plan when every write succeeds.
fn apply(maps: &mut Vec<JobMapping>, feed: &[PostingDigest], p: &Plan) {
    let hash = |id: &PostingId| feed.iter().find(|d| &d.id == id).unwrap().hash.clone();
    for c in &p.creates {
        maps.retain(|m| m.posting_id != c.posting_id);
        let mut m = mappings(&vec![(0, 0, true)]).remove(0);
        m.posting_id = c.posting_id.clone();
        m.content_hash = hash(&c.posting_id);
        maps.push(m);
    }
    for m in maps.iter_mut() {
        if p.updates.contains(&m.posting_id) {
            m.content_hash = hash(&m.posting_id);
        }
        if p.closes.contains(&m.posting_id) {
            m.status = MappingStatus::Closed;
        }
    }
}

fn stored() -> impl Strategy<Value = Stored> {
    prop::collection::vec((0u8..40, 0u8..3, any::<bool>()), 0..40)
}

fn feed() -> impl Strategy<Value = Feed> {
    (prop::collection::vec((0u8..40, 0u8..3), 0..40), prop::collection::vec(0u8..40, 0..4))
}

fn guard() -> impl Strategy<Value = GuardSettings> {
    (0.0f64..=1.0, 0usize..5, 0usize..60, any::<bool>())
        .prop_map(|(max_close_share, floor, peak, force)| GuardSettings { max_close_share, floor, peak, force })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn applying_a_plan_then_planning_again_changes_nothing(s in stored(), f in feed(), g in guard()) {
        let (digests, invalid) = feed_of(&f);
        let mut maps = mappings(&s);
        let first = plan(&digests, &invalid, &maps, g);
        apply(&mut maps, &digests, &first);
        let again = plan(&digests, &invalid, &maps, g);
        prop_assert!(again.creates.is_empty() && again.updates.is_empty(), "{again:?}");
        if first.guard.is_none() {
            prop_assert!(again.closes.is_empty(), "{again:?}");
        }
    }

    #[test]
    fn a_posting_the_feed_lists_is_never_closed(s in stored(), f in feed(), g in guard()) {
        let (digests, invalid) = feed_of(&f);
        let p = plan(&digests, &invalid, &mappings(&s), g);
        for c in &p.closes {
            prop_assert!(!digests.iter().any(|d| &d.id == c), "closed {c}, which the feed lists");
            prop_assert!(!invalid.contains(c), "closed {c}, which the feed lists (unusable)");
        }
    }

    #[test]
    fn no_run_closes_more_than_the_guard_allows(s in stored(), f in feed(), g in guard()) {
        let (digests, invalid) = feed_of(&f);
        let maps = mappings(&s);
        let p = plan(&digests, &invalid, &maps, g);
        if !g.force {
            let active = maps.iter().filter(|m| m.is_active()).count();
            let high = active.max(g.peak);
            let allowed = g.floor.max((g.max_close_share * high as f64).floor() as usize);
            // What closed since the high and what this run closes stay within the allowance.
            prop_assert!(p.closes.is_empty() || p.closes.len() + (high - active) <= allowed,
                "{} closes with {active} active, high {high}, allowed {allowed}", p.closes.len());
            if digests.is_empty() && invalid.is_empty() && active > g.floor {
                prop_assert!(p.closes.is_empty(), "an empty feed above the floor closes nothing");
            }
        }
    }
}
