//! Where time comes from, so that every timer can be tested without
//! waiting. The fake clock is for tests only (feature `test-support`).

use chrono::{DateTime, Utc};

/// Where time comes from, so that every timer can be tested without waiting.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that stands still until a test moves it.
#[cfg(any(test, feature = "test-support"))]
pub struct FakeClock(std::sync::Mutex<DateTime<Utc>>);

#[cfg(any(test, feature = "test-support"))]
impl FakeClock {
    pub fn at(now: DateTime<Utc>) -> Self {
        Self(std::sync::Mutex::new(now))
    }

    pub fn advance(&self, by: chrono::Duration) {
        *self.0.lock().expect("clock lock") += by;
    }
}

#[cfg(any(test, feature = "test-support"))]
impl Clock for FakeClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().expect("clock lock")
    }
}
