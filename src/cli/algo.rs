//! `pessimist algo list | show`: every algorithm's keys, from the tables
//! `Config::read` reads through.

use super::AlgoCommand;
use pessimist::algo;
use serde_json::json;

pub fn run(cmd: AlgoCommand) -> anyhow::Result<()> {
    match cmd {
        AlgoCommand::List => {
            for name in algo::names() {
                let keys: Vec<&str> = algo::keys(name)?.iter().map(|k| k.name).collect();
                let keys = if keys.is_empty() {
                    "(no keys)".to_string()
                } else {
                    keys.join(", ")
                };
                println!("{name:<12} {keys}");
            }
        }
        AlgoCommand::Show { name, json } => {
            let keys = algo::keys(&name)?;
            if json {
                println!("{}", json!({ "name": name, "keys": keys }));
            } else if keys.is_empty() {
                println!("{name} takes no hyper-parameters");
            } else {
                show(keys);
            }
        }
    }
    Ok(())
}

/// The keys as aligned columns, the meaning last and unbounded.
fn show(keys: &[algo::Key]) {
    let header = ["key", "default", "range", "unit", "meaning"].map(String::from);
    let rows: Vec<[String; 5]> = std::iter::once(header)
        .chain(keys.iter().map(|k| {
            [
                k.name.to_string(),
                k.default_text(),
                k.range(),
                k.unit.to_string(),
                k.description(),
            ]
        }))
        .collect();
    let width = |i: usize| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0);
    let widths = [width(0), width(1), width(2), width(3)];
    for row in &rows {
        let mut line = String::new();
        for (cell, w) in row.iter().zip(widths) {
            line.push_str(&format!("{cell:<w$}  "));
        }
        line.push_str(&row[4]);
        println!("{line}");
    }
}
