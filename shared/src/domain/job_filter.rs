//! Which of a feed's postings become XOR jobs (issue 26): a connection's rules over what the feed
//! says of each posting (team, department, city, country, workplace, commitment, title words),
//! include and exclude, and a switch per posting that beats the rules. Pure: the sync applies it
//! to the feed before planning (a posting the selection leaves out is closed like one that left
//! the feed, under the same mass-close guard); the section page and the CLI preview it.
use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

use super::Posting;

/// What a rule looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    /// Lever's team (the feed's `<category>`, the postings API's `categories.team`).
    Team,
    /// Lever's department (the postings API's `categories.department`).
    Department,
    City,
    Country,
    /// On-site, remote, hybrid (the feed's `<remotetype>`, the postings API's `workplaceType`).
    Workplace,
    /// Full-time, part-time… (the feed's `<jobtype>`, `categories.commitment`).
    Commitment,
    /// Words of the title: a value matches when each of its words is a word of the title.
    Title,
}

impl Dimension {
    pub const ALL: [Dimension; 7] =
        [Self::Team, Self::Department, Self::City, Self::Country, Self::Workplace, Self::Commitment, Self::Title];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Team => "team",
            Self::Department => "department",
            Self::City => "city",
            Self::Country => "country",
            Self::Workplace => "workplace",
            Self::Commitment => "commitment",
            Self::Title => "title",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.as_str() == s)
    }

    /// What the posting says for this dimension, as written (none: the feed does not say).
    pub fn value_of(self, p: &CatalogEntry) -> Option<&str> {
        let v = match self {
            Self::Team => p.team.as_deref(),
            Self::Department => p.department.as_deref(),
            Self::City => p.city.as_deref(),
            Self::Country => p.country.as_deref(),
            Self::Workplace => p.workplace.as_deref(),
            Self::Commitment => p.commitment.as_deref(),
            Self::Title => Some(p.title.as_str()),
        };
        v.filter(|s| !s.trim().is_empty())
    }
}

/// The words of a folded text.
fn words(folded: &str) -> BTreeSet<&str> {
    folded.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect()
}

/// One rule value, folded once (a title value as its words).
#[derive(Debug, Clone)]
struct Wanted {
    original: String,
    folded: String,
    words: Vec<String>,
}

/// Rules folded once, for matching many postings: each posting's value is folded once per
/// dimension, each rule value once per filter (not once per posting × value).
#[derive(Debug, Clone)]
pub struct Compiled {
    include: Vec<(Dimension, Vec<Wanted>)>,
    exclude: Vec<(Dimension, Vec<Wanted>)>,
}

impl Compiled {
    fn of(rules: &BTreeMap<Dimension, BTreeSet<String>>) -> Vec<(Dimension, Vec<Wanted>)> {
        rules
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(d, values)| {
                let wanted = values
                    .iter()
                    .map(|v| {
                        let folded = fold(v);
                        let words = words(&folded).into_iter().map(str::to_owned).collect();
                        Wanted { original: v.clone(), folded, words }
                    })
                    .collect();
                (*d, wanted)
            })
            .collect()
    }

    /// The first of `wanted` the posting's value for `dim` matches.
    fn find<'a>(dim: Dimension, p: &CatalogEntry, wanted: &'a [Wanted]) -> Option<&'a Wanted> {
        let have = fold(dim.value_of(p)?);
        match dim {
            Dimension::Title => {
                let have = words(&have);
                wanted.iter().find(|w| !w.words.is_empty() && w.words.iter().all(|x| have.contains(x.as_str())))
            }
            _ => wanted.iter().find(|w| w.folded == have),
        }
    }

    /// What the rules say of `p`: an exclusion wins; each dimension with includes must match.
    pub fn verdict(&self, p: &CatalogEntry) -> Verdict {
        for (dim, wanted) in &self.exclude {
            if let Some(w) = Self::find(*dim, p, wanted) {
                return Verdict::Excluded { dimension: *dim, value: w.original.clone() };
            }
        }
        for (dim, wanted) in &self.include {
            if Self::find(*dim, p, wanted).is_none() {
                return Verdict::NotIncluded { dimension: *dim };
            }
        }
        Verdict::Published
    }
}

