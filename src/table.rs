//! Tabular input: the one reader of CSV/TSV and spreadsheet files.
//!
//! * CSV/TSV in UTF-8, UTF-8 with BOM or Windows-1252/Latin-1, decided as
//!   the stream goes ([`Decoder`]): UTF-8 until a field is not valid UTF-8,
//!   Windows-1252 (which gives a character to every byte) from that field
//!   on, so a file whose first accent comes late, or whose UTF-8 part is
//!   followed by a Windows-1252 part, is read right and no byte is lost.
//!   `;`, `,` or tab (detected
//!   on the first line outside quotes, or given), quoted fields with
//!   separators and line breaks inside. Leading lines starting with `#` are
//!   comments only in the project's own files ([`CsvOptions::project_file`]);
//!   in a user's file a `#` starts the header like any other character.
//!   Read as a stream: memory does not grow with the file.
//! * XLSX/XLS/ODS through calamine (first sheet, or a named one).
//!
//! Guarantees: every record of the input comes out once, in order, with the
//! line it starts on; a record that does not fit the header (other field
//! count, undecodable bytes) still comes out, with its problem described.

use std::io::{BufReader, Read};
use std::path::Path;

use anyhow::{Context, Result, bail};

/// How the bytes of a CSV file were decoded, as far as it has been read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// UTF-8 (or plain ASCII so far).
    Utf8,
    /// UTF-8 with a byte-order mark.
    Utf8Bom,
    /// Windows-1252 throughout.
    Windows1252,
    /// UTF-8 with accents first, then Windows-1252.
    Mixed,
    /// A spreadsheet: cells are already text.
    Spreadsheet,
}

impl std::fmt::Display for Encoding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Encoding::Utf8 => "UTF-8",
            Encoding::Utf8Bom => "UTF-8 with BOM",
            Encoding::Windows1252 => "Windows-1252",
            Encoding::Mixed => "UTF-8, then Windows-1252",
            Encoding::Spreadsheet => "spreadsheet",
        })
    }
}

/// How to read a CSV file.
#[derive(Clone, Copy, Debug, Default)]
pub struct CsvOptions {
    /// The field separator; detected when `None`.
    pub delimiter: Option<u8>,
    /// Whether leading lines starting with `#` are comments (the provenance
    /// headers of the project's own files). Off for users' files, whose
    /// header may start with `#`.
    pub comments: bool,
}

impl CsvOptions {
    /// A user's file: separator given or detected, no comment lines.
    pub fn user(delimiter: Option<u8>) -> CsvOptions {
        CsvOptions { delimiter, comments: false }
    }

    /// A file the project writes (curated thesauri, mappings, fixtures):
    /// leading `#` lines are its provenance header.
    pub fn project_file() -> CsvOptions {
        CsvOptions { delimiter: None, comments: true }
    }
}

/// Decodes text of unknown encoding, field after field (or line after
/// line) of one stream: UTF-8 while the bytes are valid UTF-8; from the
/// first field that is not, Windows-1252 for the rest of the stream, since
/// a file has one encoding and that field proved it is not UTF-8 (so bytes
/// such as `C3 A8` later on are `Ã¨`, as the file means them). Windows-1252
/// maps every byte to a character: nothing is replaced or lost. The one
/// case read otherwise is a Windows-1252 field whose every accent forms
/// valid UTF-8 (mojibake such as `Ã¨`) before any other accent of the file.
#[derive(Clone, Copy, Debug, Default)]
pub struct Decoder {
    bom: bool,
    /// Fields with accents read as UTF-8.
    utf8: u64,
    /// The line from which the stream is read as Windows-1252.
    cp1252_from: Option<u64>,
}

impl Decoder {
    /// Decodes one field or line, found on `line` of the input.
    pub fn decode(&mut self, bytes: &[u8], line: u64) -> String {
        let mut out = String::new();
        self.decode_into(bytes, line, &mut out);
        out
    }

    /// [`Decoder::decode`] into `out` (emptied first), reusing its memory.
    pub fn decode_into(&mut self, bytes: &[u8], line: u64, out: &mut String) {
        out.clear();
        if self.cp1252_from.is_none() || bytes.is_ascii() {
            // ASCII is the same in both.
            if let Ok(s) = std::str::from_utf8(bytes) {
                self.utf8 += u64::from(!bytes.is_ascii());
                out.push_str(s);
                return;
            }
            self.cp1252_from = Some(line);
        }
        out.push_str(&encoding_rs::WINDOWS_1252.decode_without_bom_handling(bytes).0);
    }

    /// How the stream was decoded so far.
    pub fn encoding(&self) -> Encoding {
        match (self.utf8 > 0 || self.bom, self.cp1252_from.is_some()) {
            (_, false) if self.bom => Encoding::Utf8Bom,
            (_, false) => Encoding::Utf8,
            (false, true) => Encoding::Windows1252,
            (true, true) => Encoding::Mixed,
        }
    }

