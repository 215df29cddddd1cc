//! Properties of the job filter (issue 26), for any rule set, switches and feed (proptest): the
//! selection is always the rules' result with the switches applied (a switch beats the rules,
//! an exclusion beats an inclusion); matching ignores case and accents; and the plan made from
//! the selection never closes a posting it creates, nor creates one the filter holds back.
use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use xor_lever_shared::domain::job_filter::fold;
use xor_lever_shared::domain::*;

/// Values the generated postings and rules draw from: some differ only by case or accents.
const TEAMS: [&str; 5] = ["Finance", "FINANCE", "Field Ops", "Opérations", "operations"];
const CITIES: [&str; 4] = ["São Paulo", "sao paulo", "Berlin", "Zürich"];

fn posting(n: u8, team: usize, city: usize) -> Posting {
    Posting {
        source: "lever".into(),
        external_id: PostingId::parse(&format!("p-{n}")).unwrap(),
        title: format!("Job {n}"),
        description_html: None,
        company: None,
        location: Location { city: Some(CITIES[city].into()), ..Default::default() },
        employment_type: None,
        category: Some(TEAMS[team].into()),
        apply_url: None,
        posting_url: None,
        posted_at: None,
        extra: BTreeMap::new(),
    }
}

fn feed() -> impl Strategy<Value = Vec<Posting>> {
    prop::collection::btree_map(0u8..30, (0usize..TEAMS.len(), 0usize..CITIES.len()), 0..30)
        .prop_map(|m| m.into_iter().map(|(n, (t, c))| posting(n, t, c)).collect())
}

fn values(all: &'static [&'static str]) -> impl Strategy<Value = BTreeSet<String>> {
    prop::collection::btree_set(prop::sample::select(all).prop_map(str::to_owned), 0..3)
}

fn filter() -> impl Strategy<Value = JobFilter> {
    (values(&TEAMS), values(&CITIES), values(&TEAMS), prop::collection::btree_map(0u8..30, any::<bool>(), 0..6))
        .prop_map(|(inc_team, inc_city, exc_team, sw)| {
            let mut f = JobFilter::default();
            f.rules.include.insert(Dimension::Team, inc_team);
            f.rules.include.insert(Dimension::City, inc_city);
            f.rules.exclude.insert(Dimension::Team, exc_team);
            for (n, on) in sw {
                f.switches.insert(format!("p-{n}"), Switch { on, by: "t".into(), at_ms: 0 });
            }
            f
        })
}

/// The rule, written out plainly: what the filter must decide.
fn expected(f: &JobFilter, p: &Posting) -> bool {
    if let Some(s) = f.switches.get(p.external_id.as_str()) {
        return s.on;
    }
    let team = fold(p.category.as_deref().unwrap_or(""));
    let city = fold(p.location.city.as_deref().unwrap_or(""));
    let any = |set: Option<&BTreeSet<String>>, v: &str| set.is_some_and(|s| s.iter().any(|x| fold(x) == v));
    let empty = |set: Option<&BTreeSet<String>>| set.is_none_or(BTreeSet::is_empty);
    if any(f.rules.exclude.get(&Dimension::Team), &team) {
        return false;
    }
    (empty(f.rules.include.get(&Dimension::Team)) || any(f.rules.include.get(&Dimension::Team), &team))
        && (empty(f.rules.include.get(&Dimension::City)) || any(f.rules.include.get(&Dimension::City), &city))
}

proptest! {
    #[test]
    fn the_selection_is_the_rules_with_the_switches_applied(f in filter(), feed in feed()) {
        for p in &feed {
            prop_assert_eq!(f.verdict(p).publishes(), expected(&f, p), "{:?} under {:?}", p.external_id, f);
        }
    }

    #[test]
    fn the_plan_never_closes_what_it_creates_nor_creates_what_is_held(f in filter(), feed in feed(), published in prop::collection::btree_set(0u8..30, 0..20)) {
        let digests: Vec<PostingDigest> = feed.iter().filter(|p| f.verdict(p).publishes())
            .map(|p| PostingDigest { id: p.external_id.clone(), hash: p.content_hash() }).collect();
        let mappings: Vec<JobMapping> = published.iter().map(|n| JobMapping {
            connection: ConnectionId::parse("acme").unwrap(),
            posting_id: PostingId::parse(&format!("p-{n}")).unwrap(),
            xor_job_id: format!("xj_{n}"), chatbot_url: None, webchat_url: None, title: String::new(), location: None,
            content_hash: "old".into(), status: MappingStatus::Active, generation: 0, version: 1, updated_at: 0,
        }).collect();
        let force = GuardSettings { force: true, ..GuardSettings::default() };
        let p = plan(&digests, &[], &mappings, force);
        let held: BTreeSet<&str> = feed.iter().filter(|p| !f.verdict(p).publishes()).map(|p| p.external_id.as_str()).collect();
        for c in &p.creates {
            prop_assert!(!p.closes.contains(&c.posting_id));
            prop_assert!(!held.contains(c.posting_id.as_str()), "{} is held back", c.posting_id);
        }
        for m in &mappings {
            let in_feed = feed.iter().any(|p| p.external_id == m.posting_id);
            if held.contains(m.posting_id.as_str()) || !in_feed {
                prop_assert!(p.closes.contains(&m.posting_id), "{} must close", m.posting_id);
            }
        }
    }
}
