//! Tabular input: the one reader of CSV/TSV and spreadsheet files.
//!
//! * CSV/TSV in UTF-8, UTF-8 with BOM or Windows-1252/Latin-1 (detected on
//!   the first 64 KiB; a UTF-8 file with stray invalid bytes is decoded
//!   lossily and the row flagged), `;`, `,` or tab (detected on the first
//!   line outside quotes, or given), quoted fields with separators and line
//!   breaks inside; leading lines starting with `#` are comments. Read as a
//!   stream: memory does not grow with the file.
//! * XLSX/XLS/ODS through calamine (first sheet, or a named one).
//!
//! Guarantees: every record of the input comes out once, in order, with the
//! line it starts on; a record that does not fit the header (other field
//! count, undecodable bytes) still comes out, with its problem described.

use std::io::{BufReader, Read};
use std::path::Path;

use anyhow::{Context, Result, bail};

/// How the bytes of a CSV file are to be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Utf8,
    Utf8Bom,
    Windows1252,
    /// A spreadsheet: cells are already text.
    Spreadsheet,
}

impl std::fmt::Display for Encoding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Encoding::Utf8 => "UTF-8",
            Encoding::Utf8Bom => "UTF-8 with BOM",
            Encoding::Windows1252 => "Windows-1252",
            Encoding::Spreadsheet => "spreadsheet",
        })
    }
}

/// One record.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// Line of the file where the record starts (1 = header line).
    pub line: u64,
    pub fields: Vec<String>,
    /// Why the record does not fit, if it does not.
    pub problem: Option<String>,
}

enum Source {
    /// `comments`: lines skipped before the header, added to line numbers.
    Csv {
        reader: csv::Reader<Box<dyn Read + Send>>,
        record: csv::ByteRecord,
        comments: u64,
    },
    Sheet(std::vec::IntoIter<Row>),
}

/// A table being read: its header, how it was detected, and its rows.
pub struct TableReader {
    header: Vec<String>,
    pub encoding: Encoding,
    /// The field separator (`b','` for spreadsheets).
    pub delimiter: u8,
    source: Source,
}

const SNIFF: usize = 64 * 1024;

fn sniff_encoding(sample: &[u8]) -> Encoding {
    if sample.starts_with(&[0xEF, 0xBB, 0xBF]) {
        return Encoding::Utf8Bom;
    }
    match std::str::from_utf8(sample) {
        Ok(_) => Encoding::Utf8,
        // Cut in the middle of a character at the end of the sample.
        Err(e) if e.error_len().is_none() => Encoding::Utf8,
        Err(_) => Encoding::Windows1252,
    }
}

/// The most frequent of `;`, tab and `,` on the first line, outside quotes.
fn sniff_delimiter(sample: &[u8]) -> u8 {
    let mut counts = [0usize; 3];
    let mut quoted = false;
    for &b in sample {
        match b {
            b'"' => quoted = !quoted,
            b'\n' | b'\r' if !quoted => break,
            b';' if !quoted => counts[0] += 1,
            b'\t' if !quoted => counts[1] += 1,
            b',' if !quoted => counts[2] += 1,
            _ => {}
        }
    }
    let best = (0..3).max_by_key(|&i| (counts[i], 3 - i)).unwrap_or(2);
    if counts[best] == 0 { b',' } else { [b';', b'\t', b','][best] }
}

fn decode(bytes: &[u8], encoding: Encoding, lossy: &mut bool) -> String {
    match encoding {
        Encoding::Windows1252 => encoding_rs::WINDOWS_1252.decode_without_bom_handling(bytes).0.into_owned(),
        _ => match std::str::from_utf8(bytes) {
            Ok(s) => s.to_string(),
            Err(_) => {
                *lossy = true;
                String::from_utf8_lossy(bytes).into_owned()
            }
        },
    }
}

fn cell_text(cell: &calamine::Data) -> String {
    match cell {
        calamine::Data::Empty => String::new(),
        // Integers stored as floats (`1071.0`) are written as integers.
        calamine::Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        other => other.to_string(),
    }
}

/// Parses a separator given by a user: one character, or `tab`.
pub fn parse_delimiter(text: &str) -> Result<u8> {
    match text {
        "tab" | "\\t" | "\t" => Ok(b'\t'),
        d if d.len() == 1 => Ok(d.as_bytes()[0]),
        d => bail!("the separator must be one character or 'tab', got {d:?}"),
    }
}

