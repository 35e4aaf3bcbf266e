use crate::catalog;

pub fn list(flaws: bool, marks: bool) -> u8 {
    let dir = catalog::scenarios_dir();
    if !dir.is_dir() {
        return super::bad_input(format!(
            "the scenarios folder {} does not exist (SIM_SCENARIOS_DIR or the checkout's scenarios/); point \
             SIM_SCENARIOS_DIR at a folder of scenario files",
            dir.display()
        ));
    }
    let found = catalog::list(&dir);
    if found.is_empty() {
        return super::bad_input(format!("the scenarios folder {} holds no scenario (*.toml)", dir.display()));
    }
    let mut bad = false;
    for path in found {
        let name = path.strip_prefix(&dir).unwrap_or(&path).with_extension("");
        match crate::scenario::load_file(&path) {
            Ok(s) => crate::outln!("{:<40} {}", name.display(), s.description.trim()),
            Err(e) => {
                bad = true;
                crate::errln!("error: {e}");
            }
        }
    }
    if flaws {
        crate::outln!("\nflaws (system.flaws = [...]):");
        for flaw in system::flaws::Flaw::ALL {
            crate::outln!("  {:<38} {}", flaw.name(), flaw.description());
        }
    }
    if marks {
        crate::outln!("\ncoverage marks ([coverage] requires = [...]):");
        for (mark, meaning) in crate::marks::all() {
            crate::outln!("  {mark:<38} {meaning}");
        }
    }
    if bad {
        2
    } else {
        0
    }
}
