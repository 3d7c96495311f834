//! Writing a Google Contacts CSV: the columns Google's own export has, so
//! Google Contacts (and most other address books) import it as is.

use serde_json::Value as Json;

use super::Record;
use crate::model::Kind;

/// Members of a set field, with labels, in order.
fn labelled(r: &Record, field: &str) -> Vec<(String, String)> {
    r.entity
        .set_values(field)
        .into_iter()
        .map(|l| (l.label, l.value))
        .collect()
}

/// Writes every record; numbered columns (E-mail 1, E-mail 2…) go as far
/// as the record with the most of them needs.
pub fn write_all(records: &[Record], out: &mut dyn std::io::Write) -> Result<(), ::csv::Error> {
    let count = |field: &str| {
        records
            .iter()
            .map(|r| labelled(r, field).len())
            .max()
            .unwrap_or(0)
            .max(1)
    };
    let (emails, phones, addresses, urls) = (
        count("emails"),
        count("phones"),
        count("addresses"),
        count("urls"),
    );
    let mut header: Vec<String> = [
        "First Name",
        "Middle Name",
        "Last Name",
        "Name Prefix",
        "Name Suffix",
        "Nickname",
        "File As",
        "Organization Name",
        "Organization Title",
        "Organization Department",
        "Birthday",
        "Notes",
        "Labels",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for (what, n, value) in [
        ("E-mail", emails, "Value"),
        ("Phone", phones, "Value"),
        ("Address", addresses, "Formatted"),
        ("Website", urls, "Value"),
    ] {
        for i in 1..=n {
            header.push(format!("{what} {i} - Label"));
            header.push(format!("{what} {i} - {value}"));
        }
    }
    let mut w = ::csv::Writer::from_writer(out);
    w.write_record(&header)?;
    for r in records {
        let e = &r.entity;
        let parts: Vec<String> = match e.get("name_parts") {
            Some(Json::Array(p)) => p
                .iter()
                .map(|v| v.as_str().unwrap_or("").to_string())
                .collect(),
            _ => {
                let sort = e.str("sort_name").unwrap_or(r.name());
                match sort.split_once(", ") {
                    Some((family, given)) => vec![family.into(), given.into()],
                    None => vec![String::new(), r.name().into()],
                }
            }
        };
        // A company's row has only the organisation, as Google writes it.
        let parts = if e.kind == Kind::Company {
            Vec::new()
        } else {
            parts
        };
        let part = |i: usize| parts.get(i).cloned().unwrap_or_default();
        let company = if e.kind == Kind::Company {
            r.name().to_string()
        } else {
            r.company.clone().unwrap_or_default()
        };
        let mut notes = r.notes.clone();
        notes.extend(r.facts.iter().map(|(f, _)| f.clone()));
        let tags: Vec<String> = e.set_values("tags").into_iter().map(|t| t.value).collect();
        let mut row = vec![
            part(1),
            part(2),
            part(0),
            part(3),
            part(4),
            e.str("nickname").unwrap_or("").into(),
            if e.kind == Kind::Company {
                String::new()
            } else {
                r.name().into()
            },
            company,
            e.str("title").unwrap_or("").into(),
            e.str("department").unwrap_or("").into(),
            e.str("birthday").unwrap_or("").into(),
            notes.join("\n\n"),
            tags.join(" ::: "),
        ];
        for (field, n) in [
            ("emails", emails),
            ("phones", phones),
            ("addresses", addresses),
            ("urls", urls),
        ] {
            let values = labelled(r, field);
            for i in 0..n {
                let (label, value) = values.get(i).cloned().unwrap_or_default();
                row.push(label);
                row.push(value);
            }
        }
        w.write_record(&row)?;
    }
    w.flush()?;
    Ok(())
}
