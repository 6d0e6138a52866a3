//! The loaders of correspondence tables ([`ConceptMap`]): INSEE's official
//! files and a generic mapping CSV.
//!
//! | loader | file | layout |
//! |---|---|---|
//! | `insee-naf1-naf2` | `table_NAF1-NAF2.xls` | columns found by content: NAF rév. 1 code (`NN.NL`), NAF rév. 2 code (`NN.NNL`), link type `CC` (main), `CA` (secondary), `NC` (no correspondence), labels next to the codes |
//! | `insee-naf2-naf2025` | `table-correspondance-naf2025.xls`, `Correspondances_NAFrev2-NAF2025.xlsx`, or its flat CSV `data/official/naf2025/correspondances_2008_2025.csv` | header `NAFold-code` (or `code_2008`), `NAFold-intitulé` (`libelle_2008`), `NAFnew-code` (`code_2025`), and in the CSV `contenu_commun`, what part of the old sous-classe goes to the new one; one old code on several rows when it splits |
//! | `insee-pcs2003-2020` | `PCS2003_to_2020.csv` | `PCS2003;PCS2020;pct`, `pct` a share in percent, `a` or `ns` |
//! | `mapping-csv` | any CSV | `source_code`, `source_label`, `target_system`, `target_code`, `equivalence` (`equivalent`, `wider`, `narrower`, `inexact`), optional `reason` (why the link holds, kept as the target's note) |
//!
//! Source codes are keyed by their compact form (upper case, no dots or
//! spaces), so that every spelling of an old code finds its element.

use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::model::map::{ConceptMap, Equivalence, Target, compact};
use crate::table::{CsvOptions, TableReader};

/// The loaders of correspondence tables, by their name in `sources.toml`
/// (see the module table).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MapLoader {
    /// `insee-naf1-naf2`.
    #[serde(rename = "insee-naf1-naf2")]
    InseeNaf1Naf2,
    /// `insee-naf2-naf2025`.
    #[serde(rename = "insee-naf2-naf2025")]
    InseeNaf2Naf2025,
    /// `insee-pcs2003-2020`.
    #[serde(rename = "insee-pcs2003-2020")]
    InseePcs2003To2020,
    /// `mapping-csv`.
    MappingCsv,
}

impl std::fmt::Display for MapLoader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&toml::Value::try_from(self).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default())
    }
}

impl ConceptMap {
    /// Reads a table with `loader` (see the module table).
    pub fn load(
        loader: MapLoader,
        path: &Path,
        id: &str,
        title: &str,
        source: &str,
        target: &str,
    ) -> Result<ConceptMap> {
        let mut map = ConceptMap::new(id, title, source, target);
        let context = || format!("{} (loader {loader})", path.display());
        match loader {
            MapLoader::InseeNaf1Naf2 => map.read_naf1_naf2(path).with_context(context)?,
            MapLoader::InseeNaf2Naf2025 => map.read_naf2_naf2025(path).with_context(context)?,
            MapLoader::InseePcs2003To2020 => map.read_pcs2003_2020(path).with_context(context)?,
            MapLoader::MappingCsv => map.read_mapping_csv(path).with_context(context)?,
        }
        if map.elements.is_empty() {
            bail!("{}: no correspondence read; check the file against the layout of loader {loader}", path.display());
        }
        Ok(map)
    }

