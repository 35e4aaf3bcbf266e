//! The rules file of the real variant's network faults (`system::real::links`).

use std::net::IpAddr;
use std::time::Duration;
use system::net::{Fate, LinkShaper};
use system::real::links::{fate, parse, Action, FileLinks, Rule};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn rules_parse_and_a_bad_line_is_named() {
    let rules = parse("# a comment\n127.0.1.1 * drop 100\n* 127.0.1.2 delay 250 # slow\n\n").unwrap();
    assert_eq!(
        rules,
        vec![
            Rule { from: Some(ip("127.0.1.1")), to: None, action: Action::Drop(100) },
            Rule { from: None, to: Some(ip("127.0.1.2")), action: Action::Delay(Duration::from_millis(250)) },
        ]
    );
    assert_eq!(parse(&rules.iter().map(|r| format!("{r}\n")).collect::<String>()).unwrap(), rules);
    let e = parse("* * drop 100\n* * lose 5\n").unwrap_err();
    assert!(e.starts_with("line 2: `* * lose 5`"), "{e}");
    assert!(parse("* * drop 101").unwrap_err().contains("at most 100"));
    assert!(parse("localhost * drop 1").unwrap_err().contains("not an IP address"));
}

#[test]
fn a_message_meets_every_rule_that_matches_it() {
    let rules = parse("127.0.1.1 127.0.1.2 drop 50\n* 127.0.1.2 delay 100\n127.0.1.1 * delay 20\n").unwrap();
    let (a, b, c) = (ip("127.0.1.1"), ip("127.0.1.2"), ip("127.0.1.3"));
    // The drop rule's draw decides; below its percentage the message is lost.
    assert_eq!(fate(&rules, a, b, || 49), Fate::Drop);
    assert_eq!(fate(&rules, a, b, || 50), Fate::Deliver(Duration::from_millis(120)));
    // Other links meet only the rules that name them.
    assert_eq!(fate(&rules, c, b, || 0), Fate::Deliver(Duration::from_millis(100)));
    assert_eq!(fate(&rules, b, a, || 0), Fate::Deliver(Duration::ZERO));
}

#[test]
fn the_shaper_follows_its_file_as_it_changes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("links");
    let links = FileLinks::new(&path);
    let (a, b) = (ip("127.0.1.1"), ip("127.0.1.2"));
    assert_eq!(links.shape(a, b), Fate::Deliver(Duration::ZERO), "no file: no rules");
    std::fs::write(&path, "* * delay 30\n").unwrap();
    std::thread::sleep(Duration::from_millis(60));
    assert_eq!(links.shape(a, b), Fate::Deliver(Duration::from_millis(30)));
    // A file that does not parse keeps the last good rules.
    std::fs::write(&path, "* * delay soon\n").unwrap();
    std::thread::sleep(Duration::from_millis(60));
    assert_eq!(links.shape(a, b), Fate::Deliver(Duration::from_millis(30)));
    std::fs::remove_file(&path).unwrap();
    std::thread::sleep(Duration::from_millis(60));
    assert_eq!(links.shape(a, b), Fate::Deliver(Duration::ZERO), "a removed file: no rules");
}