impl TableReader {
    /// Opens a file: a spreadsheet by its extension (`xlsx`, `xlsm`, `xls`,
    /// `ods`), else CSV/TSV.
    pub fn open(path: &Path, delimiter: Option<u8>) -> Result<TableReader> {
        let ext = path.extension().map(|e| e.to_string_lossy().to_lowercase()).unwrap_or_default();
        if matches!(ext.as_str(), "xlsx" | "xlsm" | "xls" | "xlsb" | "ods") {
            return TableReader::open_sheet(path, None);
        }
        let file = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        TableReader::from_reader(BufReader::with_capacity(256 * 1024, file), delimiter)
            .with_context(|| format!("reading {}", path.display()))
    }

    /// Reads a sheet of a workbook (the first when `sheet` is `None`); the
    /// first non-empty row is the header.
    pub fn open_sheet(path: &Path, sheet: Option<&str>) -> Result<TableReader> {
        use calamine::Reader;
        let mut wb = calamine::open_workbook_auto(path)
            .with_context(|| format!("cannot open {} as a spreadsheet", path.display()))?;
        let names = wb.sheet_names();
        let name = match sheet {
            Some(s) => names
                .iter()
                .find(|n| n.trim().eq_ignore_ascii_case(s.trim()))
                .cloned()
                .with_context(|| format!("{}: no sheet {s:?}; sheets: {}", path.display(), names.join(", ")))?,
            None => names.first().cloned().with_context(|| format!("{}: no sheet", path.display()))?,
        };
        let range =
            wb.worksheet_range(&name).with_context(|| format!("{}: cannot read sheet {name:?}", path.display()))?;
        let start_row = range.start().map(|(r, _)| r as u64).unwrap_or(0);
        let mut rows: Vec<Row> = range
            .rows()
            .enumerate()
            .map(|(i, cells)| Row {
                line: start_row + i as u64 + 1,
                fields: cells.iter().map(cell_text).collect(),
                problem: None,
            })
            .filter(|r| r.fields.iter().any(|f| !f.trim().is_empty()))
            .collect();
        if rows.is_empty() {
            bail!("{}: sheet {name:?} is empty", path.display());
        }
        let header = rows.remove(0).fields;
        Ok(TableReader {
            header,
            encoding: Encoding::Spreadsheet,
            delimiter: b',',
            source: Source::Sheet(rows.into_iter()),
        })
    }

    /// Reads CSV from any reader; the first record is the header.
    pub fn from_reader(reader: impl Read + Send + 'static, delimiter: Option<u8>) -> Result<TableReader> {
        let mut reader = reader;
        let mut sample = Vec::with_capacity(SNIFF);
        reader.by_ref().take(SNIFF as u64).read_to_end(&mut sample).context("cannot read the input")?;
        let encoding = sniff_encoding(&sample);
        if encoding == Encoding::Utf8Bom {
            sample.drain(..3);
        }
        // Leading lines starting with `#` are comments (provenance headers).
        let mut comments = 0;
        while sample.first() == Some(&b'#') {
            comments += 1;
            match sample.iter().position(|&b| b == b'\n') {
                Some(end) => drop(sample.drain(..=end)),
                None => sample.clear(),
            }
        }
        let delimiter = delimiter.unwrap_or_else(|| sniff_delimiter(&sample));
        let stream: Box<dyn Read + Send> = Box::new(std::io::Cursor::new(sample).chain(reader));
        let mut csv =
            csv::ReaderBuilder::new().has_headers(false).flexible(true).delimiter(delimiter).from_reader(stream);
        let mut record = csv::ByteRecord::new();
        let mut lossy = false;
        let header = if csv.read_byte_record(&mut record).context("cannot read the header line")? {
            record.iter().map(|f| decode(f, encoding, &mut lossy).trim().to_string()).collect()
        } else {
            Vec::new()
        };
        Ok(TableReader { header, encoding, delimiter, source: Source::Csv { reader: csv, record, comments } })
    }

    pub fn header(&self) -> &[String] {
        &self.header
    }

    /// Index of the column named `name` (any case, surrounding spaces
    /// ignored), or an error listing the columns.
    pub fn column(&self, name: &str) -> Result<usize> {
        self.header.iter().position(|h| h.trim().eq_ignore_ascii_case(name.trim())).with_context(|| {
            format!(
                "no column {name:?}; the columns are: {}",
                self.header.iter().map(|h| format!("{h:?}")).collect::<Vec<_>>().join(", ")
            )
        })
    }

