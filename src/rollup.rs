//! Roll-ups for statisticians: counts by code, aggregated at a level of the
//! hierarchy (NAF section, CIM-10 chapter, PCS groupe…), with the codes that
//! cannot be placed kept apart, never dropped.

use std::collections::BTreeMap;
use std::io::Read;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::index::{ConceptRef, Snapshot};
use crate::table::{Row, TableReader};

/// One count to roll up.
#[derive(Clone, Debug, Deserialize, ToSchema)]
pub struct Item {
    /// A code in any spelling.
    pub code: String,
    /// How many.
    pub count: u64,
}

/// Counts of one concept of the asked level.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Group {
    /// Code of the group.
    pub code: String,
    /// Label of the group.
    pub display: String,
    /// Sum of the counts placed in it.
    pub count: u64,
}

/// Counts that could not be placed, by code as given.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Unplaced {
    /// The code as given.
    pub code: String,
    /// Its count.
    pub count: u64,
    /// Why it could not be placed.
    pub reason: String,
}

/// The result of a roll-up.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Rollup {
    /// Id of the system.
    pub system: String,
    /// Name of the level.
    pub level: String,
    /// Concepts of the level, in code order, with their counts.
    pub groups: Vec<Group>,
    /// Codes that could not be placed, with why.
    pub unplaced: Vec<Unplaced>,
    /// Sum of all counts given.
    pub total: u64,
    /// Sum of the counts placed in groups.
    pub placed: u64,
}

/// Aggregates `items` of `system` at `level`. Counts that add up past
/// `u64::MAX` are refused (an error), never wrapped.
pub fn rollup(snap: &Snapshot, system: usize, level: u8, items: impl IntoIterator<Item = Item>) -> Result<Rollup> {
    let sys = &snap.systems[system];
    let mut groups: BTreeMap<ConceptRef, u64> = BTreeMap::new();
    let mut unplaced: BTreeMap<(String, String), u64> = BTreeMap::new();
    let (mut total, mut placed) = (0u64, 0u64);
    let add = |sum: &mut u64, n: u64| -> Result<()> {
        *sum = sum.checked_add(n).context(
            "les effectifs dépassent 2^64 / the counts add up to more than 2^64 - 1: check the count column",
        )?;
        Ok(())
    };
    for item in items {
        add(&mut total, item.count)?;
        let reason = match snap.lookup(system, &item.code) {
            None if sys.syntax.canonical(&item.code).is_none() => format!("not shaped like a {} code", sys.id),
            None => format!("not a code of {}", sys.id),
            Some(r) if snap.concept(r).level < level => format!("above the level {}", sys.levels[usize::from(level)]),
            Some(r) => {
                let at_level = std::iter::once(r)
                    .chain(snap.ancestors(r).into_iter().rev())
                    .find(|&a| snap.concept(a).level == level);
                match at_level {
                    Some(g) => {
                        add(groups.entry(g).or_default(), item.count)?;
                        add(&mut placed, item.count)?;
                        continue;
                    }
                    // A CIM-10 category outside any block has no bloc ancestor.
                    None => format!("has no ancestor at the level {}", sys.levels[usize::from(level)]),
                }
            }
        };
        add(unplaced.entry((item.code.trim().to_string(), reason)).or_default(), item.count)?;
    }
    Ok(Rollup {
        system: sys.id.clone(),
        level: sys.levels[usize::from(level)].clone(),
        groups: groups
            .into_iter()
            .map(|(r, count)| Group {
                code: snap.concept(r).code.clone(),
                display: snap.concept(r).display.clone(),
                count,
            })
            .collect(),
        unplaced: unplaced.into_iter().map(|((code, reason), count)| Unplaced { code, count, reason }).collect(),
        total,
        placed,
    })
}

/// Reads `code,count` rows with [`crate::table::TableReader`] (any
/// separator and encoding; a header line is recognised by its non-numeric
/// count). Errors name the line.
pub fn read_csv(input: impl Read + Send + 'static) -> Result<Vec<Item>> {
    let mut table = TableReader::from_reader(input, crate::table::CsvOptions::user(None))?;
    let header = Row { line: 1, fields: table.header().to_vec(), problem: None };
    let first_is_data = header.fields.get(1).is_some_and(|c| c.trim().parse::<u64>().is_ok());
    let mut items = Vec::new();
    let rows = first_is_data.then_some(Ok(header)).into_iter().chain(table.by_ref());
    for row in rows {
        let row = row?;
        if row.fields.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        let code = row.fields.first().map(|c| c.trim()).unwrap_or_default();
        let count = row.fields.get(1).map(|c| c.trim()).unwrap_or_default();
        match count.parse::<u64>() {
            Ok(n) => items.push(Item { code: code.to_string(), count: n }),
            Err(_) => bail!(
                "line {}: the count {count:?} is not a whole number (expected: code{}count)",
                row.line,
                table.delimiter as char
            ),
        }
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_csv_with_header_and_any_separator() {
        let items = read_csv("code;count\nM545;3\n\nJ45;2\n".as_bytes()).unwrap();
        assert_eq!(items.iter().map(|i| (i.code.as_str(), i.count)).collect::<Vec<_>>(), [("M545", 3), ("J45", 2)]);
        let items = read_csv("10.71C,5\n".as_bytes()).unwrap();
        assert_eq!(items[0].count, 5);
        let err = read_csv("code,count\nM545,three\n".as_bytes()).unwrap_err().to_string();
        assert!(err.contains("line 2"), "{err}");
    }
}