    /// [`Self::encoding`] for a report, saying from which line Windows-1252
    /// was read in a stream that started as UTF-8.
    pub fn describe(&self) -> String {
        match self.cp1252_from {
            Some(line) if self.encoding() == Encoding::Mixed => format!("{} from line {line}", self.encoding()),
            _ => self.encoding().to_string(),
        }
    }
}

/// One record.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Row {
    /// Line of the file where the record starts (1 = header line).
    pub line: u64,
    /// The fields of the record.
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
    /// The field separator (`b','` for spreadsheets).
    pub delimiter: u8,
    source: Source,
    decoder: Option<Decoder>,
}

/// How much of the start is read to find the separator and comment lines.
const SNIFF: usize = 64 * 1024;

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

fn cell_text(cell: &calamine::Data) -> String {
    match cell {
        calamine::Data::Empty => String::new(),
        // Integers stored as floats (`1071.0`) are written as integers.
        calamine::Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        other => other.to_string(),
    }
}

/// Parses a separator given by a user: one ASCII character, or `tab`.
pub fn parse_delimiter(text: &str) -> Result<u8> {
    match text {
        "tab" | "\\t" | "\t" => Ok(b'\t'),
        "\"" | "\n" | "\r" => bail!("the separator cannot be a quote or a line break, got {text:?}"),
        d if d.len() == 1 => Ok(d.as_bytes()[0]),
        d => bail!("the separator must be one ASCII character (such as ; , | or :) or 'tab', got {d:?}"),
    }
}

impl TableReader {
    /// Opens a file: a spreadsheet by its extension (`xlsx`, `xlsm`, `xls`,
    /// `ods`), else CSV/TSV.
    pub fn open(path: &Path, options: CsvOptions) -> Result<TableReader> {
        let ext = path.extension().map(|e| e.to_string_lossy().to_lowercase()).unwrap_or_default();
        if matches!(ext.as_str(), "xlsx" | "xlsm" | "xls" | "xlsb" | "ods") {
            return TableReader::open_sheet(path, None);
        }
        let file = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        TableReader::from_reader(BufReader::with_capacity(256 * 1024, file), options)
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
        Ok(TableReader { header, delimiter: b',', source: Source::Sheet(rows.into_iter()), decoder: None })
    }

    /// Reads CSV from any reader; the first record is the header.
    pub fn from_reader(reader: impl Read + Send + 'static, options: CsvOptions) -> Result<TableReader> {
        let mut reader = reader;
        let mut sample = Vec::with_capacity(SNIFF);
        reader.by_ref().take(SNIFF as u64).read_to_end(&mut sample).context("cannot read the input")?;
        let mut decoder = Decoder::default();
        if sample.starts_with(&[0xEF, 0xBB, 0xBF]) {
            decoder.bom = true;
            sample.drain(..3);
        }
        let mut comments = 0;
        while options.comments && sample.first() == Some(&b'#') {
            comments += 1;
            match sample.iter().position(|&b| b == b'\n') {
                Some(end) => drop(sample.drain(..=end)),
                None => sample.clear(),
            }
        }
        let delimiter = options.delimiter.unwrap_or_else(|| sniff_delimiter(&sample));
        let stream: Box<dyn Read + Send> = Box::new(std::io::Cursor::new(sample).chain(reader));
        let mut csv =
            csv::ReaderBuilder::new().has_headers(false).flexible(true).delimiter(delimiter).from_reader(stream);
        let mut record = csv::ByteRecord::new();
        if !csv.read_byte_record(&mut record).context("cannot read the header line")? {
            bail!("the input is empty: its first line must name the columns");
        }
        let header = record.iter().map(|f| decoder.decode(f, 1 + comments).trim().to_string()).collect();
        Ok(TableReader {
            header,
            delimiter,
            source: Source::Csv { reader: csv, record, comments },
            decoder: Some(decoder),
        })
    }

    /// How the bytes read so far were decoded.
    pub fn encoding(&self) -> Encoding {
        self.decoder.map(|d| d.encoding()).unwrap_or(Encoding::Spreadsheet)
    }

    /// The encoding for a report ([`Decoder::describe`]).
    pub fn describe_encoding(&self) -> String {
        self.decoder.map(|d| d.describe()).unwrap_or_else(|| Encoding::Spreadsheet.to_string())
    }

