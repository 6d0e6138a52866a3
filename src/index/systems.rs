//! Naming systems and their versions: a name (id, alias, family) resolved
//! on a date, the error that lists the systems when it names none, and what
//! replaces the codes of a version retired on that date.

use super::{ConceptRef, Snapshot};

/// A system name that names no served system: one wording everywhere (API,
/// validation, recoding, evaluation), with the names that exist.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("Système inconnu / unknown system {name:?}. Systèmes / systems: {known}")]
pub struct UnknownSystem {
    /// The name asked for.
    pub name: String,
    /// The systems served, with their aliases.
    pub known: String,
}

/// A level name or depth that names no level of a system, with the levels
/// it has.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("niveau inconnu / unknown level {level:?} for {system}; niveaux / levels: {known}")]
pub struct UnknownLevel {
    /// The level asked for.
    pub level: String,
    /// Id of the system.
    pub system: String,
    /// Its levels, with their depths.
    pub known: String,
}

impl Snapshot {
    /// The depth of a level of `system`, named (any case) or by number.
    pub fn resolve_level(&self, system: usize, level: &str) -> Result<u8, UnknownLevel> {
        let levels = &self.systems[system].levels;
        let found = match level.trim().parse::<usize>() {
            Ok(n) if n < levels.len() => Some(n),
            Ok(_) => None,
            Err(_) => levels.iter().position(|l| l.eq_ignore_ascii_case(level.trim())),
        };
        found.map(|n| n as u8).ok_or_else(|| UnknownLevel {
            level: level.to_string(),
            system: self.systems[system].id.clone(),
            known: levels.iter().enumerate().map(|(i, l)| format!("{i} {l}")).collect::<Vec<_>>().join(", "),
        })
    }

    /// The system named `name` today, or the error that lists the systems.
    pub fn resolve_system(&self, name: &str) -> Result<usize, UnknownSystem> {
        self.system_index(name).ok_or_else(|| self.unknown_system(name))
    }

    /// [`Snapshot::resolve_system`] on `date`.
    pub fn resolve_system_as_of(&self, name: &str, date: &str) -> Result<usize, UnknownSystem> {
        self.system_index_as_of(name, date).ok_or_else(|| self.unknown_system(name))
    }

    fn unknown_system(&self, name: &str) -> UnknownSystem {
        UnknownSystem { name: name.to_string(), known: self.system_names() }
    }

    /// Index of the system named `name` (its id or an alias, any case; its
    /// canonical URL or former URN, exactly); a
    /// family name (`tep`, `naf`) resolves to its version of today (see
    /// [`Snapshot::system_index_as_of`]).
    pub fn system_index(&self, name: &str) -> Option<usize> {
        self.named_index(name).or_else(|| self.family_version_on(name, &crate::clock::today()))
    }

    /// The index of the system whose id or alias (any case), canonical URL
    /// or former URN (exactly) is `name`.
    fn named_index(&self, name: &str) -> Option<usize> {
        let name = name.trim();
        self.systems.iter().position(|s| {
            s.id.eq_ignore_ascii_case(name)
                || s.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
                || s.url == name
                || s.url_aliases.iter().any(|u| u == name)
        })
    }

    /// [`Snapshot::system_index`] on `date` (`YYYY-MM-DD`): a family name
    /// resolves to the version with the latest `default_from` on or before
    /// the date, else to the one marked `default`. An id or alias always
    /// names its own version.
    pub fn system_index_as_of(&self, name: &str, date: &str) -> Option<usize> {
        self.named_index(name).or_else(|| self.family_version_on(name, date))
    }

    /// The version of the family `name` in force on `date`: the one with
    /// the latest `default_from` on or before it, else the one marked
    /// `default`.
    fn family_version_on(&self, name: &str, date: &str) -> Option<usize> {
        let name = name.trim();
        let family = || {
            (0..self.systems.len())
                .filter(move |&i| self.systems[i].family.as_deref().is_some_and(|f| f.eq_ignore_ascii_case(name)))
        };
        let dated = family()
            .filter(|&i| self.systems[i].default_from.as_deref().is_some_and(|d| d <= date))
            .max_by(|&a, &b| self.systems[a].default_from.cmp(&self.systems[b].default_from));
        dated.or_else(|| family().find(|&i| self.systems[i].default))
    }

    /// Finds `code` in the system `name` names on `date`: in the version in
    /// force that day, or, when a family name was given and that version
    /// lacks the code, in an earlier version of the family the date has
    /// replaced (NAF 2008's `01.19Z` as of 2027-03-01). Returns the concept
    /// and whether it is retired on that date.
    pub fn lookup_as_of(&self, name: &str, code: &str, date: &str) -> Option<(ConceptRef, bool)> {
        let s = self.system_index_as_of(name, date)?;
        if let Some(r) = self.lookup(s, code) {
            return Some((r, self.is_retired_on(s, date)));
        }
        let family = self.systems[s].family.as_deref().filter(|f| f.eq_ignore_ascii_case(name.trim()))?;
        (0..self.systems.len())
            .filter(|&o| o != s && self.systems[o].family.as_deref() == Some(family) && self.is_retired_on(o, date))
            .find_map(|o| self.lookup(o, code))
            .map(|r| (r, true))
    }

    /// The codes that replace `r` through the correspondence tables from its
    /// system to another version of its family, with the table's link.
    pub fn replacements(&self, r: ConceptRef) -> Vec<(ConceptRef, &crate::model::map::Target)> {
        let s = self.system_index_of(r);
        let Some(family) = self.systems[s].family.as_deref() else { return Vec::new() };
        let code = &self.concept(r).code;
        let mut out = Vec::new();
        for map in &self.maps {
            let (Some(from), Some(to)) = (self.system_index(&map.source), self.system_index(&map.target)) else {
                continue;
            };
            if from != s || to == s || self.systems[to].family.as_deref() != Some(family) {
                continue;
            }
            if let Some(e) = map.get(code) {
                out.extend(e.targets.iter().filter_map(|t| self.get(to, &t.code).map(|x| (x, t))));
            }
        }
        out
    }

    /// Whether system `s` is replaced on `date` (its `retired_from` is on or
    /// before it).
    pub fn is_retired_on(&self, s: usize, date: &str) -> bool {
        self.systems[s].retired_from.as_deref().is_some_and(|d| d <= date)
    }

    /// Other versions of a system's family that have this code.
    pub fn other_versions_with(&self, system: usize, code: &str) -> Vec<&str> {
        let Some(family) = &self.systems[system].family else { return Vec::new() };
        (0..self.systems.len())
            .filter(|&s| {
                s != system && self.systems[s].family.as_ref() == Some(family) && self.lookup(s, code).is_some()
            })
            .map(|s| self.systems[s].id.as_str())
            .collect()
    }

    /// Names the known systems, for error messages.
    pub fn system_names(&self) -> String {
        self.systems
            .iter()
            .map(|s| if s.aliases.is_empty() { s.id.clone() } else { format!("{} ({})", s.id, s.aliases.join(", ")) })
            .collect::<Vec<_>>()
            .join(", ")
    }
}