    /// The next record, or `None` at the end. An I/O error ends the table
    /// with an error; a record that does not fit is returned with its
    /// problem.
    pub fn next_row(&mut self) -> Option<Result<Row>> {
        let width = self.header.len();
        let encoding = self.encoding;
        let mut row = match &mut self.source {
            Source::Sheet(rows) => rows.next()?,
            Source::Csv { reader, record, comments } => match reader.read_byte_record(record) {
                Ok(false) => return None,
                Ok(true) => {
                    let mut lossy = false;
                    let fields = record.iter().map(|f| decode(f, encoding, &mut lossy)).collect();
                    let line = record.position().map(|p| p.line()).unwrap_or(0) + *comments;
                    Row { line, fields, problem: lossy.then(|| "invalid UTF-8 bytes replaced by �".to_string()) }
                }
                Err(e) => {
                    let line = e.position().map(|p| p.line()).unwrap_or(0) + *comments;
                    return Some(Err(anyhow::anyhow!("line {line}: {e}")));
                }
            },
        };
        if row.fields.len() != width && row.problem.is_none() {
            row.problem = Some(format!("line {}: {} fields where the header has {width}", row.line, row.fields.len()));
        }
        Some(Ok(row))
    }
}

impl Iterator for TableReader {
    type Item = Result<Row>;
    fn next(&mut self) -> Option<Result<Row>> {
        self.next_row()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(bytes: &[u8]) -> (TableReader, Vec<Row>) {
        let mut t = TableReader::from_reader(std::io::Cursor::new(bytes.to_vec()), None).unwrap();
        let rows = t.by_ref().map(Result::unwrap).collect();
        (t, rows)
    }

    #[test]
    fn detects_windows_1252_and_semicolons() {
        let bytes = b"code;libell\xe9\n1071C;BOULANGERIE P\xc2TISSERIE\n";
        let (t, rows) = read(bytes);
        assert_eq!((t.encoding, t.delimiter), (Encoding::Windows1252, b';'));
        assert_eq!(t.header(), ["code", "libellé"]);
        assert_eq!(rows[0].fields, ["1071C", "BOULANGERIE PÂTISSERIE"]);
    }

    #[test]
    fn strips_the_bom_and_keeps_quoted_newlines_and_separators() {
        let bytes =
            "\u{feff}code,label\n\"10.71C\",\"Boulangerie, pâtisserie\nsur deux lignes\"\n4722Z,Boucherie\n".as_bytes();
        let (t, rows) = read(bytes);
        assert_eq!((t.encoding, t.delimiter), (Encoding::Utf8Bom, b','));
        assert_eq!(t.header(), ["code", "label"]);
        assert_eq!(rows[0].fields[1], "Boulangerie, pâtisserie\nsur deux lignes");
        assert_eq!((rows[0].line, rows[1].line), (2, 4));
    }

    #[test]
    fn tabs_and_rows_that_do_not_fit_are_kept() {
        let (t, rows) = read(b"a\tb\n1\t2\n3\n4\t5\t6\n");
        assert_eq!(t.delimiter, b'\t');
        assert_eq!(rows.len(), 3);
        assert!(rows[0].problem.is_none());
        assert_eq!(rows[1].problem.as_deref(), Some("line 3: 1 fields where the header has 2"));
        assert!(rows[2].problem.as_deref().unwrap().contains("3 fields"));
    }

    #[test]
    fn stray_invalid_bytes_in_utf8_are_flagged() {
        let mut bytes = b"code,label\n".to_vec();
        bytes.extend_from_slice("x,".as_bytes());
        bytes.extend(std::iter::repeat_n(b'a', SNIFF));
        bytes.extend_from_slice(b"\xff\n");
        let (t, rows) = read(&bytes);
        assert_eq!(t.encoding, Encoding::Utf8);
        assert!(rows[0].problem.as_deref().unwrap().contains("invalid UTF-8"));
    }

    #[test]
    fn leading_comment_lines_are_skipped() {
        let (t, rows) = read(b"# provenance, with commas\n# more\ncode;label\nA;b\n");
        assert_eq!((t.delimiter, t.header()), (b';', &["code".to_string(), "label".to_string()][..]));
        assert_eq!((rows[0].line, rows[0].fields.clone()), (4, vec!["A".to_string(), "b".to_string()]));
    }

    #[test]
    fn delimiter_inside_quotes_does_not_count() {
        assert_eq!(sniff_delimiter(b"\"a;b;c\",d,e\n"), b',');
        assert_eq!(sniff_delimiter(b"abc\n"), b',');
    }
}