/// Bounds on a filter, so that matching a 10,000-posting feed stays cheap and the connection's
/// record small: values per dimension and kind, values in all, switches.
pub const MAX_VALUES_PER_LIST: usize = 50;
pub const MAX_RULE_VALUES: usize = 300;
pub const MAX_VALUE_LEN: usize = 200;
pub const MAX_SWITCHES: usize = 2000;

/// Which bound rules went past.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TooMuch {
    #[error("at most {MAX_VALUES_PER_LIST} values in one list")]
    ValuesInAList,
    #[error("at most {MAX_RULE_VALUES} values in all")]
    Values,
    #[error("a value is longer than {MAX_VALUE_LEN} characters")]
    ValueLength,
}

/// What the filter looks at of one posting, kept from the last feed read (the Lever section
/// lists every posting of it, published or not, with why).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogEntry {
    pub id: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workplace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commitment: Option<String>,
}

impl CatalogEntry {
    pub fn of(p: &Posting) -> Self {
        Self {
            id: p.external_id.to_string(),
            title: p.title.clone(),
            team: p.category.clone(),
            department: p.extra.get("department").cloned(),
            city: p.location.city.clone(),
            country: p.location.country.clone(),
            workplace: p.location.remote.clone(),
            commitment: p.employment_type.clone(),
        }
    }
}

/// Case- and accent-insensitive form: "São Paulo" and "SAO PAULO" are one value.
pub fn fold(s: &str) -> String {
    s.nfd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Include and exclude rules: each dimension a set of values. Empty includes mean every posting;
/// a posting must match one value of every dimension that has includes; any exclusion wins.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rules {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub include: BTreeMap<Dimension, BTreeSet<String>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub exclude: BTreeMap<Dimension, BTreeSet<String>>,
}

/// One posting switched on or off by a person, beating the rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Switch {
    pub on: bool,
    pub by: String,
    pub at_ms: i64,
}

/// A change of the filter, kept for "who changed what, when".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilterChange {
    pub version: u64,
    pub by: String,
    pub at_ms: i64,
    pub what: String,
}

/// The changes a filter keeps (the newest).
pub const HISTORY: usize = 20;

/// A connection's job filter: rules, switches, and its history.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobFilter {
    #[serde(default)]
    pub rules: Rules,
    /// Posting id → its switch.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub switches: BTreeMap<String, Switch>,
    /// 0 for a filter never changed; each change adds one (an optimistic write states it).
    #[serde(default)]
    pub version: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<FilterChange>,
}

/// Why a posting is, or is not, published to XOR.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Verdict {
    /// No rule holds it back.
    Published,
    /// Switched on by a person (whatever the rules say).
    SwitchedOn { by: String },
    /// An exclusion matched.
    Excluded { dimension: Dimension, value: String },
    /// A dimension with includes, none of them matching.
    NotIncluded { dimension: Dimension },
    /// Switched off by a person.
    SwitchedOff { by: String },
}

impl Verdict {
    pub fn publishes(&self) -> bool {
        matches!(self, Self::Published | Self::SwitchedOn { .. })
    }

    /// In words, for the plan and the page (`filtered: team "Finance" excluded`).
    pub fn reason(&self) -> String {
        match self {
            Self::Published => "published".into(),
            Self::SwitchedOn { by } => format!("switched on by {by}"),
            Self::Excluded { dimension, value } => format!("filtered: {} \"{value}\" excluded", dimension.as_str()),
            Self::NotIncluded { dimension } => format!("filtered: {} not among those included", dimension.as_str()),
            Self::SwitchedOff { by } => format!("switched off by {by}"),
        }
    }
}

impl Rules {
    pub fn is_empty(&self) -> bool {
        self.include.values().all(BTreeSet::is_empty) && self.exclude.values().all(BTreeSet::is_empty)
    }

    /// What the rules alone say of `p` (for many postings, [`Rules::compile`] once).
    pub fn verdict(&self, p: &CatalogEntry) -> Verdict {
        self.compile().verdict(p)
    }

