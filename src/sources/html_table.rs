//! The HTML tables of legal texts (LEGI articles): the text of a cell with
//! its line breaks, and the rows of a table with `rowspan` cells repeated in
//! the rows they span.

use scraper::{ElementRef, Html, Node, Selector};

/// The text of an HTML cell: line breaks at `<br>` and block ends, white
/// space collapsed within lines, empty lines dropped.
pub(crate) fn cell_text(cell: ElementRef) -> String {
    fn walk(node: ego_tree::NodeRef<Node>, out: &mut String) {
        for child in node.children() {
            match child.value() {
                Node::Text(t) => out.push_str(t),
                Node::Element(e) => {
                    let block = matches!(e.name(), "p" | "div" | "li" | "br" | "tr" | "center");
                    if e.name() == "br" {
                        out.push('\n');
                    }
                    walk(child, out);
                    if block {
                        out.push('\n');
                    }
                }
                _ => {}
            }
        }
    }
    let mut raw = String::new();
    walk(*cell, &mut raw);
    raw.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// One row of the HTML table, spans resolved: designation, délai, works.
pub(crate) struct Row {
    /// Designation, délai, works.
    pub cells: [String; 3],
    /// Which cells are carried from a row above (`rowspan`).
    pub carried: [bool; 3],
    /// A cell spanning the whole width (footnotes).
    pub note: Option<String>,
}

/// The rows of the first table of `html`, with `rowspan` cells repeated in
/// the rows they span, and the header row (the one naming the columns).
pub(crate) fn rows_of(html: &str) -> (Vec<Row>, Option<[String; 3]>) {
    let doc = Html::parse_fragment(html);
    let tr = Selector::parse("tr").expect("valid selector");
    let mut carry: [Option<(String, usize)>; 3] = Default::default();
    let mut rows = Vec::new();
    let mut header = None;
    for row in doc.select(&tr) {
        let cells: Vec<(String, usize, usize)> = row
            .children()
            .filter_map(ElementRef::wrap)
            .filter(|c| matches!(c.value().name(), "td" | "th"))
            .map(|c| {
                let span = |a: &str| c.value().attr(a).and_then(|v| v.trim().parse().ok()).unwrap_or(1usize);
                (cell_text(c), span("rowspan"), span("colspan"))
            })
            .collect();
        if cells.len() == 1 && cells[0].2 >= 2 {
            rows.push(Row { cells: Default::default(), carried: [false; 3], note: Some(cells[0].0.clone()) });
            continue;
        }
        let mut out: [String; 3] = Default::default();
        let mut carried = [false; 3];
        let mut given = cells.into_iter();
        for col in 0..3 {
            if let Some((text, left)) = &mut carry[col] {
                out[col] = text.clone();
                carried[col] = true;
                *left -= 1;
                if *left == 0 {
                    carry[col] = None;
                }
                continue;
            }
            if let Some((text, rowspan, _)) = given.next() {
                if rowspan > 1 {
                    carry[col] = Some((text.clone(), rowspan - 1));
                }
                out[col] = text;
            }
        }
        let upper = out[0].to_uppercase();
        if header.is_none() && (upper.contains("DÉSIGNATION") || upper.contains("DESIGNATION")) {
            header = Some(out);
            continue;
        }
        rows.push(Row { cells: out, carried, note: None });
    }
    (rows, header)
}
