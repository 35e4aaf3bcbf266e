//! The set of faults of one kind active on one target: overlapping faults stack and heal in any order, each heal
//! removing only its own fault. One type for every family that stacks (network loss and delays, disk slowness,
//! load rates, clocks), so that no family gets its own copy of the mechanism (and its own bug).

/// The active faults, in the order they started.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Active<T>(Vec<T>);

impl<T> Default for Active<T> {
    fn default() -> Self {
        Active(Vec::new())
    }
}

impl<T: PartialEq> Active<T> {
    /// A fault starts (`on`) or heals: a heal removes one fault equal to `value`, the oldest.
    pub fn set(&mut self, value: T, on: bool) {
        if on {
            self.0.push(value);
        } else if let Some(i) = self.0.iter().position(|v| *v == value) {
            self.0.remove(i);
        }
    }
}

impl<T> Active<T> {
    /// Removes and returns the oldest fault `matches` picks.
    pub fn take(&mut self, matches: impl Fn(&T) -> bool) -> Option<T> {
        let i = self.0.iter().position(matches)?;
        Some(self.0.remove(i))
    }

    pub fn push(&mut self, value: T) {
        self.0.push(value);
    }

    pub fn retain(&mut self, keep: impl FnMut(&T) -> bool) {
        self.0.retain(keep);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.0.iter()
    }

    pub fn clear(&mut self) {
        self.0.clear();
    }
}

impl<T: Copy + Ord + Default> Active<T> {
    /// The strongest active fault (the highest loss, the longest delay), or none's default.
    pub fn max(&self) -> T {
        self.0.iter().copied().max().unwrap_or_default()
    }
}

impl Active<std::time::Duration> {
    /// Every active delay added up (slowness of one disk stacks).
    pub fn sum(&self) -> std::time::Duration {
        self.0.iter().sum()
    }
}