    pub fn compile(&self) -> Compiled {
        Compiled { include: Compiled::of(&self.include), exclude: Compiled::of(&self.exclude) }
    }

    /// Within the bounds ([`MAX_VALUES_PER_LIST`], [`MAX_RULE_VALUES`], [`MAX_VALUE_LEN`]), or which not.
    pub fn check_bounds(&self) -> Result<(), TooMuch> {
        let lists = self.include.values().chain(self.exclude.values());
        let mut total = 0;
        for l in lists {
            total += l.len();
            if l.len() > MAX_VALUES_PER_LIST {
                return Err(TooMuch::ValuesInAList);
            }
            if l.iter().any(|v| v.len() > MAX_VALUE_LEN) {
                return Err(TooMuch::ValueLength);
            }
        }
        if total > MAX_RULE_VALUES {
            return Err(TooMuch::Values);
        }
        Ok(())
    }
}

/// A filter ready to judge many postings (its rules folded once).
pub struct Judge<'a> {
    filter: &'a JobFilter,
    rules: Compiled,
}

impl Judge<'_> {
    pub fn verdict_of(&self, p: &CatalogEntry) -> Verdict {
        match self.filter.switches.get(&p.id) {
            Some(s) if s.on => Verdict::SwitchedOn { by: s.by.clone() },
            Some(s) => Verdict::SwitchedOff { by: s.by.clone() },
            None => self.rules.verdict(p),
        }
    }
}

impl JobFilter {
    /// The rules' verdict with the posting's switch applied (the switch beats the rules).
    pub fn verdict(&self, p: &Posting) -> Verdict {
        self.verdict_of(&CatalogEntry::of(p))
    }

    /// The same, of a posting as the catalog keeps it (for many, [`JobFilter::judge`] once).
    pub fn verdict_of(&self, p: &CatalogEntry) -> Verdict {
        self.judge().verdict_of(p)
    }

    /// The filter with its rules folded once, to judge a whole feed.
    pub fn judge(&self) -> Judge<'_> {
        Judge { filter: self, rules: self.rules.compile() }
    }

    /// Records a change (the version goes up; the history keeps the newest [`HISTORY`]).
    pub fn changed(&mut self, by: &str, at_ms: i64, what: impl Into<String>) {
        self.version += 1;
        self.history.push(FilterChange { version: self.version, by: by.to_owned(), at_ms, what: what.into() });
        let extra = self.history.len().saturating_sub(HISTORY);
        self.history.drain(..extra);
    }
}

