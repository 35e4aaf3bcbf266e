//! The README's sample outputs are the program's: each block after a `<!-- sample: ... -->` marker is compared with
//! what the harness prints for that sample now (wall-clock figures aside, which no two runs share). After an
//! intended change, `SIM_UPDATE_README=1 cargo test -p tests --test harness readme` writes the new samples.

use std::path::Path;

/// Lines of a sample longer than this are cut with `…`: a README is read on a screen.
const WIDTH: usize = 118;

fn cut(line: &str) -> String {
    if line.contains("simulated in ") {
        // The line with the wall-clock figures is shown whole, so that they can be masked.
        return line.to_string();
    }
    match line.char_indices().nth(WIDTH) {
        Some((at, _)) => format!("{}…", &line[..at]),
        None => line.to_string(),
    }
}

/// The text a sample shows now.
fn sample(kind: &str, arg: &str, seed: Option<u64>) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    match kind {
        "summary" => sim::report::summary(&tests::run(arg, seed.unwrap()).outcome),
        "violations" => {
            let outcome = tests::run(arg, seed.unwrap()).outcome;
            let summary = sim::report::summary(&outcome);
            let lines: Vec<&str> = summary.lines().collect();
            let from = lines.iter().position(|l| l.starts_with("  violations (")).expect("a failing sample");
            let repro = lines.iter().find(|l| l.starts_with("  reproduce:")).expect("a repro line");
            format!("{}\n{}\n    ...\n{repro}\n", lines[from], lines[from + 1])
        }
        "chain" => {
            let path = root.join(arg);
            let file = sim::seedfile::load(&path).unwrap();
            let result = sim::world::run_seed(&file.to_loaded(&path), file.seed.seed);
            let chain = sim::explain::explain(&result.trace, &result.outcome.violations[0]).expect("a chain");
            let text = chain.to_string();
            let lines: Vec<&str> = text.lines().collect();
            let wrong = lines.iter().position(|l| l.starts_with("  >> ")).expect("a marked step");
            let mut shown = vec![lines[0]];
            if wrong > 1 {
                shown.push("    ...");
            }
            shown.extend(&lines[wrong..(wrong + 2).min(lines.len())]);
            shown.join("\n") + "\n"
        }
        other => panic!("unknown sample kind {other}"),
    }
}

/// A sample's text with its long lines cut and the wall-clock figures (`0.329s wall (95x)`) masked.
fn shown(text: &str) -> String {
    text.lines().map(cut).collect::<Vec<_>>().join("\n") + "\n"
}

fn masked(text: &str) -> String {
    text.lines()
        .map(|line| match (line.find("simulated in "), line.find("x) ·")) {
            (Some(a), Some(b)) if a < b => format!("{}simulated in <wall>{}", &line[..a], &line[b + 2..]),
            _ => line.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_readmes_sample_outputs_are_the_programs() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    let readme = std::fs::read_to_string(&path).unwrap();
    let update = std::env::var_os("SIM_UPDATE_README").is_some();
    let mut out = String::new();
    let mut rest = readme.as_str();
    let mut samples = 0;
    while let Some(at) = rest.find("<!-- sample: ") {
        let (before, marker_on) = rest.split_at(at);
        out.push_str(before);
        let marker_end = marker_on.find(" -->").unwrap() + 4;
        let marker = &marker_on[..marker_end];
        let words: Vec<&str> = marker.trim_start_matches("<!-- sample: ").trim_end_matches(" -->").split(' ').collect();
        let block_start = marker_on[marker_end..].find("```\n").unwrap() + marker_end + 4;
        let block_end = marker_on[block_start..].find("```\n").unwrap() + block_start;
        let old = &marker_on[block_start..block_end];
        let new = shown(&sample(words[0], words[1], words.get(2).map(|s| s.parse().unwrap())));
        if !update {
            assert_eq!(masked(old), masked(&new), "README sample `{marker}` drifted; SIM_UPDATE_README=1 rewrites it");
        }
        out.push_str(&marker_on[..block_start]);
        out.push_str(&new);
        rest = &marker_on[block_end..];
        samples += 1;
    }
    out.push_str(rest);
    assert!(samples >= 3, "the README's samples are marked: {samples}");
    if update && out != readme {
        std::fs::write(&path, out).unwrap();
    }
}
