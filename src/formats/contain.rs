//! Third-party decoders that may panic on damaged input, contained: [`contained`] runs one decoding step
//! and turns a panic into an `Err`, without the panic's message on stderr (the caller reports the damage
//! in its own words). Other panics, anywhere else, still go to the hook that was installed before.

use std::cell::Cell;
use std::panic::{AssertUnwindSafe, PanicHookInfo};
use std::sync::Once;

thread_local! {
    /// How many [`contained`] calls this thread is inside.
    static DEPTH: Cell<u32> = const { Cell::new(0) };
}

static QUIET_HOOK: Once = Once::new();

/// Runs `f`; a panic inside it is `Err(())`, silently. The first call installs a panic hook that stays
/// quiet on a thread inside `contained` and hands every other panic to the hook before it.
pub(crate) fn contained<T>(f: impl FnOnce() -> T) -> Result<T, ()> {
    QUIET_HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info: &PanicHookInfo<'_>| {
            if DEPTH.with(Cell::get) == 0 {
                previous(info);
            }
        }));
    });
    DEPTH.with(|d| d.set(d.get() + 1));
    let result = std::panic::catch_unwind(AssertUnwindSafe(f));
    DEPTH.with(|d| d.set(d.get() - 1));
    result.map_err(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_inside_is_an_error_and_the_depth_comes_back() {
        assert_eq!(contained(|| 7), Ok(7));
        let r: Result<(), ()> = contained(|| {
            let v: Vec<u8> = Vec::new();
            let i = v.len() + 3;
            let _ = v[i];
        });
        assert_eq!(r, Err(()));
        assert_eq!(DEPTH.with(Cell::get), 0);
        // Nested: the outer one still catches after the inner one caught.
        let outer = contained(|| {
            let inner: Result<(), ()> = contained(|| panic!("inner"));
            assert!(inner.is_err());
            panic!("outer");
        });
        assert_eq!(outer, Err(()));
        assert_eq!(DEPTH.with(Cell::get), 0);
    }
}