    fn read_naf1_naf2(&mut self, path: &Path) -> Result<()> {
        let table = TableReader::open(path, CsvOptions::project_file())?;
        let rows: Vec<Vec<String>> = std::iter::once(Ok(table.header().to_vec()))
            .chain(table.map(|r| r.map(|r| r.fields)))
            .collect::<Result<_>>()?;
        let width = rows.iter().map(Vec::len).max().unwrap_or(0);
        let share = |pred: &dyn Fn(&str) -> bool, col: usize| {
            let vals: Vec<&str> =
                rows.iter().filter_map(|r| r.get(col)).map(|s| s.trim()).filter(|s| !s.is_empty()).collect();
            if vals.is_empty() { 0.0 } else { vals.iter().filter(|v| pred(v)).count() as f64 / vals.len() as f64 }
        };
        let rev1 = |s: &str| {
            let c = compact(s);
            c.len() == 4
                && c[..3].bytes().all(|b| b.is_ascii_digit())
                && c.as_bytes()[3].is_ascii_uppercase()
                && s.contains('.')
        };
        let rev2 = |s: &str| crate::codes::CodeSyntax::Naf.canonical(s).is_some_and(|c| c.len() == 6) && !rev1(s);
        let link = |s: &str| matches!(s.trim().to_uppercase().as_str(), "CC" | "CA" | "NC");
        let best = |pred: &dyn Fn(&str) -> bool| {
            (0..width).max_by(|&a, &b| share(pred, a).total_cmp(&share(pred, b))).filter(|&c| share(pred, c) > 0.5)
        };
        let (Some(c1), Some(c2)) = (best(&rev1), best(&rev2)) else {
            bail!("no column of NAF rév. 1 codes (NN.NL) and NAF rév. 2 codes (NN.NNL) found");
        };
        let cl = best(&link);
        let label =
            |row: &Vec<String>, col: usize| row.get(col + 1).filter(|s| !rev1(s) && !rev2(s) && !link(s)).cloned();
        for row in &rows {
            let (Some(src), Some(dst)) = (row.get(c1), row.get(c2)) else { continue };
            if !rev1(src) {
                continue;
            }
            let kind = cl.and_then(|c| row.get(c)).map(|s| s.trim().to_uppercase()).unwrap_or_else(|| "CC".into());
            let target = match kind.as_str() {
                "NC" => None,
                _ if !rev2(dst) => None,
                "CA" => {
                    Some(Target { code: dst.trim().into(), equivalence: Equivalence::Inexact, share: None, note: None })
                }
                _ => Some(Target {
                    code: dst.trim().into(),
                    equivalence: Equivalence::Equivalent,
                    share: None,
                    note: None,
                }),
            };
            self.add(src, label(row, c1), target);
        }
        // A source with several main links is split: its targets are narrower.
        for e in self.elements.values_mut() {
            if e.targets.iter().filter(|t| t.equivalence == Equivalence::Equivalent).count() > 1 {
                for t in e.targets.iter_mut().filter(|t| t.equivalence == Equivalence::Equivalent) {
                    t.equivalence = Equivalence::Narrower;
                }
            }
        }
        Ok(())
    }

    fn read_naf2_naf2025(&mut self, path: &Path) -> Result<()> {
        let mut table = TableReader::open(path, CsvOptions::project_file())?;
        let col = |t: &TableReader, names: &[&str]| names.iter().find_map(|n| t.column(n).ok());
        let (Some(old), Some(new)) = (
            col(&table, &["NAFold-code", "NAF old code", "code_2008"]),
            col(&table, &["NAFnew-code", "NAF new code", "code_2025"]),
        ) else {
            bail!(
                "expected the columns NAFold-code and NAFnew-code (or code_2008 and code_2025); found {:?}",
                table.header()
            );
        };
        let old_label = col(&table, &["NAFold-intitulé", "NAFold-intitule", "libelle_2008"]);
        let common = col(&table, &["contenu_commun"]);
        for row in table.by_ref() {
            let row = row?;
            let (Some(src), Some(dst)) = (row.fields.get(old), row.fields.get(new)) else { continue };
            if src.trim().is_empty() {
                continue;
            }
            let target = (!dst.trim().is_empty()).then(|| Target {
                code: dst.trim().into(),
                equivalence: Equivalence::Equivalent,
                share: None,
                note: common
                    .and_then(|c| row.fields.get(c))
                    .map(|s| s.trim())
                    .filter(|s| !s.is_empty())
                    .map(String::from),
            });
            self.add(src, old_label.and_then(|c| row.fields.get(c).cloned()), target);
        }
        // A split's targets are narrower; a target that several old codes
        // merge into is wider than each of them.
        let mut sources_of: std::collections::HashMap<String, usize> = Default::default();
        for e in self.elements.values() {
            for t in &e.targets {
                *sources_of.entry(compact(&t.code)).or_default() += 1;
            }
        }
        for e in self.elements.values_mut() {
            let split = e.targets.len() > 1;
            for t in e.targets.iter_mut() {
                t.equivalence = match (split, sources_of[&compact(&t.code)] > 1) {
                    (true, _) => Equivalence::Narrower,
                    (false, true) => Equivalence::Wider,
                    (false, false) => Equivalence::Equivalent,
                };
            }
        }
        Ok(())
    }

