//! The concepts of a snapshot on disk: `concepts/SSS-KKKK.bin`, a compact
//! binary form written at build and read back when a snapshot is opened
//! (reading it is several times faster than parsing the same concepts as
//! JSON, which was most of the time a one-shot command took).
//!
//! A file is a count then, per concept, its fields in declaration order:
//! strings as a LEB128 length and UTF-8 bytes, optional fields behind a
//! `0`/`1` byte, lists behind their LEB128 length, enums as their index in
//! their `ALL` array. Guarantees: [`decode`] gives back exactly what
//! [`encode`] was given, and refuses (with `None`, never a panic) bytes
//! that are truncated, have trailing bytes, invalid UTF-8 or an enum or
//! flag out of range. The snapshot's checksums catch damage first; this is
//! the second line.

use crate::model::{Concept, Designation, DesignationKind, Property, PropertyKind, Status};

/// The bytes of `concepts`.
pub(super) fn encode(concepts: &[Concept]) -> Vec<u8> {
    let mut out = Vec::new();
    let w = &mut out;
    len(w, concepts.len());
    for c in concepts {
        string(w, &c.code);
        string(w, &c.display);
        w.push(c.level);
        option(w, c.parent.as_deref());
        len(w, c.designations.len());
        for d in &c.designations {
            w.push(d.kind as u8);
            string(w, &d.value);
        }
        w.push(c.status as u8);
        len(w, c.replaced_by.len());
        for r in &c.replaced_by {
            string(w, r);
        }
        option(w, c.definition.as_deref());
        len(w, c.properties.len());
        for p in &c.properties {
            w.push(p.kind as u8);
            string(w, &p.value);
        }
    }
    out
}

/// The concepts [`encode`] wrote, or `None` when `bytes` are not such.
pub(super) fn decode(bytes: &[u8]) -> Option<Vec<Concept>> {
    let mut r = Reader { bytes, at: 0 };
    let n = r.len()?;
    // Each concept takes at least 9 bytes: no count can ask for more room
    // than the file could fill.
    let mut out = Vec::with_capacity(n.min(bytes.len() / 9));
    for _ in 0..n {
        let code = r.string()?;
        let display = r.string()?;
        let level = r.byte()?;
        let parent = r.option()?;
        let designations = (0..r.len()?)
            .map(|_| Some(Designation { kind: *DesignationKind::ALL.get(r.byte()? as usize)?, value: r.string()? }))
            .collect::<Option<Vec<_>>>()?;
        let status = *Status::ALL.get(r.byte()? as usize)?;
        let replaced_by = (0..r.len()?).map(|_| r.string()).collect::<Option<Vec<_>>>()?;
        let definition = r.option()?;
        let properties = (0..r.len()?)
            .map(|_| Some(Property { kind: *PropertyKind::ALL.get(r.byte()? as usize)?, value: r.string()? }))
            .collect::<Option<Vec<_>>>()?;
        out.push(Concept { code, display, level, parent, designations, status, replaced_by, definition, properties });
    }
    (r.at == bytes.len()).then_some(out)
}

fn len(w: &mut Vec<u8>, mut n: usize) {
    loop {
        let low = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            w.push(low);
            return;
        }
        w.push(low | 0x80);
    }
}

fn string(w: &mut Vec<u8>, s: &str) {
    len(w, s.len());
    w.extend_from_slice(s.as_bytes());
}

fn option(w: &mut Vec<u8>, s: Option<&str>) {
    match s {
        None => w.push(0),
        Some(s) => {
            w.push(1);
            string(w, s);
        }
    }
}

/// A cursor over the bytes of a file; every read checks the bounds.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn byte(&mut self) -> Option<u8> {
        let b = *self.bytes.get(self.at)?;
        self.at += 1;
        Some(b)
    }

    /// A LEB128 length; `None` past 63 bits or past the end.
    fn len(&mut self) -> Option<usize> {
        let mut n: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            n |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return usize::try_from(n).ok();
            }
        }
        None
    }

    fn string(&mut self) -> Option<String> {
        let n = self.len()?;
        let end = self.at.checked_add(n)?;
        let s = std::str::from_utf8(self.bytes.get(self.at..end)?).ok()?;
        self.at = end;
        Some(s.to_owned())
    }

    fn option(&mut self) -> Option<Option<String>> {
        match self.byte()? {
            0 => Some(None),
            1 => self.string().map(Some),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn concepts() -> Vec<Concept> {
        let full = Concept {
            code: "C41.2".into(),
            display: "Tumeur maligne du rachis, côté « gauche »".into(),
            level: 4,
            parent: Some("C41".into()),
            designations: DesignationKind::ALL
                .iter()
                .enumerate()
                .map(|(i, &kind)| Designation { kind, value: "é".repeat(i * 40) })
                .collect(),
            status: Status::Retired,
            replaced_by: vec!["C41.20".into(), String::new()],
            definition: Some("x".repeat(300)),
            properties: PropertyKind::ALL
                .iter()
                .map(|&kind| Property { kind, value: format!("{} 30 jours", kind.as_str()) })
                .collect(),
        };
        let bare = Concept {
            code: String::new(),
            display: String::new(),
            level: 255,
            parent: None,
            designations: Vec::new(),
            status: Status::Active,
            replaced_by: Vec::new(),
            definition: None,
            properties: Vec::new(),
        };
        vec![full, bare.clone(), Concept { code: "01".into(), ..bare }]
    }

    #[test]
    fn enum_indexes_are_their_place_in_all() {
        assert!(DesignationKind::ALL.iter().enumerate().all(|(i, &k)| k as usize == i));
        assert!(PropertyKind::ALL.iter().enumerate().all(|(i, &k)| k as usize == i));
        assert!(Status::ALL.iter().enumerate().all(|(i, &k)| k as usize == i));
    }

    #[test]
    fn concepts_read_back_as_written() {
        let cs = concepts();
        assert_eq!(decode(&encode(&cs)).unwrap(), cs);
        assert_eq!(decode(&encode(&[])).unwrap(), Vec::<Concept>::new());
    }

    #[test]
    fn damaged_bytes_are_refused_without_panic() {
        let bytes = encode(&concepts());
        for cut in 0..bytes.len() {
            assert!(decode(&bytes[..cut]).is_none(), "a file cut at {cut} bytes");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode(&longer).is_none(), "a trailing byte");
        // Every single byte changed to every value: refused or decoded, never a panic.
        for at in 0..bytes.len() {
            for v in [0u8, 1, 2, 0x7f, 0x80, 0xc3, 0xff] {
                let mut b = bytes.clone();
                b[at] = v;
                let _ = decode(&b);
            }
        }
        assert!(decode(&[0xff; 12]).is_none(), "a length over 63 bits");
        assert!(decode(&[0xff, 0xff, 0xff, 0xff, 0x0f]).is_none(), "a count no file could hold");
        let mut bad_utf8 = encode(&concepts()[2..]);
        let at = bad_utf8.iter().position(|&b| b == b'0').unwrap();
        bad_utf8[at] = 0xff;
        assert!(decode(&bad_utf8).is_none(), "invalid UTF-8");
    }
}