/// The values present in `postings` for each dimension (title aside), folded-distinct, in the
/// first spelling seen, sorted: what the page's selects offer.
pub fn values_present<'a>(postings: impl IntoIterator<Item = &'a CatalogEntry>) -> BTreeMap<Dimension, Vec<String>> {
    let mut seen: BTreeMap<Dimension, BTreeMap<String, String>> = BTreeMap::new();
    for p in postings {
        for dim in Dimension::ALL.into_iter().filter(|d| *d != Dimension::Title) {
            if let Some(v) = dim.value_of(p) {
                seen.entry(dim).or_default().entry(fold(v)).or_insert_with(|| v.to_owned());
            }
        }
    }
    seen.into_iter().map(|(d, m)| (d, m.into_values().collect())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Location, PostingId};

    fn posting(id: &str, title: &str, team: &str, city: &str) -> Posting {
        Posting {
            source: "lever".into(),
            external_id: PostingId::parse(id).unwrap(),
            title: title.into(),
            description_html: None,
            company: None,
            location: Location { city: Some(city.into()), country: Some("BR".into()), ..Default::default() },
            employment_type: Some("Full-time".into()),
            category: Some(team.into()),
            apply_url: None,
            posting_url: None,
            posted_at: None,
            extra: [("department".to_owned(), "Operations".to_owned())].into(),
        }
    }

    fn set(v: &[&str]) -> BTreeSet<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn values_match_without_case_or_accents() {
        let p = posting("p1", "Técnico de Campo", "Field Ops", "São Paulo");
        let rules = Rules { include: [(Dimension::City, set(&["SAO PAULO"]))].into(), ..Default::default() };
        assert_eq!(rules.verdict(&CatalogEntry::of(&p)), Verdict::Published);
        let rules = Rules { include: [(Dimension::Title, set(&["tecnico"]))].into(), ..Default::default() };
        assert_eq!(rules.verdict(&CatalogEntry::of(&p)), Verdict::Published, "a title word, accents ignored");
        let rules = Rules { include: [(Dimension::Title, set(&["tec"]))].into(), ..Default::default() };
        assert_eq!(
            rules.verdict(&CatalogEntry::of(&p)),
            Verdict::NotIncluded { dimension: Dimension::Title },
            "whole words only"
        );
    }

    #[test]
    fn exclusions_win_and_switches_beat_the_rules() {
        let p = posting("p1", "VP of Finance", "Finance", "Berlin");
        let rules = Rules {
            include: [(Dimension::City, set(&["berlin"]))].into(),
            exclude: [(Dimension::Team, set(&["finance"]))].into(),
        };
        let excluded = Verdict::Excluded { dimension: Dimension::Team, value: "finance".into() };
        assert_eq!(rules.verdict(&CatalogEntry::of(&p)), excluded);
        assert_eq!(excluded.reason(), "filtered: team \"finance\" excluded");
        let mut f = JobFilter { rules, ..Default::default() };
        f.switches.insert("p1".into(), Switch { on: true, by: "grace@acme.example".into(), at_ms: 1 });
        assert!(f.verdict(&p).publishes(), "switched on beats an exclusion");
        let q = posting("p2", "Driver", "Field Ops", "Berlin");
        assert!(f.verdict(&q).publishes());
        f.switches.insert("p2".into(), Switch { on: false, by: "grace@acme.example".into(), at_ms: 2 });
        assert_eq!(f.verdict(&q).reason(), "switched off by grace@acme.example");
    }

    #[test]
    fn a_posting_without_the_value_is_not_included_but_never_excluded() {
        let mut p = posting("p1", "Driver", "Field Ops", "Berlin");
        p.extra.clear();
        let inc = Rules { include: [(Dimension::Department, set(&["Operations"]))].into(), ..Default::default() };
        assert!(!inc.verdict(&CatalogEntry::of(&p)).publishes());
        let exc = Rules { exclude: [(Dimension::Department, set(&["Operations"]))].into(), ..Default::default() };
        assert!(exc.verdict(&CatalogEntry::of(&p)).publishes());
    }

    #[test]
    fn rules_have_bounds() {
        let many: BTreeSet<String> = (0..=MAX_VALUES_PER_LIST).map(|i| format!("v{i}")).collect();
        let r = Rules { include: [(Dimension::City, many)].into(), ..Default::default() };
        assert_eq!(r.check_bounds(), Err(TooMuch::ValuesInAList));
        let long = Rules {
            exclude: [(Dimension::Title, set(&[&"x".repeat(MAX_VALUE_LEN + 1)]))].into(),
            ..Default::default()
        };
        assert_eq!(long.check_bounds(), Err(TooMuch::ValueLength));
        let mut wide = Rules::default();
        for d in Dimension::ALL {
            wide.include.insert(d, (0..45).map(|i| format!("{i}")).collect());
        }
        assert_eq!(wide.check_bounds(), Err(TooMuch::Values));
        assert_eq!(Rules::default().check_bounds(), Ok(()));
    }

    #[test]
    fn the_history_keeps_the_newest_changes() {
        let mut f = JobFilter::default();
        for i in 0..25 {
            f.changed("ops", i, format!("change {i}"));
        }
        assert_eq!(f.version, 25);
        assert_eq!(f.history.len(), HISTORY);
        assert_eq!(f.history.last().unwrap().what, "change 24");
    }

    #[test]
    fn the_selects_offer_each_value_once() {
        let a = posting("p1", "A", "Field Ops", "São Paulo");
        let b = posting("p2", "B", "field ops", "Sao Paulo");
        let v = values_present([&CatalogEntry::of(&a), &CatalogEntry::of(&b)]);
        assert_eq!(v[&Dimension::Team], ["Field Ops"]);
        assert_eq!(v[&Dimension::City], ["São Paulo"]);
        assert!(!v.contains_key(&Dimension::Title));
    }
}