    fn read_pcs2003_2020(&mut self, path: &Path) -> Result<()> {
        let mut table = TableReader::open(path, CsvOptions::project_file())?;
        let (src, dst, pct) = (table.column("PCS2003")?, table.column("PCS2020")?, table.column("pct")?);
        for row in table.by_ref() {
            let row = row?;
            let (Some(s), Some(d)) = (row.fields.get(src), row.fields.get(dst)) else { continue };
            if s.trim().is_empty() || d.trim().is_empty() {
                continue;
            }
            let share = row
                .fields
                .get(pct)
                .and_then(|p| p.trim().replace(',', ".").parse::<f32>().ok())
                .map(|p| (p / 100.0).clamp(0.0, 1.0));
            let equivalence =
                if share.is_some_and(|s| s >= 0.999) { Equivalence::Equivalent } else { Equivalence::Narrower };
            self.add(s, None, Some(Target { code: d.trim().into(), equivalence, share, note: None }));
        }
        Ok(())
    }

    fn read_mapping_csv(&mut self, path: &Path) -> Result<()> {
        let mut table = TableReader::open(path, CsvOptions::project_file())?;
        let (src, label, system, dst, eq) = (
            table.column("source_code")?,
            table.column("source_label")?,
            table.column("target_system")?,
            table.column("target_code")?,
            table.column("equivalence")?,
        );
        // Why the link holds, in a file the project writes.
        let reason = table.header().iter().position(|h| h.trim() == "reason");
        for row in table.by_ref() {
            let row = row?;
            let get = |i: usize| row.fields.get(i).map(|s| s.trim()).unwrap_or_default();
            if get(src).is_empty() {
                continue;
            }
            if !get(system).is_empty() && !get(system).eq_ignore_ascii_case(&self.target) {
                bail!(
                    "line {}: target_system {:?} is not this mapping's target {:?}",
                    row.line,
                    get(system),
                    self.target
                );
            }
            let equivalence = match get(eq).to_lowercase().as_str() {
                "" | "equivalent" | "equal" => Equivalence::Equivalent,
                "wider" => Equivalence::Wider,
                "narrower" => Equivalence::Narrower,
                "inexact" | "relatedto" | "related" => Equivalence::Inexact,
                other => {
                    bail!("line {}: equivalence {other:?} is not equivalent, wider, narrower or inexact", row.line)
                }
            };
            let note = reason.map(get).filter(|r| !r.is_empty()).map(str::to_string);
            let target =
                (!get(dst).is_empty()).then(|| Target { code: get(dst).into(), equivalence, share: None, note });
            self.add(get(src), Some(get(label).to_string()), target);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> std::path::PathBuf {
        Path::new("tests/fixtures").join(name)
    }

    #[test]
    fn reads_the_insee_naf1_naf2_table_with_link_types() {
        let m = ConceptMap::load(
            MapLoader::InseeNaf1Naf2,
            &fixture("table_NAF1-NAF2.xls"),
            "naf1",
            "t",
            "naf-rev1",
            "naf-2008",
        )
        .unwrap();
        let e = m.get("158C").unwrap();
        assert_eq!((e.code.as_str(), e.display.as_deref()), ("15.8C", Some("Boulangerie et boulangerie-pâtisserie")));
        assert_eq!(
            e.targets,
            [Target { code: "10.71C".into(), equivalence: Equivalence::Equivalent, share: None, note: None }]
        );
        let split: Vec<(&str, Equivalence)> =
            m.get("55.3B").unwrap().targets.iter().map(|t| (t.code.as_str(), t.equivalence)).collect();
        assert_eq!(split, [("56.10C", Equivalence::Narrower), ("56.10B", Equivalence::Narrower)]);
        let secondary = &m.get("52.2C").unwrap().targets;
        assert_eq!(secondary[1].equivalence, Equivalence::Inexact);
        assert!(m.get("99.9Z").unwrap().targets.is_empty(), "NC: no correspondence");
    }

    #[test]
    fn reads_the_naf2025_correspondence_and_splits() {
        let m = ConceptMap::load(
            MapLoader::InseeNaf2Naf2025,
            &fixture("Correspondances_NAFrev2-NAF2025.xlsx"),
            "n25",
            "t",
            "naf-2008",
            "naf-2025",
        )
        .unwrap();
        assert_eq!(m.get("1071C").unwrap().targets[0].code, "10.71C");
        let t: Vec<&str> = m.get("47.91B").unwrap().targets.iter().map(|t| t.code.as_str()).collect();
        assert_eq!(t, ["47.12B", "47.11F"]);
    }

    #[test]
    fn reads_the_official_naf2008_2025_csv_with_what_goes_where() {
        let path = Path::new("data/official/naf2025/correspondances_2008_2025.csv");
        let m = ConceptMap::load(MapLoader::InseeNaf2Naf2025, path, "n25", "t", "naf-2008", "naf-2025").unwrap();
        assert_eq!(m.elements.len(), 732);
        assert_eq!(m.elements.values().map(|e| e.targets.len()).sum::<usize>(), 1223);
        assert_eq!(m.elements.values().filter(|e| e.targets.len() > 1).count(), 212);
        let split = m.get("01.19Z").unwrap();
        let codes: Vec<&str> = split.targets.iter().map(|t| t.code.as_str()).collect();
        assert_eq!(codes, ["01.13Y", "01.19Y"]);
        assert!(split.targets[0].note.as_deref().unwrap().contains("betteraves fourragères"));
        assert!(split.targets.iter().all(|t| t.equivalence == Equivalence::Narrower));
        let one = m.get("01.11Z").unwrap();
        assert_eq!((one.targets.len(), one.targets[0].equivalence), (1, Equivalence::Equivalent));
        // 01.13Z is one of several old codes merged into 01.13Y.
        assert_eq!(m.get("01.13Z").unwrap().targets[0].equivalence, Equivalence::Wider);
    }

    #[test]
    fn reads_pcs_shares_including_a_and_ns() {
        let m = ConceptMap::load(
            MapLoader::InseePcs2003To2020,
            &fixture("PCS2003_to_2020.csv"),
            "p",
            "t",
            "pcs-2003",
            "pcs-2020",
        )
        .unwrap();
        assert_eq!(m.get("526A").unwrap().targets[0].equivalence, Equivalence::Equivalent);
        let shares: Vec<Option<f32>> = m.get("431f").unwrap().targets.iter().map(|t| t.share).collect();
        assert_eq!(shares, [Some(0.87), Some(0.13)]);
        assert_eq!(m.get("563a").unwrap().targets[0].share, None);
        assert_eq!(m.get("553a").unwrap().targets[0].share, None);
    }

    #[test]
    fn reads_a_generic_mapping_and_checks_its_target() {
        let m = ConceptMap::load(MapLoader::MappingCsv, &fixture("mapping_amt.csv"), "amt", "t", "amt", "naf-2008")
            .unwrap();
        assert_eq!(m.get("amt-001").unwrap().targets[0].code, "10.71C");
        assert_eq!(m.get("AMT-003").unwrap().targets.len(), 2);
        assert!(m.get("AMT-004").unwrap().targets.is_empty());
        let err = ConceptMap::load(MapLoader::MappingCsv, &fixture("mapping_amt.csv"), "amt", "t", "amt", "pcs-2003")
            .unwrap_err();
        assert!(format!("{err:#}").contains("line 2"), "{err:#}");
    }
}