    /// The column names.
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
        let mut row = Row::default();
        Some(self.read_row(&mut row)?.map(|()| row))
    }

    /// [`TableReader::next_row`] into `row`, reusing the memory of its
    /// fields: `None` at the end (`row` is then left as it was).
    pub fn read_row(&mut self, row: &mut Row) -> Option<Result<()>> {
        let width = self.header.len();
        match &mut self.source {
            Source::Sheet(rows) => *row = rows.next()?,
            Source::Csv { reader, record, comments } => match reader.read_byte_record(record) {
                Ok(false) => return None,
                Ok(true) => {
                    let line = record.position().map(|p| p.line()).unwrap_or(0) + *comments;
                    let decoder = self.decoder.get_or_insert_default();
                    row.fields.resize_with(record.len(), String::new);
                    for (field, bytes) in row.fields.iter_mut().zip(record.iter()) {
                        decoder.decode_into(bytes, line, field);
                    }
                    row.line = line;
                    row.problem = None;
                }
                Err(e) => {
                    let line = e.position().map(|p| p.line()).unwrap_or(0) + *comments;
                    return Some(Err(anyhow::anyhow!("line {line}: {e}")));
                }
            },
        }
        if row.fields.len() != width {
            row.problem = Some(format!("line {}: {} fields where the header has {width}", row.line, row.fields.len()));
        }
        Some(Ok(()))
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
        let mut t = TableReader::from_reader(std::io::Cursor::new(bytes.to_vec()), CsvOptions::project_file()).unwrap();
        let rows = t.by_ref().map(Result::unwrap).collect();
        (t, rows)
    }

    #[test]
    fn detects_windows_1252_and_semicolons() {
        let bytes = b"code;libell\xe9\n1071C;BOULANGERIE P\xc2TISSERIE\n";
        let (t, rows) = read(bytes);
        assert_eq!((t.encoding(), t.delimiter), (Encoding::Windows1252, b';'));
        assert_eq!(t.header(), ["code", "libellé"]);
        assert_eq!(rows[0].fields, ["1071C", "BOULANGERIE PÂTISSERIE"]);
    }

    #[test]
    fn strips_the_bom_and_keeps_quoted_newlines_and_separators() {
        let bytes =
            "\u{feff}code,label\n\"10.71C\",\"Boulangerie, pâtisserie\nsur deux lignes\"\n4722Z,Boucherie\n".as_bytes();
        let (t, rows) = read(bytes);
        assert_eq!((t.encoding(), t.delimiter), (Encoding::Utf8Bom, b','));
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
    fn a_late_windows_1252_accent_is_read_right_and_nothing_else_changes() {
        let mut bytes = "code;label\n1071C;Boulangerie pâtisserie\n".as_bytes().to_vec();
        for i in 0..5000 {
            bytes.extend_from_slice(format!("{i};BOULANGERIE {i}\n").as_bytes());
        }
        bytes.extend_from_slice(b"4722Z;BOUCHERIE \xc9L\xc9GANTE\n");
        // After the switch, bytes that would be UTF-8 are what Windows-1252 says.
        bytes.extend_from_slice(b"5610A;CR\xcaPERIE \xc3\xa8\n");
        assert!(bytes.len() > SNIFF);
        let (t, rows) = read(&bytes);
        assert_eq!(rows.len(), 5003);
        assert_eq!(rows[0].fields, ["1071C", "Boulangerie pâtisserie"]);
        assert_eq!(rows[5001].fields, ["4722Z", "BOUCHERIE ÉLÉGANTE"]);
        assert_eq!(rows[5002].fields, ["5610A", "CRÊPERIE Ã¨"]);
        assert!(rows.iter().all(|r| r.problem.is_none()));
        assert_eq!(t.encoding(), Encoding::Mixed);
        assert_eq!(t.describe_encoding(), "UTF-8, then Windows-1252 from line 5003");
    }

    #[test]
    fn every_byte_survives_windows_1252_decoding() {
        let all: Vec<u8> = (0x80..=0xFFu8).collect();
        let mut decoder = Decoder::default();
        let text = decoder.decode(&all, 1);
        assert_eq!(text.chars().count(), all.len());
        assert!(!text.contains('\u{FFFD}'));
        let (back, _, lossy) = encoding_rs::WINDOWS_1252.encode(&text);
        assert!(!lossy);
        assert_eq!(&back[..], &all[..]);
    }

    #[test]
    fn a_users_header_may_start_with_a_hash() {
        let mut t =
            TableReader::from_reader(std::io::Cursor::new(b"#id;code\n1;1071C\n".to_vec()), CsvOptions::user(None))
                .unwrap();
        assert_eq!(t.header(), ["#id", "code"]);
        assert_eq!(t.column("#id").unwrap(), 0);
        assert_eq!(t.next_row().unwrap().unwrap().fields, ["1", "1071C"]);
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

    #[test]
    fn a_users_separator_is_one_ascii_character_that_cannot_break_the_csv() {
        for (text, sep) in [(";", b';'), ("|", b'|'), ("tab", b'\t'), ("\\t", b'\t')] {
            assert_eq!(parse_delimiter(text).unwrap(), sep, "{text:?}");
        }
        for text in ["é", "", ";;", "\"", "\n", "\r"] {
            let e = parse_delimiter(text).unwrap_err().to_string();
            assert!(e.contains(&format!("{text:?}")), "{text:?}: {e}");
        }
    }
}
